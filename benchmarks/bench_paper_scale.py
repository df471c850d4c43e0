r"""The whole system at the paper's dataset sizes: every stage, as a user runs it.

    make bench-scale                      # Amazon Fashion at full size
    python benchmarks/bench_paper_scale.py --dataset_size=amazon_fashion \
        --scale=0.05 --workdir=/tmp/paper_scale [--stages=write,convert,load]

First writes an authors'-format file (`data.authors_writer`: the `.npy`
header and Python 2 pickle of the authors' `AmazonFashion6ImgPartitioned.
npy`, ...) with the users, items and interactions of Table II
(`--dataset_size`) times `--scale`: 224x224 JPEGs of ~10 KB, Zipf-like item
popularity, >= 5 interactions per user with one validation and one test
item, one-hot categories (Amazon Fashion's largest holds ~40,000 items at
full size). Encoding 234,892 distinct JPEGs with PIL would take most of an
hour, so items reuse a pool of --pool_images distinct JPEGs (each item's
bytes still differ: a JPEG comment names the item).

Then runs each stage as its own process, the project's binary with the
flags a user would give (the training and GAN stages bounded by step
counts, everything else whole), and prints one JSON line per stage:
wall time, peak resident memory of the stage's process (`os.wait4`'s
rusage), its rate, and the figures its binary reported. A failing stage
prints its line with `error` (the tail of its stderr) and the run goes on.
Stages (in order; `--stages` picks a subset, later stages need the files
of earlier ones):

  write        the authors' file (this script, in a child process)
  convert      `data.describe --noauc` on a fresh --data_dir: .npy -> TFDS records
  load         the same again: loading from the records
  describe     `data.describe`: load + popularity AUC over all users x items
  pipeline     the training input pipeline alone at the paper preset (this
               script, in a child process), with the matmul roofline
  train_step   `benchmarks/bench_dvbpr_train_step.py`: the step alone vs matmul
  train_paper  `dvbpr_tf.train --preset=paper`, --train_steps steps, one
               epoch (with its validation pass), test pass and export; names
               the slower of the input pipeline and the step
  train_small  the same at the small preset (its export feeds eval_small)
  eval_small, eval_paper  `eval.recommender` on each export: the catalogue
               embedding pass and the full AUC over all users x all items
  features     4096-d features of every item in McAuley's `.b` format
  bprmf, visrank, vbpr  `dvbpr_tf.train --model=...` (--baseline_epochs)
  gan64, gan128  `gan_tf.train` at 64 and 128 px, --gan_steps steps; one
               epoch's time extrapolated from the measured rate
  design       `design.generate`: one query and delta retrieval in the
               largest category
  table3       `eval.table3` with BPR-MF, VisRank, VBPR (--baseline_epochs)
               and the trained DVBPR
  table4       `eval.table4` with --table4_trials trials

Every line and the run's config go to WORKDIR/results.jsonl and
WORKDIR/config.json; each stage's stdout/stderr to WORKDIR/logs/.

One file on purpose (~800 lines): it is a script, run as
`python benchmarks/bench_paper_scale.py` and re-run by path for its child
stages, and like every benchmark it imports nothing from `benchmarks/`
(not a package); most of it is the stage table, `Bench`, one method per
stage that turns the flags into one binary's command line and names the
figures of its JSON line.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
from absl import app, flags

from common import runtime
from data import authors_synthetic, authors_writer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STAGES = (
    "write",
    "convert",
    "load",
    "describe",
    "pipeline",
    "train_step",
    "train_paper",
    "train_small",
    "eval_small",
    "eval_paper",
    "features",
    "bprmf",
    "visrank",
    "vbpr",
    "gan64",
    "gan128",
    "design",
    "table3",
    "table4",
)

# Table III's columns in the table3 stage (DVBPR: the train_paper run's result).
TABLE3_MODELS = ("poprank", "bprmf", "visrank", "vbpr", "dvbpr")

# The authors' file names, as `data.authors_tfds` looks for them.
FILE_NAMES = {
    "amazon_fashion": "AmazonFashion6ImgPartitioned.npy",
    "amazon_women": "AmazonWomenWithImgPartitioned.npy",
    "amazon_men": "AmazonMenWithImgPartitioned.npy",
    "tradesy": "TradesyImgPartitioned.npy",
}

flags.DEFINE_enum(
    "dataset_size", "amazon_fashion", list(authors_synthetic.TABLE_II), "Table II sizes to write."
)
flags.DEFINE_float("scale", 1.0, "Fraction of the Table II users, items and interactions.")
flags.DEFINE_string("workdir", "/tmp/paper_scale", "Files, records, models, logs, results.")
flags.DEFINE_list("stages", list(STAGES), "Stages to run, in the order of the docstring.")
flags.DEFINE_integer("seed", 0, "Seed of the written file.")
flags.DEFINE_integer("pool_images", 3000, "Distinct JPEGs the items' images are drawn from.")
flags.DEFINE_bool("rewrite", False, "Write the file again even when one of this size exists.")
flags.DEFINE_string(
    "dvbpr_preset",
    "paper",
    "Preset of the pipeline, train_step and train_paper stages (tests: small).",
)
flags.DEFINE_bool(
    "image_cache",
    True,
    "Train stages decode a catalogue over the memory budget once into WORKDIR/image_cache "
    "(dvbpr_tf.train --image_cache_dir); --noimage_cache decodes JPEGs per lookup.",
)
flags.DEFINE_integer("train_steps", 10, "DVBPR training steps (one epoch of this length).")
flags.DEFINE_integer("train_batch_size", 32, "DVBPR triplets per step (the step benchmark's).")
flags.DEFINE_integer("step_bench_steps", 3, "Timed steps of train_step.")
flags.DEFINE_integer("pipeline_batches", 20, "Timed batches of the pipeline stage.")
flags.DEFINE_integer("baseline_epochs", 1, "Epochs of BPR-MF / VBPR (and Table III's).")
flags.DEFINE_integer("gan_steps", 20, "GAN steps per resolution.")
flags.DEFINE_integer("gan_batch_size", None, "GAN images per step (preset's if unset).")
flags.DEFINE_string("design_preset", "fast", "design.generate / eval.table4 --preset.")
flags.DEFINE_integer("design_restarts", None, "design.generate / eval.table4 --restarts.")
flags.DEFINE_integer("design_steps", None, "design.generate / eval.table4 --steps.")
flags.DEFINE_integer("table4_trials", 16, "eval.table4 trials.")
flags.DEFINE_bool("table4_imagenet", True, "eval.table4 --imagenet (EfficientNet-Lite0 scores).")
flags.DEFINE_enum(
    "design_from",
    "train_paper",
    ["train_paper", "train_small"],
    "Whose DVBPR export design / table3 / table4 use (train_small: when the paper preset's "
    "catalogue embedding is too slow for the machine).",
)
flags.DEFINE_integer("stage_timeout", 0, "Seconds before a stage is killed (0: never).")
flags.DEFINE_enum("child", None, ["write", "pipeline", "features"], "Internal: one child stage.")

FLAGS = flags.FLAGS


# -- the stages' processes ---------------------------------------------------


def run_process(argv: list[str], log_prefix: str, timeout: float = 0) -> dict:
    """Runs one stage's process; its stderr is shown live and logged.

    Returns:
      dict with wall_s, peak_rss_mb (the process's own maximum resident
      set, from `os.wait4`), peak_anon_mb (its largest anonymous resident
      memory, sampled: `RssAnon` of /proc/PID/status every 0.2 s, None
      when the process ended before the first sample; RSS
      also counts the pages of memory-mapped files such as the image and
      feature caches, which the kernel can drop and re-read), exit_code,
      result (its last stdout line parsed as JSON, or None), stderr_tail
      and the log paths.
    """
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    out_path, err_path = log_prefix + ".stdout", log_prefix + ".stderr"
    start = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.PIPE)
        pump = threading.Thread(target=_tee, args=(proc.stderr, err), daemon=True)
        pump.start()
        anon = {"peak_kb": 0}
        sampler = threading.Thread(target=_sample_anon, args=(proc, anon), daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if timer:
            timer.cancel()
        pump.join()
    wall = time.perf_counter() - start
    with open(err_path, "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        # None: the process ended before the first sample (sub-second stages).
        # KiB resolution: a stage that ends within one interval may have been
        # sampled only at its exec (tens of KiB), which 0.1 MB would round to 0.
        "peak_anon_mb": round(anon["peak_kb"] / 1024, 3) if anon["peak_kb"] else None,
        "exit_code": proc.returncode,
        "result": _last_json(out_path),
        "stderr": stderr,
        "log": err_path,
    }


def _sample_anon(proc: subprocess.Popen, out: dict, interval: float = 0.2) -> None:
    """Keeps out["peak_kb"] at the largest RssAnon of `proc` seen until it exits."""
    path = f"/proc/{proc.pid}/status"
    while proc.returncode is None:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        out["peak_kb"] = max(out["peak_kb"], int(line.split()[1]))
                        break
        except (OSError, ValueError):  # mid-exec, or reaped: the loop's test decides
            pass
        time.sleep(interval)


def _tee(pipe, log) -> None:
    for line in iter(pipe.readline, b""):
        log.write(line)
        log.flush()
        sys.stderr.buffer.write(b"    | " + line)
        sys.stderr.flush()


def _last_json(path: str) -> dict | None:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in reversed(f.read().strip().splitlines()):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def module(name: str, *args: str) -> list[str]:
    return python("-m", name, *args)


def child(kind: str, *args: str) -> list[str]:
    """This script in a child process doing one measured piece of work."""
    return python(os.path.abspath(__file__), f"--child={kind}", *_common_args(), *args)


def _common_args() -> list[str]:
    return [
        f"--dataset_size={FLAGS.dataset_size}",
        f"--scale={FLAGS.scale}",
        f"--workdir={FLAGS.workdir}",
        f"--seed={FLAGS.seed}",
        f"--pool_images={FLAGS.pool_images}",
        f"--train_batch_size={FLAGS.train_batch_size}",
        f"--pipeline_batches={FLAGS.pipeline_batches}",
        f"--dvbpr_preset={FLAGS.dvbpr_preset}",
    ]


# -- paths -------------------------------------------------------------------


class Paths:
    """Where every stage reads and writes, under --workdir."""

    def __init__(self, workdir: str, dataset: str):
        self.root = workdir
        self.manual = os.path.join(workdir, "manual")
        self.npy = os.path.join(self.manual, FILE_NAMES[dataset])
        self.spec = self.npy + ".spec.json"
        self.data_dir = os.path.join(workdir, "tfds")
        self.features = os.path.join(workdir, "features", "image_features_synthetic.b")
        self.feature_cache = os.path.join(workdir, "feature_cache")
        self.logs = os.path.join(workdir, "logs")
        self.image_cache = os.path.join(workdir, "image_cache")

    def stage(self, name: str) -> str:
        return os.path.join(self.root, name)

    def data_flags(self, dataset: str | None = None) -> list[str]:
        """The data flags of the written file (with --dataset when given)."""
        named = [f"--dataset={dataset}"] if dataset else []
        return [*named, f"--manual_dir={self.manual}", f"--data_dir={self.data_dir}"]

    def feature_flags(self) -> list[str]:
        """The flags of the McAuley-format features the features stage writes."""
        return [
            "--features=mcauley",
            f"--mcauley_features={self.features}",
            f"--feature_cache={self.feature_cache}",
        ]


def _spec() -> authors_synthetic.SyntheticSpec:
    return authors_synthetic.SyntheticSpec.table_ii(
        FLAGS.dataset_size, FLAGS.scale, pool_images=FLAGS.pool_images, seed=FLAGS.seed
    )


def _file_info(paths: Paths) -> dict:
    with open(paths.spec) as f:
        return json.load(f)


def _fresh(path: str) -> str:
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    return path


# -- children (run in their own process so that their memory is theirs) --------


def child_write(paths: Paths) -> dict:
    spec = _spec()
    start = time.perf_counter()
    objects, truth = authors_synthetic.synthetic_objects(spec)
    progress = runtime.Progress(spec.num_items, "items", prefix="writing")
    items = objects[3]

    def entries():
        for k, pair in enumerate(items.items()):
            progress.update(k)
            yield pair

    objects[3] = authors_writer.Streamed(len(items), entries)
    size = authors_writer.write_authors_npy(paths.npy, objects)
    progress.update(spec.num_items, force=True)
    categories = np.bincount(truth.categories[truth.categories >= 0], minlength=1)
    info = {
        "spec": spec,
        "file": paths.npy,
        "file_bytes": size,
        "users": spec.num_users,
        "items": spec.num_items,
        "interactions": int(len(truth.train) + len(truth.validation) + len(truth.test)),
        "train_interactions": len(truth.train),
        "largest_category": int(categories.argmax()) if spec.num_categories else None,
        "largest_category_items": int(categories.max()) if spec.num_categories else 0,
        "mean_jpeg_kb": round(size / spec.num_items / 1024, 2),
        "seconds": time.perf_counter() - start,
    }
    runtime.atomic_write_text(paths.spec, runtime.to_json(info, indent=2) + "\n")
    return info


def child_features(paths: Paths) -> dict:
    """4096-d non-negative (fc7-like) features of every item, McAuley's `.b` layout."""
    from data import features

    info = _file_info(paths)
    n, dim, chunk = info["items"], features.MCAULEY_DIM, 4096
    rng = np.random.default_rng(FLAGS.seed)
    os.makedirs(os.path.dirname(paths.features), exist_ok=True)
    tmp = paths.features + ".tmp"
    part = paths.features + ".part"
    progress = runtime.Progress(n, "items", prefix="features")
    with open(tmp, "wb") as out:
        for start in range(0, n, chunk):
            ids = range(start, min(start + chunk, n))
            values = np.maximum(rng.standard_normal((len(ids), dim), np.float32), 0)
            # The project's writer, one chunk at a time (it writes whole files).
            features.write_mcauley_features(part, [str(i) for i in ids], values)
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
            progress.update(ids.stop)
    os.unlink(part)
    os.replace(tmp, paths.features)
    return {"file": paths.features, "file_bytes": os.path.getsize(paths.features), "items": n}


def child_pipeline(paths: Paths) -> dict:
    """The training input pipeline alone, and the matmul roofline of the step."""
    import tensorflow as tf

    from data import image_store, pipeline, registry
    from data.registry import DataOptions
    from dvbpr_tf import benchmark, models
    from dvbpr_tf import config as config_lib

    config = config_lib.get_preset(FLAGS.dvbpr_preset)
    batch = FLAGS.train_batch_size
    ds = registry.load(
        FLAGS.dataset_size, DataOptions(data_dir=paths.data_dir, manual_dir=paths.manual)
    )
    start = time.perf_counter()
    store = image_store.ImageStore(ds.images, config.image_size)
    store_s = time.perf_counter() - start
    dataset = pipeline.triplet_dataset(ds, config.image_size, batch, config.seed, store=store)
    iterator = iter(dataset)
    for _ in range(2):
        next(iterator)
    progress = runtime.Progress(FLAGS.pipeline_batches, "batches", prefix="pipeline")
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(FLAGS.pipeline_batches):
        tf.nest.map_structure(lambda t: t.numpy(), next(iterator))
        progress.update(k + 1)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    matmul = benchmark.matmul_flop_rate()
    flops = models.train_flops_per_triplet(config)
    return {
        "image_size": config.image_size,
        "batch_size": batch,
        "store_build_s": round(store_s, 2),
        "triplets_per_s": FLAGS.pipeline_batches * batch / seconds,
        "triplets_per_cpu_s": FLAGS.pipeline_batches * batch / max(cpu, 1e-9),
        "matmul_gflops": matmul / 1e9,
        "gflop_per_triplet": flops / 1e9,
        "roofline_triplets_per_s": matmul / flops,
    }


CHILDREN = {"write": child_write, "features": child_features, "pipeline": child_pipeline}


# -- the stages ----------------------------------------------------------------


class Bench:
    """Runs the stages in order, remembering what later stages need."""

    def __init__(self, paths: Paths):
        self.paths = paths
        self.dataset = FLAGS.dataset_size
        # The last good line of each stage, from earlier runs in this workdir
        # too (train_paper compares itself with pipeline and train_step).
        self.lines: dict[str, dict] = {}
        results = os.path.join(paths.root, "results.jsonl")
        if os.path.exists(results):
            with open(results) as f:
                for text in f:
                    line = json.loads(text)
                    same = (line.get("dataset_size"), line.get("scale")) == (
                        self.dataset,
                        FLAGS.scale,
                    )
                    if same and "error" not in line and "rate" in line:
                        self.lines[line["stage"]] = line

    def run(self, name: str, argv: list[str], rate=None, fields=None) -> dict:
        """Runs one stage's process and prints its JSON line.

        Args:
          name: the stage.
          argv: the command.
          rate: (value, unit) from the result dict and the measured
            line (called only on success).
          fields: extra fields for the line from the result.
        """
        os.makedirs(self.paths.logs, exist_ok=True)
        sys.stderr.write(f"== {name}: {' '.join(argv[1:])}\n")
        proc = run_process(argv, os.path.join(self.paths.logs, name), FLAGS.stage_timeout)
        line = {
            "benchmark": "paper_scale",
            "stage": name,
            "dataset_size": self.dataset,
            "scale": FLAGS.scale,
            **{k: proc[k] for k in ("wall_s", "cpu_s", "peak_rss_mb", "peak_anon_mb", "exit_code")},
        }
        result = proc["result"] or {}
        ok = proc["exit_code"] == 0 and "error" not in result
        if ok:
            try:
                if rate:
                    value, unit = rate(result, proc)
                    line.update(rate=_round(value), rate_unit=unit)
                if fields:
                    line.update(_round(fields(result, proc)))
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as err:
                ok = False
                line["error"] = f"could not read the stage's result: {err!r}"
        if not ok:
            tail = proc["stderr"].strip().splitlines()[-15:]
            line.setdefault("error", result.get("error") or "\n".join(tail))
        line["log"] = proc["log"]
        line["load_average_1min"] = round(os.getloadavg()[0], 2)
        if ok:
            self.lines[name] = line
        emit(line)
        return line

    # Each stage ---------------------------------------------------------

    def write(self):
        paths = self.paths
        if not FLAGS.rewrite and os.path.exists(paths.npy) and os.path.exists(paths.spec):
            info = _file_info(paths)
            if info["spec"] == json.loads(runtime.to_json(_spec())):
                emit({"benchmark": "paper_scale", "stage": "write", "reused": paths.npy, **info})
                return
        self.run(
            "write",
            child("write"),
            rate=lambda r, p: (r["file_bytes"] / 2**20 / p["wall_s"], "MB/s"),
            fields=lambda r, p: (
                {
                    k: r[k]
                    for k in (
                        "file_bytes",
                        "users",
                        "items",
                        "interactions",
                        "largest_category_items",
                        "mean_jpeg_kb",
                    )
                }
                | {"rss_over_file": p["peak_rss_mb"] * 2**20 / r["file_bytes"]}
            ),
        )

    def _describe(self, name: str, auc: bool):
        info = _file_info(self.paths)
        workdir = _fresh(self.paths.stage(name))
        self.run(
            name,
            module(
                "data.describe",
                *self.paths.data_flags(self.dataset),
                f"--workdir={workdir}",
                "--auc" if auc else "--noauc",
            ),
            rate=lambda r, p: (r["items"] / p["wall_s"], "items/s"),
            fields=lambda r, p: {
                "users": r["users"],
                "items": r["items"],
                "train_interactions": r["train_interactions"],
                "popularity_auc": r.get("popularity_auc"),
                "rss_over_file": p["peak_rss_mb"] * 2**20 / info["file_bytes"],
            },
        )

    def convert(self):
        _fresh(self.paths.data_dir)
        self._describe("convert", auc=False)

    def load(self):
        self._describe("load", auc=False)

    def describe(self):
        self._describe("describe", auc=True)

    def pipeline(self):
        self.run(
            "pipeline",
            child("pipeline"),
            rate=lambda r, p: (r["triplets_per_s"], "triplets/s"),
            fields=lambda r, p: {k: v for k, v in r.items() if k != "triplets_per_s"},
        )

    def train_step(self):
        self.run(
            "train_step",
            python(
                os.path.join(REPO, "benchmarks", "bench_dvbpr_train_step.py"),
                f"--preset={FLAGS.dvbpr_preset}",
                f"--batch_size={FLAGS.train_batch_size}",
                f"--steps={FLAGS.step_bench_steps}",
            ),
            rate=lambda r, p: (r["triplets_per_sec"], "triplets/s"),
            fields=lambda r, p: {
                "fraction_of_matmul": r["ratio"],
                "matmul_gflops": r["matmul_gflops"],
                "seconds_per_step": r["seconds_per_step"],
            },
        )

    def _train(self, name: str, preset: str, compare: bool = False):
        workdir = _fresh(self.paths.stage(name))
        batch = FLAGS.train_batch_size
        self.run(
            name,
            module(
                "dvbpr_tf.train",
                *self.paths.data_flags(self.dataset),
                f"--workdir={workdir}",
                f"--preset={preset}",
                "--epochs=1",
                f"--steps_per_epoch={FLAGS.train_steps}",
                f"--batch_size={batch}",
                *([f"--image_cache_dir={self.paths.image_cache}"] if FLAGS.image_cache else []),
            ),
            rate=lambda r, p: (r["steps"] * batch / _step_seconds(r, p), "triplets/s"),
            fields=lambda r, p: self._train_fields(r, p, batch, compare),
        )

    def _train_fields(self, result: dict, proc: dict, batch: int, compare: bool) -> dict:
        """The run's figures; with `compare`, against the pipeline and train_step stages."""
        validation_s = _validation_seconds(proc["stderr"])
        out = {
            "steps": result["steps"],
            "batch_size": batch,
            "train_seconds": result["train_seconds"],
            "setup_seconds": result.get("setup_seconds"),
            "validation_pass_s": validation_s,
            "test_auc": result["test"]["auc"],
        }
        if not compare:
            return out
        rate = result["steps"] * batch / _step_seconds(result, proc)
        step, pipe = self.lines.get("train_step"), self.lines.get("pipeline")
        if pipe:
            out["fraction_of_roofline"] = rate / pipe["roofline_triplets_per_s"]
        if step and pipe:
            out["step_only_triplets_per_s"] = step["rate"]
            out["pipeline_only_triplets_per_s"] = pipe["rate"]
            out["slower"] = "input pipeline" if pipe["rate"] < step["rate"] else "training step"
        return out

    def train_paper(self):
        self._train("train_paper", FLAGS.dvbpr_preset, compare=True)

    def train_small(self):
        self._train("train_small", "small")

    def _eval(self, name: str, train: str):
        info = _file_info(self.paths)
        workdir = _fresh(self.paths.stage(name))
        pairs = info["users"] * info["items"]
        self.run(
            name,
            module(
                "eval.recommender",
                *self.paths.data_flags(self.dataset),
                f"--export={os.path.join(self.paths.stage(train), 'export')}",
                f"--workdir={workdir}",
                # The train stage's cache files, reused (decoded once per size).
                *([f"--image_cache_dir={self.paths.image_cache}"] if FLAGS.image_cache else []),
            ),
            rate=lambda r, p: (pairs / p["wall_s"], "user-item pairs/s"),
            fields=lambda r, p: {
                "items": info["items"],
                "users": info["users"],
                "test_auc": r["test"]["auc"],
                "wall_seconds_reported": r.get("wall_seconds"),
            },
        )

    def eval_small(self):
        self._eval("eval_small", "train_small")

    def eval_paper(self):
        self._eval("eval_paper", "train_paper")

    def features(self):
        self.run(
            "features",
            child("features"),
            rate=lambda r, p: (r["file_bytes"] / 2**20 / p["wall_s"], "MB/s"),
            fields=lambda r, p: {"file_bytes": r["file_bytes"]},
        )

    def _baseline(self, model: str):
        info = _file_info(self.paths)
        workdir = _fresh(self.paths.stage(model))
        visual = model != "bprmf"
        epochs = 0 if model == "visrank" else FLAGS.baseline_epochs
        self.run(
            model,
            module(
                "dvbpr_tf.train",
                *self.paths.data_flags(self.dataset),
                f"--workdir={workdir}",
                f"--model={model}",
                "--grid=none",
                *([f"--epochs={epochs}"] if epochs else []),
                *(self.paths.feature_flags() if visual else []),
            ),
            rate=lambda r, p: (
                (info["train_interactions"] * epochs / p["wall_s"], "train interactions/s")
                if epochs
                else (info["users"] * info["items"] / p["wall_s"], "user-item pairs/s")
            ),
            fields=lambda r, p: {"epochs": epochs, "test_auc": r["test"]["auc"]},
        )

    def bprmf(self):
        self._baseline("bprmf")

    def visrank(self):
        self._baseline("visrank")

    def vbpr(self):
        self._baseline("vbpr")

    def _gan(self, resolution: int):
        name = f"gan{resolution}"
        workdir = _fresh(self.paths.stage(name))
        batch = [f"--batch_size={FLAGS.gan_batch_size}"] if FLAGS.gan_batch_size else []
        self.run(
            name,
            module(
                "gan_tf.train",
                *self.paths.data_flags(self.dataset),
                f"--workdir={workdir}",
                f"--resolution={resolution}",
                f"--max_steps={FLAGS.gan_steps}",
                *batch,
            ),
            rate=lambda r, p: (r["steps_per_second"], "steps/s"),
            fields=lambda r, p: {
                "steps": r["steps"],
                "steps_per_epoch": round(r["steps"] / r["epochs"]),
                "epoch_seconds_estimate": r["steps"] / r["epochs"] / r["steps_per_second"],
            },
        )

    def gan64(self):
        self._gan(64)

    def gan128(self):
        self._gan(128)

    def _dvbpr_run(self) -> str:
        """The DVBPR workdir design / table3 / table4 use: --design_from's, or else
        the other train stage's when only that one has an export (a `--stages`
        subset without train_paper would otherwise fail on a missing export)."""
        chosen = self.paths.stage(FLAGS.design_from)
        other = self.paths.stage(
            "train_small" if FLAGS.design_from == "train_paper" else "train_paper"
        )
        if not os.path.isdir(os.path.join(chosen, "export")) and os.path.isdir(
            os.path.join(other, "export")
        ):
            sys.stderr.write(f"No export in {chosen}; design stages use {other} instead.\n")
            return other
        return chosen

    def _design_flags(self, name: str) -> list[str]:
        return [
            *self.paths.data_flags(self.dataset),
            f"--recommender={os.path.join(self._dvbpr_run(), 'export')}",
            f"--gan={os.path.join(self.paths.stage('gan64'), 'export')}",
            f"--out={_fresh(self.paths.stage(name))}",
            f"--preset={FLAGS.design_preset}",
            *([f"--restarts={FLAGS.design_restarts}"] if FLAGS.design_restarts else []),
            *([f"--steps={FLAGS.design_steps}"] if FLAGS.design_steps else []),
        ]

    def design(self):
        info = _file_info(self.paths)
        category = info["largest_category"]
        self.run(
            "design",
            module(
                "design.generate",
                *self._design_flags("design"),
                "--user=0",
                f"--category={category}",
            ),
            rate=lambda r, p: (1 / p["wall_s"], "queries/s"),
            fields=lambda r, p: {
                "category": category,
                "category_items": info["largest_category_items"],
            },
        )

    def table3(self):
        workdir = _fresh(self.paths.stage("table3"))
        self.run(
            "table3",
            module(
                "eval.table3",
                f"--datasets={self.dataset}",
                *self.paths.data_flags(),
                f"--workdir={workdir}",
                f"--models={','.join(TABLE3_MODELS)}",
                "--grid=none",
                f"--epochs={FLAGS.baseline_epochs}",
                *self.paths.feature_flags(),
                f"--dvbpr_from={self._dvbpr_run()}",
            ),
            rate=lambda r, p: (len(TABLE3_MODELS) / p["wall_s"], "models/s"),
            fields=lambda r, p: {"auc": r["auc"]},
        )

    def table4(self):
        trials = FLAGS.table4_trials
        self.run(
            "table4",
            module(
                "eval.table4",
                *self._design_flags("table4"),
                f"--trials={trials}",
                "--sweep_trials=0",
                "--classifier_epochs=1",
                f"--imagenet_max_images={3 * trials}",
                "--imagenet" if FLAGS.table4_imagenet else "--noimagenet",
            ),
            rate=lambda r, p: (trials / p["wall_s"], "trials/s"),
            fields=lambda r, p: {"trials": trials},
        )


def _step_seconds(result: dict, proc: dict) -> float:
    """Training-loop seconds without the setup (the image cache's first decode) and validation."""
    setup = result.get("setup_seconds") or 0.0
    return result["train_seconds"] - setup - (_validation_seconds(proc["stderr"]) or 0.0)


_VALIDATION = re.compile(r"epoch \d+ \(step \d+\): validation AUC .*\(([\d.]+)s\)")


def _validation_seconds(stderr: str) -> float | None:
    """Seconds of the epoch-end validation pass, from `dvbpr_tf.train`'s log line."""
    found = _VALIDATION.findall(stderr)
    return float(found[-1]) if found else None


def _round(value):
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def emit(line: dict) -> None:
    """Prints one stage's JSON line and appends it to WORKDIR/results.jsonl."""
    runtime.emit_result(line)
    path = os.path.join(FLAGS.workdir, "results.jsonl")
    with open(path, "a") as f:
        f.write(runtime.to_json(line) + "\n")


def main(argv):
    del argv
    paths = Paths(FLAGS.workdir, FLAGS.dataset_size)
    os.makedirs(FLAGS.workdir, exist_ok=True)
    if FLAGS.child:
        result = CHILDREN[FLAGS.child](paths)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        runtime.emit_result({**result, "child_peak_rss_mb": usage.ru_maxrss / 1024})
        return
    unknown = [s for s in FLAGS.stages if s not in STAGES]
    if unknown:
        raise app.UsageError(f"--stages: unknown {unknown}; known: {', '.join(STAGES)}.")
    runtime.write_config(
        FLAGS.workdir,
        {f.name: f.value for f in FLAGS.get_key_flags_for_module(sys.argv[0])}
        | {"spec": _spec(), "cpu_count": os.cpu_count()},
    )
    bench = Bench(paths)
    for stage in STAGES:
        if stage in FLAGS.stages:
            try:
                getattr(bench, stage)()
            except (OSError, KeyError, ValueError) as err:
                # e.g. the file of an earlier stage is missing: say so, go on.
                emit({"benchmark": "paper_scale", "stage": stage, "error": repr(err)})


if __name__ == "__main__":
    app.run(main)
