"""Model selection of the trained baselines: epochs, grid points, a carved validation.

Each (reg, K) of the grid is trained (`fit`) with evaluation on validation
every `eval_every` epochs and early stopping; the point and epoch with the
best validation AUC win (`search_grid`). Where the dataset has no
validation split (the Amazon interactions ship only train/test), one
training item per user with at least two is moved, seeded by
`validation_seed`, into a validation split used for selection only
(`carve_validation`); `baselines.train_lib.train_baseline` then retrains
the winning (reg, K, epochs) on the full training split.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import time

import numpy as np
import tensorflow as tf
from absl import logging

from baselines.config import BaselineConfig
from baselines.models import KINDS, FactorModel
from baselines.trainer import Trainer
from common import layout, runtime
from data import bpr
from data.core import RecDataset
from data.splits import hold_out_per_user
from metrics import auc as auc_lib


def carve_validation(ds: RecDataset, seed: int = 0) -> RecDataset:
    """Moves one random training item per user (with >= 2) into validation.

    For datasets published with train/test only (the Amazon interactions):
    the carved validation is used to select hyper-parameters and epochs,
    never to report.

    Args:
      ds: a dataset with an empty validation split.
      seed: which item is moved.

    Returns:
      A copy with the reduced `train` and the carved `validation`.
    """
    train, validation = hold_out_per_user(ds.train, np.random.default_rng(seed), 1, draw="pick")
    return dataclasses.replace(
        ds,
        train=train,
        validation=validation,
        info={**ds.info, "validation": f"carved from train, one item per user, seed {seed}"},
    )


def fit(
    config: BaselineConfig,
    ds: RecDataset,
    reg: float,
    dim: int,
    *,
    features: np.ndarray | None = None,
    feature_scale: float = 1.0,
    epochs: int | None = None,
    eval_split: str | None = "validation",
    summary_writer=None,
    auc_options: auc_lib.AUCOptions | None = None,
) -> dict:
    """Trains one (reg, K) point of a factor baseline with early stopping.

    Args:
      config: the model's config (model, optimiser, epochs, ...).
      ds: data; trains on `ds.train`.
      reg: lambda of this point.
      dim: K of this point.
      features: [num_items, D] float32 (FM / VBPR), shared, not copied.
      feature_scale: the models read features / feature_scale
        (`models.feature_scale`).
      epochs: overrides `config.epochs` (retraining to a selected length).
      eval_split: split evaluated every `config.eval_every` epochs for early
        stopping and selection; None trains for `epochs` without evaluating.
      summary_writer: optional tf.summary writer for validation curves.
      auc_options: the metric definitions of the evaluations.

    Returns:
      dict with `best_auc` (the kept model's validation `config.select_on`
      AUC, NaN without evaluation), `best_epoch`, `epochs_run`, `history`
      [(epoch, that AUC, loss)], `embeddings` (user_emb, item_emb, item_bias) of the kept
      model, `metrics` (the kept model's full evaluation dict), `seconds`
      and `samples_per_second`.
    """
    epochs = config.epochs if epochs is None else epochs
    model = FactorModel(
        KINDS[config.model],
        ds.num_users,
        ds.num_items,
        dim,
        features=features,
        feature_scale=feature_scale,
        init_scale=config.init_scale,
        seed=config.seed,
        user_counts=np.bincount(ds.train[:, 0], minlength=ds.num_users),
        item_counts=ds.item_train_counts(),
    )
    sampler = bpr.TripletSampler(
        ds,
        bpr.SamplerConfig(
            seed=config.seed,
            sampling=config.sampling,
            negatives=config.negatives,
            rng_stream="baselines",
        ),
        as_variables=False,  # read by a tf.function, not by tf.data
    )
    trainer = Trainer(
        model,
        sampler,
        loss="warp" if config.model == "warp" else "bpr",
        reg=reg,
        reg_dense=config.reg_dense,
        batch_size=config.batch_size,
        optimizer=config.optimizer,
        learning_rate=config.learning_rate,
        adagrad_init=config.adagrad_init,
        warp_max_trials=config.warp_max_trials,
        warp_margin=config.warp_margin,
        jit_compile=config.jit_compile,
    )
    steps_per_epoch = max(1, math.ceil(len(ds.train) / config.batch_size))
    best = dict(auc=-math.inf, epoch=0, embeddings=None, metrics=None)
    history = []
    stale = 0
    start = time.perf_counter()
    train_seconds = 0.0
    epoch = 0
    progress = runtime.Progress(epochs, "epochs", prefix=f"{config.model} K={dim} reg={reg:g}")
    while epoch < epochs:
        chunk = min(config.eval_every, epochs - epoch)
        t0 = time.perf_counter()
        loss = float(trainer.train_steps(tf.constant(chunk * steps_per_epoch)))
        train_seconds += time.perf_counter() - t0
        epoch += chunk
        if not np.isfinite(loss):
            logging.warning("%s K=%d reg=%g diverged at epoch %d.", config.model, dim, reg, epoch)
            break
        if eval_split is None:
            history.append((epoch, float("nan"), loss))
            progress.update(epoch, f"loss {loss:.4f}")
            continue
        emb = model.embeddings()
        metrics = evaluate(ds, eval_split, *emb, config, auc_options)
        score = metrics[config.select_on]
        history.append((epoch, score, loss))
        progress.update(
            epoch,
            f"loss {loss:.4f} {eval_split} AUC {metrics['auc']:.4f} warm {metrics['auc_warm']:.4f}",
        )
        if summary_writer is not None:
            with summary_writer.as_default(step=epoch):
                for key in auc_lib.METRICS:
                    tf.summary.scalar(f"{eval_split}/{key}", metrics[key])
                tf.summary.scalar("train/loss", loss)
        if score > best["auc"]:
            best.update(auc=score, epoch=epoch, embeddings=emb, metrics=metrics)
            stale = 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best["embeddings"] is None:
        best.update(auc=float("nan"), epoch=epoch, embeddings=model.embeddings())
    samples = int(trainer.step.numpy()) * config.batch_size
    return dict(
        best_auc=float(best["auc"]),
        best_epoch=int(best["epoch"]),
        epochs_run=epoch,
        history=history,
        embeddings=best["embeddings"],
        metrics=best["metrics"],
        seconds=time.perf_counter() - start,
        samples_per_second=samples / max(train_seconds, 1e-9),
    )


def search_grid(
    config: BaselineConfig,
    ds: RecDataset,
    workdir: str,
    *,
    features: np.ndarray | None,
    feature_scale: float = 1.0,
    auc_options: auc_lib.AUCOptions,
    protocol: dict,
    keep_best: bool,
) -> tuple[dict, list[dict]]:
    """Trains every (reg, K) of `config`'s grid with early stopping; the best validation AUC wins.

    Resumable: each point's outcome is written to `workdir/grid/<point>.json`
    when it finishes and is read back, not retrained, on a rerun (refused if
    it was trained under another protocol). Each point's validation curves
    go to `workdir/tensorboard/<point>`.

    Args:
      config: the baseline's config (its grid, epochs, ...).
      ds: trains on `ds.train`, selects on `ds.validation`.
      workdir: the run's folder.
      features: [num_items, D] float32 (FM / VBPR), else None.
      feature_scale: see `fit`.
      auc_options: the metric definitions of the evaluations.
      protocol: the run's `baselines.train_lib.protocol` (stored with each point).
      keep_best: write the best point's embeddings to `workdir/best.npz`
        (user, item, bias, key) as the search goes.

    Returns:
      (the best point, every point in grid order); a point is a dict with
      key, reg, dim, auc (its selection AUC), best_epoch, epochs_run,
      seconds, samples_per_second, validation (its metrics) and protocol.
    """
    best = None
    grid = []
    points = config.grid_points()
    # Each point also reports its epochs (`fit`); this line says where the
    # whole search stands.
    grid_progress = runtime.Progress(
        len(points), "grid points", interval=10.0, prefix=f"{config.model} grid", quiet_start=True
    )
    for done, (reg, dim) in enumerate(points, 1):
        key = point_key(reg, dim)
        path = os.path.join(workdir, layout.GRID, key + ".json")
        if os.path.exists(path):
            with open(path) as f:
                point = json.load(f)
            if point.get("protocol") != protocol:
                raise ValueError(
                    f"{path} was trained under protocol {point.get('protocol')}, not "
                    f"{protocol}: use another --workdir, or delete {workdir}/grid to "
                    "retrain every point."
                )
            logging.info("Grid point %s already done (AUC %.4f); skipped.", key, point["auc"])
        else:
            writer = tf.summary.create_file_writer(os.path.join(workdir, layout.TENSORBOARD, key))
            out = fit(
                config,
                ds,
                reg,
                dim,
                features=features,
                feature_scale=feature_scale,
                summary_writer=writer,
                auc_options=auc_options,
            )
            writer.close()
            point = dict(
                key=key,
                reg=reg,
                dim=dim,
                auc=out["best_auc"],
                best_epoch=out["best_epoch"],
                epochs_run=out["epochs_run"],
                seconds=out["seconds"],
                samples_per_second=out["samples_per_second"],
                validation=out["metrics"],
                protocol=protocol,
            )
            _write_hparams_run(
                os.path.join(workdir, layout.TENSORBOARD, key),
                dict(model=config.model, dataset=ds.name, reg=float(reg), dim=int(dim)),
                {"hparams/validation_auc": out["best_auc"]},
            )
            is_best = best is None or (np.isfinite(point["auc"]) and point["auc"] > best["auc"])
            if is_best and keep_best:
                user_emb, item_emb, item_bias = out["embeddings"]
                npz = os.path.join(workdir, layout.BEST_PARAMS)
                tmp = npz + ".tmp.npz"
                np.savez(tmp, user=user_emb, item=item_emb, bias=item_bias, key=key)
                os.replace(tmp, npz)
            runtime.atomic_write_text(path, runtime.to_json(point, indent=2) + "\n")
        grid.append(point)
        if best is None or (np.isfinite(point["auc"]) and point["auc"] > best["auc"]):
            best = point
        grid_progress.update(done, f"best {best['key']} AUC {best['auc']:.4f}")
    grid_progress.update(len(points), force=True)
    return best, grid


def point_key(reg: float, dim: int) -> str:
    """A grid point's name in file and run names, e.g. "K10_reg0.01"."""
    return f"K{dim}_reg{reg:g}"


def evaluate(ds, split, user_emb, item_emb, item_bias, config, auc_options) -> dict:
    """`metrics.auc.evaluate_embeddings` of `ds`'s `split`, with `config`'s block size and seed."""
    return auc_lib.evaluate_embeddings(
        ds,
        split,
        user_emb,
        item_emb,
        item_bias,
        user_block=config.eval_user_block,
        options=auc_options,
        seed=config.seed,
    )


def _write_hparams_run(logdir: str, hparams: dict, metrics: dict) -> None:
    """One TensorBoard HParams run: its hparams and its final metrics."""
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default(step=0):
        hp.hparams(hparams)
        for name, value in metrics.items():
            if value is not None and np.isfinite(value):
                tf.summary.scalar(name, value)
    writer.close()


def clear_grid(workdir: str) -> None:
    """Forgets finished grid points (so that a rerun retrains them)."""
    for path in glob.glob(os.path.join(workdir, layout.GRID, "*.json")):
        os.unlink(path)
