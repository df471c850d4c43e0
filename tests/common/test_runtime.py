"""common.runtime: the progress lines."""

from common import runtime


def test_quiet_start_progress_prints_only_loops_that_last(capsys, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(runtime.time, "perf_counter", lambda: clock[0])
    short = runtime.Progress(10, "users", interval=10.0, prefix="short", quiet_start=True)
    short.update(5)
    short.update(10, force=True)
    assert capsys.readouterr().err == ""
    long = runtime.Progress(10, "users", interval=10.0, prefix="long", quiet_start=True)
    clock[0] += 20.0
    long.update(4)
    clock[0] += 1.0
    long.update(10, force=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "long | 4/10 users (40%) | 0.2 users/s, ETA 0:30",
        "long | 10/10 users (100%) | 0.5 users/s, ETA 0:00",
    ]
    loud = runtime.Progress(3, "steps", interval=10.0)
    loud.update(1)
    assert capsys.readouterr().err.startswith("1/3 steps")
