"""The SavedModel contract (exports/): one directory rule, the catalogue check, re-export binaries."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from common import runtime
from data import registry
from data.core import DataError, as_str_ids
from data.registry import DataOptions
from design import standins
from dvbpr_tf import export_lib, models, train_lib
from eval import recommender_lib
from exports import common, gan, recommender
from tests.testlib.dvbpr import TINY, red_blue_dataset

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _binary(module: str, workdir: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, f"--workdir={workdir}"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(ROOT),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def test_one_directory_rule_export_dir_workdir_or_error(tmp_path):
    workdir = tmp_path / "run"
    export_dir = str(workdir / common.EXPORT_DIRNAME)
    standins.save(standins.recommender_module(seed=0), export_dir)
    gan_dir = str(tmp_path / "gan_run" / "export")
    standins.save(standins.gan_module(seed=1), gan_dir)
    kw = dict(what="recommender", flag="--recommender", producer="python -m dvbpr_tf.train")
    assert common.resolve_export_dir(export_dir, **kw) == export_dir
    assert common.resolve_export_dir(str(workdir), **kw) == export_dir
    # Every loader follows the rule, for an export dir and for its workdir alike.
    for path in (export_dir, str(workdir)):
        assert recommender.load_recommender(path).path == export_dir
        assert recommender.load_embedder(path).path == export_dir
    for path in (gan_dir, os.path.dirname(gan_dir)):
        assert gan.load_gan(path).path == gan_dir
        assert gan.load_generator(path).path == gan_dir
    # Neither: the message names the path, the nested path and what to pass.
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        common.resolve_export_dir(str(empty), **kw)
    message = str(err.value)
    assert f"--recommender={empty}" in message
    assert os.path.join(str(empty), "export") in message
    assert "python -m dvbpr_tf.train --workdir=W" in message
    with pytest.raises(DataError, match=r"No SavedModel at --export="):
        recommender.load_embedder(str(empty))
    with pytest.raises(DataError, match=r"No SavedModel at --gan="):
        gan.load_gan(str(empty))
    with pytest.raises(DataError, match="No GAN export given; pass --gan=DIR"):
        gan.load_generator("")


def _export(tmp_path, ds, options=None):
    model = models.DVBPR(TINY, ds.num_users)
    export_dir = str(tmp_path / "export")
    export_lib.export_recommender(model, ds, TINY, export_dir, data_options=options)
    return export_dir


def test_catalogue_fingerprint_refuses_another_catalogue(tmp_path):
    ds = red_blue_dataset()
    export_dir = _export(tmp_path, ds, DataOptions(seed=7, custom_dir="/data/shop"))
    with open(os.path.join(export_dir, recommender.CATALOGUE_FILE)) as f:
        record = json.load(f)
    assert record["dataset"] == "red_blue" and record["num_items"] == ds.num_items
    assert record["data_options"]["seed"] == 7
    assert record["item_fingerprint"] == recommender.catalogue_fingerprint(
        ds.item_ids, ds.categories
    )
    rec = recommender.load_recommender(export_dir)
    rec.check_catalogue(ds)  # the same catalogue passes
    # Same item count, other items: refused, naming both sides and the flags to pass.
    other = dataclasses.replace(
        ds, name="red_blue_v2", item_ids=as_str_ids(f"x{i}" for i in range(ds.num_items))
    )
    with pytest.raises(DataError) as err:
        rec.check_catalogue(other)
    message = str(err.value)
    assert "red_blue_v2" in message and "red_blue has 60 items" in message
    assert record["item_fingerprint"][:19] in message
    assert "--data_seed=7" in message and "--custom_dir=/data/shop" in message
    # Same ids, other categories: another catalogue too.
    swapped = dataclasses.replace(ds, categories=1 - ds.categories)
    with pytest.raises(DataError, match="another catalogue"):
        rec.check_catalogue(swapped)
    # eval.recommender refuses it as well.
    with pytest.raises(DataError, match="another catalogue"):
        recommender_lib.evaluate_export(str(tmp_path), other, batch_size=16)


def test_exports_without_catalogue_record_fall_back_to_the_item_count(tmp_path, caplog):
    ds = red_blue_dataset()
    export_dir = _export(tmp_path, ds)
    os.remove(os.path.join(export_dir, recommender.CATALOGUE_FILE))  # as before the record
    rec = recommender.load_recommender(export_dir)
    assert rec.catalogue is None
    other = dataclasses.replace(ds, item_ids=as_str_ids(f"x{i}" for i in range(ds.num_items)))
    with caplog.at_level("WARNING"):
        rec.check_catalogue(other)  # only the count can be checked: it passes, with a warning
    assert "predates catalogue.json" in caplog.text
    smaller = red_blue_dataset(num_items=50)
    with pytest.raises(DataError, match="has 50 items but the recommender"):
        rec.check_catalogue(smaller)


def test_dvbpr_export_binary_reexports_the_best_checkpoint(tmp_path):
    name, options = "synthetic_fashion/tiny", DataOptions()
    ds = registry.load(name, options)
    workdir = str(tmp_path / "run")
    config = TINY
    runtime.write_config(workdir, {"dvbpr": config, "dataset": name, "data_options": options})
    trainer = train_lib.Trainer(config, ds, workdir)
    trainer.model.theta.assign(tf.random.stateless_normal(trainer.model.theta.shape, [0, 2]))
    trainer.best.save(checkpoint_number=0)
    reference = str(tmp_path / "reference")
    export_lib.export_recommender(trainer.model, ds, config, reference, data_options=options)

    proc = _binary("dvbpr_tf.export", workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["export"] == os.path.join(workdir, "export")
    assert line["checkpoint"].startswith(os.path.join(workdir, "best"))
    assert line["dataset"] == ds.name and line["num_items"] == ds.num_items
    assert os.path.exists(os.path.join(workdir, "export_config.json"))
    again = recommender.load_recommender(workdir)
    want = recommender.load_recommender(reference)
    again.check_catalogue(ds)
    assert again.catalogue == want.catalogue
    np.testing.assert_allclose(again.theta, want.theta)
    np.testing.assert_allclose(again.item_embeddings, want.item_embeddings, rtol=1e-5, atol=1e-6)
    x = tf.random.stateless_uniform([3, 32, 32, 3], [1, 2], -1.0, 1.0)
    np.testing.assert_allclose(again.embed(x), want.embed(x), rtol=1e-5, atol=1e-6)

    # A folder that is not a DVBPR workdir: exit status 2 and a message that says so.
    proc = _binary("dvbpr_tf.export", str(tmp_path / "nothing"))
    assert proc.returncode == 2 and "No config.json" in proc.stderr


def test_gan_export_binary_reexports_the_latest_checkpoint(tmp_path):
    from gan_tf import train_lib as gan_train
    from tests.testlib.gan import tiny_config, two_category_dataset

    ds = two_category_dataset()
    config = gan_train.config_for_dataset(tiny_config(), ds)
    workdir = str(tmp_path / "gan")
    first = gan_train.train_and_export(config, ds, workdir, max_steps=2)["export"]
    runtime.write_config(workdir, config)  # what `python -m gan_tf.train` leaves there
    reference = str(tmp_path / "reference")
    shutil.copytree(first, reference)
    shutil.rmtree(first)  # as if killed during the final export

    proc = _binary("gan_tf.export", workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["export"] == first and line["step"] == 2
    again, want = gan.load_gan(workdir), gan.load_gan(reference)
    z = np.random.default_rng(0).uniform(-1, 1, (4, again.z_dim)).astype(np.float32)
    c = np.array([0, 1, 0, 1])
    np.testing.assert_allclose(
        again.generate(z, c)["images"], want.generate(z, c)["images"], atol=1e-6
    )
    images = want.generate(z, c)["images"]
    np.testing.assert_allclose(
        again.discriminate(images, c), want.discriminate(images, c), atol=1e-5
    )
