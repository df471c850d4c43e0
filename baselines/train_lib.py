"""One baseline, trained with selection and evaluated: what `--model=<baseline>` runs.

    config = baselines.config.get_config("bprmf")
    result = baselines.train_lib.train_baseline(config, ds, workdir)   # result["test"]["auc"]

The trained models (WARP, BPR-MF, FM, VBPR) are selected on validation
over their (reg, K) grid and epochs (`baselines.selection`); RAND, PopRank
and VisRank are evaluated as they are (`baselines.scorers`). Triplets are
drawn by `data.bpr.TripletSampler` under the protocol of `config.sampling`
and `config.negatives` (the paper's by default), in the baselines' random
stream.
"""

from __future__ import annotations

import os
import time

import numpy as np
from absl import logging

from baselines import selection
from baselines.config import BaselineConfig
from baselines.models import feature_scale
from baselines.scorers import random_scorer, visrank_items, visrank_scorer
from common import arrays, layout, runtime
from data.core import RecDataset
from metrics import auc as auc_lib


def train_baseline(
    config: BaselineConfig,
    dataset: RecDataset,
    workdir: str,
    features: np.ndarray | None = None,
    auc_options: auc_lib.AUCOptions | None = None,
) -> dict:
    """Trains (with selection on validation) and evaluates one baseline.

    Resumable: each grid point's outcome is written to
    `workdir/grid/<point>.json` when it finishes and is not retrained on a
    rerun; the kept model's embeddings go to `workdir/best.npz`.

    Args:
      config: the baseline's config (`baselines.config.get_config`).
      dataset: the data. Validation drives selection; when it is empty a
        validation is carved from train (`selection.carve_validation`).
      workdir: where config.json, grid results, TensorBoard runs
        (`tensorboard/<point>`) and result.json go.
      features: [num_items, D] float32 visual features; required by
        visrank, fm and vbpr (see `data.features.load_features`).
      auc_options: the metric definitions (`metrics.auc.AUCOptions()` if None).

    Returns:
      dict (also written to `workdir/result.json`): `model`, `dataset`,
      `selection` ("validation" or "carved_from_train"), `hparams` (the
      chosen reg, dim, epochs), `validation` and `test` (each the
      `metrics.auc` dict: auc, auc_cold, auc_warm, auc_sampled100, users,
      cold_users, warm_users, rows), `leak` (`metrics.auc.leak_diagnostic` of
      the test split), `protocol` (sampling, negatives and the metric
      definitions), `grid` (one entry per point), `seconds`.
    """
    start = time.perf_counter()
    auc_options = auc_options or auc_lib.AUCOptions()
    os.makedirs(workdir, exist_ok=True)
    runtime.write_config(workdir, dict(dataset=dataset.name, baseline=config, auc=auc_options))
    if config.visual:
        if features is None:
            raise ValueError(
                f"--model={config.model} needs visual features: pass features= (e.g. from "
                "data.features.load_features(ds, extractor, cache_dir))."
            )
        features = arrays.aligned(features)  # itself when aligned float32: held once
        if features.shape[0] != dataset.num_items or features.ndim != 2:
            raise ValueError(
                f"features must be [num_items={dataset.num_items}, D], got {features.shape}."
            )
    carved = len(dataset.validation) == 0
    select_ds = selection.carve_validation(dataset, config.validation_seed) if carved else dataset
    selected_on = "carved_from_train" if carved else "validation"
    result = dict(
        model=config.model,
        dataset=dataset.name,
        selection=selected_on,
        protocol=protocol(config, auc_options),
        leak=auc_lib.leak_diagnostic(dataset, "test"),
        hparams={},
        grid=[],
    )

    if not config.trained:
        kwargs = dict(user_block=config.eval_user_block, options=auc_options, seed=config.seed)
        # VisRank's item side, prepared once for both splits.
        items = visrank_items(features, config.visrank_metric) if config.visual else None

        def evaluate(ds, split):
            if config.model == "poprank":
                return auc_lib.evaluate_popularity(ds, split, **kwargs)
            if config.model == "rand":
                scorer = random_scorer(ds.num_items, config.seed)
            else:
                scorer = visrank_scorer(ds, items)
            return auc_lib.evaluate_scores(ds, split, scorer, **kwargs)

        if config.model == "visrank":
            result["hparams"] = dict(metric=config.visrank_metric)
        result["validation"] = evaluate(select_ds, "validation")
        result["test"] = evaluate(dataset, "test")
        return _finish(result, workdir, start)

    scale = feature_scale(features) if features is not None else 1.0
    best, result["grid"] = selection.search_grid(
        config,
        select_ds,
        workdir,
        features=features,
        feature_scale=scale,
        auc_options=auc_options,
        protocol=result["protocol"],
        keep_best=not carved,
    )
    result["hparams"] = dict(reg=best["reg"], dim=best["dim"], epochs=best["best_epoch"])
    result["validation"] = best["validation"]
    if carved:
        # Retrain on the full training split for the selected length.
        out = selection.fit(
            config,
            dataset,
            best["reg"],
            best["dim"],
            features=features,
            feature_scale=scale,
            epochs=max(best["best_epoch"], 1),
            eval_split=None,
        )
        emb = out["embeddings"]
    else:
        with np.load(os.path.join(workdir, layout.BEST_PARAMS)) as z:
            if str(z["key"]) != best["key"]:
                raise RuntimeError(
                    f"{workdir}/best.npz holds {z['key']}, not the selected {best['key']}: "
                    "delete the workdir's grid/ folder and rerun."
                )
            emb = (z["user"], z["item"], z["bias"])
    result["test"] = selection.evaluate(dataset, "test", *emb, config, auc_options)
    return _finish(result, workdir, start)


def _finish(result: dict, workdir: str, start: float) -> dict:
    result["seconds"] = time.perf_counter() - start
    runtime.write_result(workdir, result)
    logging.info(
        "%s on %s: test AUC %.4f (cold %.4f, warm %.4f), selected %s on %s. Split: %s.",
        result["model"],
        result["dataset"],
        result["test"]["auc"],
        result["test"]["auc_cold"],
        result["test"]["auc_warm"],
        result["hparams"],
        result["selection"],
        auc_lib.format_leak(result["leak"]),
    )
    return result


def protocol(config: BaselineConfig, auc_options: auc_lib.AUCOptions) -> dict:
    """How a baseline's triplets were drawn and its AUCs defined (for result files and tables)."""
    return dict(
        sampling=config.sampling,
        negatives=config.negatives,
        select_on=config.select_on,
        cold_threshold=auc_options.cold_threshold,
        sampled_auc=auc_options.sampled_auc,
    )
