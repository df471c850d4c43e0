"""What every export shares: where it lives on disk, and how to read a restored function.

    path = resolve_export_dir(flag_value, what="recommender", flag="--recommender",
                              producer="python -m dvbpr_tf.train")

The directory rule, the same for every binary that takes an export: a path
is an export when it holds `saved_model.pb`; otherwise a training workdir
whose `export/` holds one stands for that export. Anything else is a
`DataError` that names the path and what to pass.

`reexport` is the run of both re-export binaries (`dvbpr_tf.export`,
`gan_tf.export`), which differ only in how they read their workdir.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from common import layout, runtime
from common.errors import DataError

SAVED_MODEL_FILE = "saved_model.pb"
# The folder a training run writes its export into (WORKDIR/export).
EXPORT_DIRNAME = layout.EXPORT


@dataclasses.dataclass
class LoadedExport:
    """What every reloaded export holds; each kind's views extend it.

    Attributes:
      path: the export directory.
      module: what `tf.saved_model.load` returned.
    """

    path: str
    module: object


def resolve_export_dir(path: str | None, *, what: str, flag: str, producer: str) -> str:
    """The export directory `path` names: `path` itself, or `path/export`.

    Args:
      path: what the user passed (an export directory or a training
        workdir); `~` is expanded.
      what: the kind of export, for messages ("recommender", "GAN").
      flag: the flag that took `path`, for messages ("--gan").
      producer: the command that writes such exports, for messages.

    Returns:
      The directory that holds `saved_model.pb`.

    Raises:
      DataError: `path` is empty, or neither it nor `path/export` holds a
        SavedModel.
    """
    hint = (
        f"pass {flag}=DIR with DIR the export/ folder of `{producer} --workdir=W` "
        f"(W/export) or that workdir W"
    )
    if path is None or not str(path).strip():
        raise DataError(f"No {what} export given; {hint}.")
    path = os.path.expanduser(str(path))
    if os.path.exists(os.path.join(path, SAVED_MODEL_FILE)):
        return path
    nested = os.path.join(path, EXPORT_DIRNAME)
    if os.path.exists(os.path.join(nested, SAVED_MODEL_FILE)):
        return nested
    raise DataError(
        f"No SavedModel at {flag}={path}: neither {path} nor {nested} holds a "
        f"{SAVED_MODEL_FILE}; {hint}."
    )


def load_saved_model(path: str | None, *, what: str, flag: str, producer: str):
    """(export directory, what `tf.saved_model.load` returned) under the directory rule."""
    path = resolve_export_dir(path, what=what, flag=flag, producer=producer)
    return path, tf.saved_model.load(path)


def input_specs(fn) -> list[tf.TensorSpec]:
    """The traced input TensorSpecs of a restored tf.function (its first signature).

    Raises:
      ValueError: `fn` has no traced signature.
    """
    concrete = getattr(fn, "concrete_functions", None) or []
    if not concrete:
        raise ValueError(f"{fn} has no traced input signature")
    args, _ = concrete[0].structured_input_signature
    return list(args)


def strings(tensor) -> tuple[str, ...]:
    """A string tensor or variable (any shape) as a flat tuple of str."""
    values = np.asarray(tensor.numpy()).reshape(-1)
    return tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values)


def reexport(workdir: str, resolve: Callable[[], dict], export: Callable[[dict], dict]) -> None:
    """Re-exports a training workdir: the whole run of a re-export binary.

    Writes {"workdir": workdir, **resolve()} to WORKDIR/export_config.json
    (beside, not over, the training run's config.json), then calls
    `export` with that config, says on stderr which checkpoint went where,
    and ends with the one JSON line: export's result and `wall_seconds`.
    A `DataError` from either callable (not a workdir of that kind, no
    checkpoint) exits with status 2 after one `error:` line on stderr.

    Args:
      workdir: the training workdir (--workdir).
      resolve: () -> {name: value}, what the re-export is made from (the
        training config, and the checkpoint or data it names).
      export: (the written config) -> the result dict, with at least
        "export" (the directory written) and "checkpoint" (the one read).
    """
    t0 = time.perf_counter()

    def run() -> dict:
        config = {"workdir": workdir, **resolve()}
        runtime.write_config(workdir, config, name=layout.EXPORT_CONFIG)
        return export(config)

    result = runtime.exit_on_data_error(run)
    sys.stderr.write(f"Exported {result['checkpoint']} to {result['export']}.\n")
    runtime.emit_result({**result, "wall_seconds": time.perf_counter() - t0})
