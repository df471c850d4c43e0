"""`fashion_mnist_users`: real clothing photos with simulated users.

Fashion-MNIST (Zalando SE, MIT licence) holds 70,000 grey 28x28 photos of
clothing in 10 classes. This loader keeps the classes that map onto the
paper's top-level categories and invents users whose tastes depend on what
the photos look like, so that a model which reads pixels (DVBPR) has
something to learn that the class label alone does not give.

Where the files come from (first found wins):

1. `fashion_mnist_dir` (`--fashion_mnist_dir=DIR`), when given: a folder with
   `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
   `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`;
2. Debian's `/usr/share/datasets/fashion-mnist` (`apt-get install
   dataset-fashion-mnist`);
3. Keras's download cache `~/.keras/datasets/fashion-mnist` (or
   `$KERAS_HOME/datasets/fashion-mnist`), which
   `keras.datasets.fashion_mnist.load_data()` fills on a machine with
   internet;
4. a TFDS copy already prepared by `tfds.load('fashion_mnist')` (in
   `$TFDS_DATA_DIR` or `~/tensorflow_datasets`). It is read, never
   downloaded. TFDS stores the examples in its own shuffled order, so its
   items get ids `fmnist-tfds-{train,test}-NNNNN` and a given seed samples a
   different (equally valid) catalogue than from the idx files.

The idx files are parsed here (magic number, dimensions, payload length);
the `.gz` files Debian ships were recompressed, so no hash is checked.

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
  one for test, the rest for training.

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
import gzip
import os
import time
import zlib

import numpy as np
from absl import logging

from data.core import DataError, ItemImages, RecDataset, as_str_ids
from data.splits import hold_out_per_user

NAME = "fashion_mnist_users"

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

# Source split -> (images file, labels file), the names upstream, Debian and
# Keras all use.
SOURCE_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "t10k": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CATEGORY_NAMES = ("tops", "bottoms", "shoes")
# Fashion-MNIST class -> category index; -1 drops the class (Dress, Bag).
CLASS_TO_CATEGORY = np.array([0, 1, 0, -1, 0, 2, 0, 2, -1, 2], np.int64)

IMAGE_SIZE = 28
PADDED_SIZE = 32

# The idx format: two zero bytes, a type code (0x08 = unsigned byte), the
# number of dimensions, then one big-endian int32 per dimension.
_IDX_UBYTE = 0x08
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
# Reading the files.


def read_idx(path: str, ndim: int) -> np.ndarray:
    """Reads one gzip-compressed idx file of unsigned bytes.

    Args:
      path: the `.gz` file.
      ndim: the number of dimensions the file must have (3 for images, 1
        for labels).

    Returns:
      uint8 array of the shape the header gives.

    Raises:
      DataError: unreadable gzip, wrong magic number, wrong number of
        dimensions or a payload of the wrong length; the message names the
        file.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path}: not a readable gzip file ({e}). Reinstall it "
            f"(apt-get install --reinstall dataset-fashion-mnist) or point "
            f"--fashion_mnist_dir at a good copy."
        ) from e
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an idx header.")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] != ndim:
        raise DataError(
            f"{path}: bad idx magic number 0x{raw[:4].hex()}; expected "
            f"0x0000{_IDX_UBYTE:02x}{ndim:02x} (unsigned bytes, {ndim} dimension(s)). "
            f"Is this a Fashion-MNIST {'images' if ndim == 3 else 'labels'} file?"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: the header promises {dims} = {expected} bytes of data but "
            f"the file holds {len(raw) - header}; the file is truncated or corrupt."
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_split(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = (os.path.join(folder, f) for f in SOURCE_FILES[split])
    images = read_idx(images_file, 3)
    labels = read_idx(labels_file, 1)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(
            f"{images_file}: images are {images.shape[1]}x{images.shape[2]}; "
            f"Fashion-MNIST's are {IMAGE_SIZE}x{IMAGE_SIZE}."
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_file} holds {len(images)} images but {labels_file} holds "
            f"{len(labels)} labels; the two files must come from the same release."
        )
    if len(labels) and labels.max() >= len(CLASS_NAMES):
        raise DataError(
            f"{labels_file}: label {int(labels.max())} is out of range; "
            f"Fashion-MNIST labels are 0..{len(CLASS_NAMES) - 1}."
        )
    return images, labels


def _has_files(folder: str) -> bool:
    return all(
        os.path.exists(os.path.join(folder, f)) for pair in SOURCE_FILES.values() for f in pair
    )


def _keras_cache_dir() -> str:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets", "fashion-mnist")


def _missing_files_error(folder: str | None, searched: list[str]) -> DataError:
    names = ", ".join(f for pair in SOURCE_FILES.values() for f in pair)
    if folder is not None:
        missing = [
            f
            for pair in SOURCE_FILES.values()
            for f in pair
            if not os.path.exists(os.path.join(folder, f))
        ]
        where = f"--fashion_mnist_dir={folder} lacks {', '.join(missing)}"
    else:
        where = f"Fashion-MNIST was not found (looked in {', '.join(searched)})"
    return DataError(
        f"{where}. {NAME} needs the four idx files {names}. Either "
        f"`apt-get install dataset-fashion-mnist` (installs them in {DEBIAN_DIR}), "
        f"or pass `--fashion_mnist_dir=DIR` pointing at a folder holding them, or, "
        f"on a machine with internet, run `tfds.load('fashion_mnist')` (a prepared "
        f"TFDS copy is picked up when no folder is given) or "
        f"`keras.datasets.fashion_mnist.load_data()` (saves the files in "
        f"{_keras_cache_dir()}, which is searched too)."
    )


def _read_tfds() -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Fashion-MNIST from an already prepared TFDS copy, or None.

    Never downloads: a builder that is not prepared is left alone.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    try:
        builder = tfds.builder("fashion_mnist")
        if not builder.is_prepared():
            return None
        out = {}
        for split in ("train", "test"):
            # Batches of a known size rather than batch_size=-1, which needs a
            # known cardinality.
            batches = list(
                tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False).batch(10000))
            )
            out[split] = (
                np.concatenate([b["image"] for b in batches])
                .astype(np.uint8)
                .reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
                np.concatenate([b["label"] for b in batches]).astype(np.uint8),
            )
        return out
    except Exception as e:  # A broken TFDS copy must not hide the real advice.
        logging.warning("Could not read the prepared TFDS fashion_mnist: %s", e)
        return None


def read_fashion_mnist(
    fashion_mnist_dir: str | None = None,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """Finds and reads Fashion-MNIST.

    Args:
      fashion_mnist_dir: folder with the four idx `.gz` files; when None,
        Debian's folder, then Keras's cache, then a prepared TFDS copy.

    Returns:
      ({source split: (uint8 [n, 28, 28] images, uint8 [n] labels in 0..9)},
      source) where the splits are "train"/"t10k" for idx files and
      "tfds-train"/"tfds-test" for TFDS, and source names the folder or
      "tfds".

    Raises:
      DataError: files missing (the message says how to get them) or
        malformed (the message names the file).
    """
    if fashion_mnist_dir is not None:
        folder = os.path.expanduser(fashion_mnist_dir)
        if not _has_files(folder):
            raise _missing_files_error(folder, [])
        return {s: _read_split(folder, s) for s in SOURCE_FILES}, folder
    searched = [DEBIAN_DIR, _keras_cache_dir()]
    for folder in searched:
        if _has_files(folder):
            return {s: _read_split(folder, s) for s in SOURCE_FILES}, folder
    tfds_data = _read_tfds()
    if tfds_data is not None:
        return {f"tfds-{s}": v for s, v in tfds_data.items()}, "tfds"
    raise _missing_files_error(None, [*searched, "TFDS prepared data"])


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
