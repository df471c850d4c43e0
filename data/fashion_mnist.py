"""`fashion_mnist_users`: real clothing photos with simulated users.

Fashion-MNIST (Zalando SE, MIT licence) holds 70,000 grey 28x28 photos of
clothing in 10 classes. This loader keeps the classes that map onto the
paper's top-level categories and invents users whose tastes depend on what
the photos look like, so that a model which reads pixels (DVBPR) has
something to learn that the class label alone does not give.

The photos come from Fashion-MNIST's idx files or a prepared TFDS copy;
`data.fashion_mnist_files` says where it looks and how it reads them.

Simulator (deterministic per seed; `FashionMnistUsersConfig` holds the knobs):

* **Items.** Classes map to categories tops = {0 T-shirt/top, 2 Pullover,
  4 Coat, 6 Shirt}, bottoms = {1 Trouser}, shoes = {5 Sandal, 7 Sneaker,
  9 Ankle boot}; 3 Dress and 8 Bag are dropped. `num_candidate_items`
  images are sampled uniformly without replacement from the remaining
  56,000 (both source splits). Images are the real pixels, zero-padded to
  32x32 (2 pixels each side, so a GAN can work at 32x32) and repeated to 3
  channels: `ItemImages(pixels=uint8 [N, 32, 32, 3])`, white garment on
  black.
* **Content features** (D = `num_pca` + 3 per item), computed from the
  28x28 pixels of the candidate items: the top `num_pca` principal
  components of the pixels after subtracting each category's mean image
  (a pooled within-category PCA, so the components describe how items of
  one category differ: sleeve length, silhouette width, heel, ...), plus
  three hand-made ones: garment tone (mean intensity of ink pixels,
  > 0.1), ink area (share of ink pixels: the silhouette's size) and edge
  energy (mean squared finite-difference gradient: texture and
  outline detail). Every feature is standardised to zero mean and unit
  variance *within each category*, so none of them encodes the category,
  then squashed smoothly as `2.5 * tanh(f / 2.5)` so that a few odd photos
  5-10 standard deviations out do not top every user's list.
* **Users.** User u has a category affinity `a_u ~ N(0, affinity_scale^2)`
  per category and weights over the content features
  `w_u = s + N(0, taste_scale^2 I_D)`, where `s` is a population taste of
  norm `shared_taste_scale` in a random direction (it makes some looks
  popular with everyone, so popularity carries some signal, as on Amazon).
* **True utility** `x_ui = a_u[category(i)] + w_u . f_i`
  (`RecDataset.true_scores`).
* **Activity.** User u makes `n_u = min_interactions +
  floor(activity_scale * Lomax(activity_shape))` interactions (capped at
  `max_interactions`): long-tailed, every user at least 5.
* **Choice.** Each user picks `n_u` distinct items from
  softmax(x_u / temperature) without replacement (Gumbel top-k).
  Candidate items that no user picks are dropped from the catalogue (as in
  review data, every item has at least one interaction); the features and
  utilities keep their values.
* **Split** as the paper: per user one random interaction for validation,
  one for test, the rest for training (`data.splits.hold_out_per_user`).

The oracle AUC (true utilities ranked as the paper's full AUC, test split)
is the ceiling for any model. Measured on Debian's files, "default":

| seed | users | items | train | oracle AUC | popularity AUC | within-class oracle |
| ---- | ----- | ----- | ----- | ---------- | -------------- | ------------------- |
| 0    | 3,000 | 7,952 | 19,240 | 0.934     | 0.610          | 0.895               |
| 1    | 3,000 | 7,976 | 19,143 | 0.932     | 0.600          | 0.889               |

"Within-class oracle" ranks the held-out item only against unobserved items
of its own Fashion-MNIST class: the tastes are not the label (the category
affinity alone gives 0.60). 75% of items have 1-3 interactions (median 2,
most popular ~120), users have 5-60 (mean 8.4); 89% of items are cold.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from absl import logging

from data.core import DataError, ItemImages, RecDataset, as_str_ids
from data.fashion_mnist_files import CLASS_NAMES, IMAGE_SIZE, read_fashion_mnist
from data.splits import hold_out_per_user

NAME = "fashion_mnist_users"

CATEGORY_NAMES = ("tops", "bottoms", "shoes")
# Fashion-MNIST class -> category index; -1 drops the class (Dress, Bag).
CLASS_TO_CATEGORY = np.array([0, 1, 0, -1, 0, 2, 0, 2, -1, 2], np.int64)
PADDED_SIZE = 32

_INK_THRESHOLD = 0.1
# Standardised features are squashed smoothly into (-2.5, 2.5).
_SOFT_CLIP = 2.5


@dataclasses.dataclass(frozen=True)
class FashionMnistUsersConfig:
    """Sizes and taste parameters of the simulated users.

    Attributes:
      num_users: simulated users.
      num_candidate_items: images sampled from the 56,000 kept ones; those
        no user picks are dropped, so the catalogue is somewhat smaller.
      min_interactions: least interactions per user (the paper drops users
        with fewer than 5).
      activity_scale: scale of the Lomax-distributed extra interactions.
      activity_shape: Lomax shape; smaller means a longer tail.
      max_interactions: cap on interactions per user.
      num_pca: within-category principal components among the features.
      affinity_scale: std of a user's affinity for each category.
      taste_scale: std of a user's own weight on each content feature.
      shared_taste_scale: norm of the taste every user shares.
      temperature: softmax temperature of the choices; lower means choices
        follow the true utility more closely (higher oracle AUC).
      default_seed: seed used when none is given.
    """

    num_users: int
    num_candidate_items: int
    min_interactions: int = 5
    activity_scale: float = 5.0
    activity_shape: float = 2.2
    max_interactions: int = 60
    num_pca: int = 8
    affinity_scale: float = 0.7
    taste_scale: float = 0.6
    shared_taste_scale: float = 0.3
    temperature: float = 0.7
    default_seed: int = 0


CONFIGS = {
    # The demo/benchmark size: ~3K users, ~8K items, ~20K train interactions.
    "default": FashionMnistUsersConfig(num_users=3000, num_candidate_items=10500),
    # For tests: loads from a few hundred images in well under a second.
    "tiny": FashionMnistUsersConfig(
        num_users=60, num_candidate_items=240, num_pca=4, max_interactions=20
    ),
}


# --------------------------------------------------------------------------
# The simulator.


class TrueScores:
    """The simulator's true utilities, `x_ui = a_u[category(i)] + w_u . f_i`.

    Attributes:
      affinity: [num_users, 3] float32 category affinities.
      weights: [num_users, D] float32 content weights.
      features: [num_items, D] float32 content features.
      categories: [num_items] int64 category of each item.
    """

    def __init__(self, affinity, weights, features, categories):
        self.affinity = np.asarray(affinity, np.float32)
        self.weights = np.asarray(weights, np.float32)
        self.features = np.asarray(features, np.float32)
        self.categories = np.asarray(categories, np.int64)

    def __call__(self, user_indices) -> np.ndarray:
        """Utilities of every item for a block of users.

        Args:
          user_indices: [b] integer user indices (NumPy array, list or an
            eager tensor).

        Returns:
          [b, num_items] float32 true utilities.
        """
        users = np.asarray(user_indices, np.int64).reshape(-1)
        scores = self.weights[users] @ self.features.T
        scores += self.affinity[users][:, self.categories]
        return scores.astype(np.float32, copy=False)


def content_features(images: np.ndarray, categories: np.ndarray, num_pca: int) -> np.ndarray:
    """Per-item content features, standardised within each category.

    Args:
      images: [n, 28, 28] uint8 grey images.
      categories: [n] int64 category index in 0..2.
      num_pca: number of within-category principal components.

    Returns:
      [n, num_pca + 3] float32: PCA scores, then tone, ink area and edge
      energy; each column has zero mean and unit variance within each
      category present.
    """
    residual = images.reshape(len(images), -1).astype(np.float32) / 255.0
    for c in np.unique(categories):
        rows = categories == c
        residual[rows] -= residual[rows].mean(axis=0)
    if len(residual) < residual.shape[1]:
        # Fewer images than pixels: the eigenvectors of the small Gram matrix
        # give the same components for a fraction of the cost.
        gram = (residual @ residual.T).astype(np.float64)
        eigvals, eigvecs = np.linalg.eigh(gram)
        top = np.argsort(eigvals)[::-1][:num_pca]
        components = residual.T.astype(np.float64) @ eigvecs[:, top]
        components /= np.maximum(np.linalg.norm(components, axis=0), 1e-12)
    else:
        cov = (residual.T @ residual).astype(np.float64)
        eigvals, eigvecs = np.linalg.eigh(cov)
        components = eigvecs[:, np.argsort(eigvals)[::-1][:num_pca]]
    # Eigenvectors have no sign of their own; fix one so a seed gives the same
    # tastes on every machine.
    flip = np.sign(components[np.abs(components).argmax(axis=0), np.arange(num_pca)])
    components *= np.where(flip == 0, 1.0, flip)
    pca = residual.astype(np.float64) @ components

    pix = images.astype(np.float64) / 255.0
    ink = pix > _INK_THRESHOLD
    ink_count = ink.sum(axis=(1, 2))
    tone = (pix * ink).sum(axis=(1, 2)) / np.maximum(ink_count, 1)
    area = ink_count / float(IMAGE_SIZE * IMAGE_SIZE)
    edges = (np.diff(pix, axis=1) ** 2).mean(axis=(1, 2)) + (np.diff(pix, axis=2) ** 2).mean(
        axis=(1, 2)
    )
    feats = np.concatenate([pca, np.stack([tone, area, edges], axis=1)], axis=1)
    for c in np.unique(categories):
        rows = categories == c
        mean = feats[rows].mean(axis=0)
        std = feats[rows].std(axis=0)
        feats[rows] = (feats[rows] - mean) / np.where(std > 1e-8, std, 1.0)
    # A few odd photos sit 5-10 standard deviations out; unbounded, they
    # would top every user's list and soak up a large share of all picks.
    feats = _SOFT_CLIP * np.tanh(feats / _SOFT_CLIP)
    return feats.astype(np.float32)


def _choose(
    utility_fn, counts: np.ndarray, temperature: float, rng: np.random.Generator, block: int = 256
) -> np.ndarray:
    """Per user, `counts[u]` distinct items drawn from softmax(utility / T).

    Gumbel top-k: adding Gumbel noise to the logits and keeping the k
    largest samples k items without replacement from the softmax.

    Returns:
      [sum(counts), 2] int64 (user, item) rows.
    """
    num_users = len(counts)
    rows = []
    for start in range(0, num_users, block):
        users = np.arange(start, min(start + block, num_users))
        k = counts[users]
        kmax = int(k.max())
        logits = utility_fn(users) / np.float32(temperature)
        # Gumbel(0, 1) noise in float32 (half the time of rng.gumbel's float64).
        uniform = np.maximum(rng.random(logits.shape, dtype=np.float32), np.float32(1e-30))
        logits -= np.log(-np.log(uniform))
        top = np.argpartition(-logits, kmax - 1, axis=1)[:, :kmax]
        order = np.argsort(-np.take_along_axis(logits, top, axis=1), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        keep = np.arange(kmax)[None, :] < k[:, None]
        rows.append(np.stack([np.broadcast_to(users[:, None], top.shape)[keep], top[keep]], 1))
    return np.concatenate(rows).astype(np.int64)


def _pad_rgb(images: np.ndarray) -> np.ndarray:
    pad = (PADDED_SIZE - IMAGE_SIZE) // 2
    out = np.zeros((len(images), PADDED_SIZE, PADDED_SIZE, 3), np.uint8)
    out[:, pad : pad + IMAGE_SIZE, pad : pad + IMAGE_SIZE, :] = images[..., None]
    return out


def load_with_classes(
    config: str = "default", fashion_mnist_dir: str | None = None, seed: int | None = None
) -> tuple[RecDataset, np.ndarray]:
    """`load`, plus each item's Fashion-MNIST class.

    Returns:
      (dataset, classes) where classes is [num_items] int64 in 0..9 (see
      `CLASS_NAMES`); used for within-class checks of the simulator.
    """
    if config not in CONFIGS:
        raise DataError(
            f"Unknown config {NAME}/{config}; known configs: {', '.join(sorted(CONFIGS))}."
        )
    cfg = CONFIGS[config]
    seed = cfg.default_seed if seed is None else int(seed)
    start_time = time.time()
    sources, source = read_fashion_mnist(fashion_mnist_dir)

    # One generator per random decision, so changing one (e.g. the split)
    # leaves the others as they were.
    def rng(stream: int) -> np.random.Generator:
        return np.random.default_rng([seed, stream])

    split_names = list(sources)
    images = np.concatenate([sources[s][0] for s in split_names])
    labels = np.concatenate([sources[s][1] for s in split_names]).astype(np.int64)
    source_split = np.concatenate(
        [np.full(len(sources[s][1]), i, np.int64) for i, s in enumerate(split_names)]
    )
    source_index = np.concatenate([np.arange(len(sources[s][1])) for s in split_names])

    pool = np.flatnonzero(CLASS_TO_CATEGORY[labels] >= 0)
    num_candidates = min(cfg.num_candidate_items, len(pool))
    if num_candidates < 2 * cfg.max_interactions:
        raise DataError(
            f"{source}: only {len(pool)} usable images (classes other than Dress and Bag); "
            f"{NAME}/{config} needs at least {2 * cfg.max_interactions}."
        )
    if num_candidates < cfg.num_candidate_items:
        logging.warning(
            "%s: only %d usable images; sampling all of them instead of %d.",
            source,
            len(pool),
            cfg.num_candidate_items,
        )
    chosen = np.sort(rng(0).choice(pool, size=num_candidates, replace=False))
    cand_images = images[chosen]
    cand_categories = CLASS_TO_CATEGORY[labels[chosen]]

    features = content_features(cand_images, cand_categories, cfg.num_pca)
    dim = features.shape[1]
    taste_rng = rng(1)
    affinity = taste_rng.normal(0.0, cfg.affinity_scale, (cfg.num_users, len(CATEGORY_NAMES)))
    shared = taste_rng.normal(size=dim)
    shared *= cfg.shared_taste_scale / np.linalg.norm(shared)
    weights = shared + taste_rng.normal(0.0, cfg.taste_scale, (cfg.num_users, dim))
    cand_scores = TrueScores(affinity, weights, features, cand_categories)

    activity_rng = rng(2)
    extra = np.floor(cfg.activity_scale * activity_rng.pareto(cfg.activity_shape, cfg.num_users))
    counts = np.minimum(cfg.min_interactions + extra, cfg.max_interactions).astype(np.int64)
    rows = _choose(cand_scores, counts, cfg.temperature, rng(3))

    # Keep only items somebody chose, re-indexed in source order.
    used = np.zeros(num_candidates, bool)
    used[rows[:, 1]] = True
    new_index = np.cumsum(used) - 1
    rows[:, 1] = new_index[rows[:, 1]]
    items = chosen[used]
    categories = cand_categories[used]
    train, validation, test = hold_out_per_user(rows, rng(4))

    prefixes = [f"fmnist-{s}" for s in split_names]
    item_ids = as_str_ids(
        f"{prefixes[s]}-{i:05d}"
        for s, i in zip(source_split[items], source_index[items], strict=True)
    )
    width = max(5, len(str(cfg.num_users - 1)))
    user_ids = as_str_ids(f"u{u:0{width}d}" for u in range(cfg.num_users))
    classes = labels[items]
    info = {
        "seed": seed,
        "config": config,
        "config_values": dataclasses.asdict(cfg),
        "source": source,
        "candidate_items": int(num_candidates),
        "dropped_unchosen_items": int(num_candidates - used.sum()),
        "items_per_class": {
            CLASS_NAMES[c]: int(n)
            for c, n in enumerate(np.bincount(classes, minlength=len(CLASS_NAMES)))
            if n
        },
        "content_features": [f"pca{j}" for j in range(cfg.num_pca)] + ["tone", "ink_area", "edges"],
        "simulator": (
            "utility = affinity_u[category] + w_u . f_i; f_i = within-category PCA of the "
            "pixels + tone, ink area, edge energy, standardised per category; "
            "w_u = shared taste + personal taste; each user picks n_u >= 5 distinct items "
            "from softmax(utility / temperature) (Gumbel top-k); one random pick per user "
            "held out for validation and one for test (see data/fashion_mnist.py)."
        ),
    }
    ds = RecDataset(
        name=f"{NAME}/{config}",
        num_users=cfg.num_users,
        num_items=len(items),
        train=train,
        validation=validation,
        test=test,
        item_ids=item_ids,
        user_ids=user_ids,
        categories=categories,
        category_names=CATEGORY_NAMES,
        images=ItemImages(pixels=_pad_rgb(images[items])),
        true_scores=TrueScores(affinity, weights, features[used], categories),
        info=info,
    )
    logging.info(
        "%s (seed %d) from %s: %d users, %d items, %d/%d/%d train/val/test in %.1fs.",
        ds.name,
        seed,
        source,
        ds.num_users,
        ds.num_items,
        len(train),
        len(validation),
        len(test),
        time.time() - start_time,
    )
    return ds, classes


def load(
    config: str = "default", fashion_mnist_dir: str | None = None, seed: int | None = None
) -> RecDataset:
    """Loads `fashion_mnist_users/<config>` (see the module docstring).

    Args:
      config: "default" or "tiny".
      fashion_mnist_dir: folder with the four idx `.gz` files; None searches
        Debian's folder, Keras's cache and a prepared TFDS copy.
      seed: simulator seed; None uses the config's default (0), so results
        are comparable across runs.

    Returns:
      The dataset: images `ItemImages(pixels=uint8 [N, 32, 32, 3])`,
      categories tops/bottoms/shoes, `true_scores` set.

    Raises:
      DataError: unknown config, or missing/malformed files (the message
        names them and says what to do).
    """
    return load_with_classes(config, fashion_mnist_dir, seed)[0]
