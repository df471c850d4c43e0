"""The DVBPR SavedModel: reloaded by TensorFlow alone, it computes what the model does."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from unittest import mock

import numpy as np
import tensorflow as tf

from data import image_store, preprocess
from dvbpr_tf import export_lib, models
from eval import recommender_lib as recommender
from metrics import auc as auc_lib
from tests.testlib.dvbpr import TINY, red_blue_dataset

# Runs in a fresh interpreter that may import TensorFlow and NumPy only: a
# finder refuses every package of this project.
_RELOAD = textwrap.dedent(
    """
    import sys

    class _NoProject:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"dvbpr_tf", "gan_tf", "design", "eval", "data", "common"}:
                raise ImportError("the export must not need project code: " + name)
            return None

    sys.meta_path.insert(0, _NoProject())
    import numpy as np
    import tensorflow as tf

    export_dir, inputs_path, out_path = sys.argv[1:]
    inputs = np.load(inputs_path)
    m = tf.saved_model.load(export_dir)
    users = tf.constant(inputs["users"])
    rec = m.recommend(users, tf.constant(4))
    sig = m.signatures["recommend"](user_ids=users, k=tf.constant(4))
    np.savez(
        out_path,
        item_embedding=m.item_embedding(inputs["images"]).numpy(),
        float_embedding=m.item_embedding_float(inputs["preprocessed"]).numpy(),
        sig_item_embedding=m.signatures["item_embedding"](images=inputs["images"])[
            "embedding"
        ].numpy(),
        user_embedding=m.user_embedding(users).numpy(),
        score=m.score(users, inputs["images"][: len(inputs["users"])]).numpy(),
        score_matrix=m.score_matrix(users, inputs["images"]).numpy(),
        rec_ids=rec["item_ids"].numpy(),
        rec_scores=rec["scores"].numpy(),
        sig_rec_ids=sig["item_ids"].numpy(),
        many_ids=m.recommend(users, tf.constant(1000))["item_ids"].numpy(),
        item_embeddings=m.item_embeddings.numpy(),
        meta=np.array([int(m.image_size.numpy()), int(m.embedding_dim.numpy()),
                       int(m.num_users.numpy()), int(m.num_items.numpy())]),
        name=np.array(m.dataset_name.numpy().decode()),
    )
    assert not any(k.split(".")[0] == "dvbpr_tf" for k in sys.modules)
    """
)


def test_export_reloads_without_project_code_and_matches_the_model(tmp_path):
    ds = red_blue_dataset()
    model = models.DVBPR(TINY, ds.num_users)
    # Non-trivial theta so that rankings differ between users.
    model.theta.assign(tf.random.stateless_normal(model.theta.shape, [0, 1]))
    export_dir = str(tmp_path / "export")
    export_lib.export_recommender(model, ds, TINY, export_dir)
    # Exporting again swaps the folder in whole and leaves no temporaries.
    export_lib.export_recommender(model, ds, TINY, export_dir)
    assert sorted(os.listdir(tmp_path)) == ["export"]

    users = np.array([0, 5, 21, 39, 5], np.int32)
    images = ds.images.pixels[:7]  # 40x40: the export resizes to 32x32 itself
    preprocessed = preprocess.preprocess_images(images, TINY.image_size).numpy()
    np.savez(tmp_path / "inputs.npz", users=users, images=images, preprocessed=preprocessed)
    subprocess.run(
        [
            sys.executable,
            "-c",
            _RELOAD,
            export_dir,
            str(tmp_path / "inputs.npz"),
            str(tmp_path / "out.npz"),
        ],
        check=True,
        timeout=300,
        cwd=tmp_path,
    )
    out = np.load(tmp_path / "out.npz")

    phi = model.item_embedding(preprocessed).numpy()
    theta = model.theta.numpy()
    np.testing.assert_allclose(out["item_embedding"], phi, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["sig_item_embedding"], phi, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["float_embedding"], phi, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["user_embedding"], theta[users])
    np.testing.assert_allclose(
        out["score"], np.sum(theta[users] * phi[: len(users)], 1), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(out["score_matrix"], theta[users] @ phi.T, rtol=1e-5, atol=1e-6)
    assert out["meta"].tolist() == [32, TINY.embedding_dim, ds.num_users, ds.num_items]
    assert str(out["name"]) == "red_blue"

    # recommend: top 4 of theta_u . item_emb with the user's train items removed.
    item_emb = export_lib.embed_catalogue(model, ds, TINY)
    np.testing.assert_allclose(out["item_embeddings"], item_emb)
    scores = theta[users] @ item_emb.T
    for row, u in enumerate(users):
        scores[row, ds.train[ds.train[:, 0] == u, 1]] = -np.inf
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(out["rec_ids"], expected)
    np.testing.assert_array_equal(out["sig_rec_ids"], expected)
    np.testing.assert_allclose(
        out["rec_scores"], np.take_along_axis(scores, expected, 1), rtol=1e-5, atol=1e-6
    )
    # k beyond the catalogue is clamped; train items come last (score -inf).
    assert out["many_ids"].shape == (len(users), ds.num_items)
    for row, u in enumerate(users):
        train_items = set(ds.train[ds.train[:, 0] == u, 1])
        assert set(out["many_ids"][row, -len(train_items) :]) == train_items

    # eval.recommender embeds the catalogue through the export's own
    # signatures and scores it like the model does.
    got = recommender.evaluate_export(export_dir, ds, batch_size=16)
    for split in ("validation", "test"):
        want = auc_lib.evaluate_embeddings(ds, split, theta, item_emb)
        for key in ("auc", "auc_cold", "auc_sampled100"):
            np.testing.assert_allclose(got[split][key], want[key], atol=1e-6)
    # Through a decoded-once cache file (the stores are bit-identical): the same numbers.
    cache = tmp_path / "image_cache"
    over_budget = functools.partial(image_store.ImageStore, decoded_budget_bytes=0)
    with mock.patch.object(image_store, "ImageStore", over_budget):
        cached = recommender.evaluate_export(export_dir, ds, batch_size=16, image_cache_dir=cache)
    assert [f for f in os.listdir(cache) if f.startswith("images_")]
    assert cached == got
