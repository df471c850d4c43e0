"""The tiny DVBPR model and red-versus-blue dataset the DVBPR tests share.

Half the users buy only reddish items, half only bluish ones, so a model
that looks at the pictures can learn the split in a few dozen steps, while
popularity cannot (both colours are equally popular). The DVBPR and export
tests, and the distribution test's worker subprocesses, import
`red_blue_dataset`, `TINY` and `SMALL_32` from here
(tests/testlib/test_dvbpr.py checks the dataset).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from data.core import ItemImages, RecDataset, as_str_ids, sort_rows
from dvbpr_tf import config as config_lib

# The small preset's network fed 32x32 images (a quarter of the FLOPs of
# its 64x64), with TensorBoard summaries for two users only.
SMALL_32 = dataclasses.replace(config_lib.get_preset("small"), image_size=32, summary_users=2)

# The narrow model at 32x32: the preset's layer structure, built in a blink.
TINY = dataclasses.replace(
    SMALL_32,
    conv_filters=(8, 8, 8, 8, 8),
    fc_units=(16, 16),
    embedding_dim=6,
    batch_size=8,
    learning_rate=3e-3,
    weight_decay=0.0,
    # Dropout on, so that resume and distribution tests cover its noise.
    dropout=0.5,
    eval_batch_size=32,
    summary_every_steps=2,
)


def red_blue_dataset(num_users: int = 40, num_items: int = 60, image_size: int = 40, seed=0):
    """Users 0..U/2-1 like red items, the others blue ones.

    Items alternate red (even index) and blue (odd); each image is its
    colour with per-pixel noise and a random dark rectangle. Each user buys
    6 items of their colour: 4 train, 1 validation, 1 test.

    Returns:
      A RecDataset with pixels [num_items, image_size, image_size, 3]
      uint8, categories 0 = red / 1 = blue, and true_scores (1 for the
      user's colour, 0 otherwise).
    """
    rng = np.random.default_rng(seed)
    colour = np.arange(num_items) % 2
    base = np.where(colour[:, None] == 0, [200, 40, 40], [40, 60, 200])
    images = base[:, None, None, :] + rng.normal(0, 25, (num_items, image_size, image_size, 3))
    for i in range(num_items):
        y, x = rng.integers(0, image_size // 2, 2)
        images[i, y : y + image_size // 3, x : x + image_size // 3] *= 0.3
    pixels = np.clip(np.round(images), 0, 255).astype(np.uint8)
    likes = (np.arange(num_users) >= num_users // 2).astype(int)
    rows = {"train": [], "validation": [], "test": []}
    for u in range(num_users):
        bought = rng.choice(np.flatnonzero(colour == likes[u]), 6, replace=False)
        rows["train"] += [(u, i) for i in bought[:4]]
        rows["validation"].append((u, bought[4]))
        rows["test"].append((u, bought[5]))

    def true_scores(users):
        return (likes[np.asarray(users)][:, None] == colour[None, :]).astype(np.float32)

    return RecDataset(
        name="red_blue",
        num_users=num_users,
        num_items=num_items,
        train=sort_rows(np.array(rows["train"])),
        validation=sort_rows(np.array(rows["validation"])),
        test=sort_rows(np.array(rows["test"])),
        item_ids=as_str_ids([f"item{i}" for i in range(num_items)]),
        user_ids=as_str_ids([f"user{u}" for u in range(num_users)]),
        categories=colour.astype(np.int64),
        category_names=("red", "blue"),
        images=ItemImages(pixels=pixels),
        true_scores=true_scores,
    )
