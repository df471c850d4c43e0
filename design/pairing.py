"""Whether a recommender export and a GAN export can be used together by design.

    rec = load_recommender("REC_WORKDIR")     # exports.recommender
    gan = load_generator("GAN_WORKDIR")       # exports.gan
    check_pair(rec, gan)

The loaders and the exports' interfaces live in `exports/`; this is
design's own rule on top of them (G's images are upscaled into Phi's
input, paper eq. 9).
"""

from __future__ import annotations

from absl import logging

from data.core import DataError
from exports.gan import LoadedGenerator
from exports.recommender import LoadedRecommender


def check_pair(rec: LoadedRecommender, gan: LoadedGenerator) -> None:
    """Raises DataError when the two exports cannot be used together.

    They fit when the GAN's images can be upscaled (nearest neighbour) to
    the recommender's input (R <= S), have 1 or 3 channels (1 is tiled to
    RGB), and both know the same number of categories.
    """
    if gan.resolution > rec.image_size:
        raise DataError(
            f"The GAN at {gan.path} makes {gan.resolution}x{gan.resolution} images, larger than "
            f"the recommender's {rec.image_size}x{rec.image_size} input ({rec.path}); design "
            f"upscales G's images (paper eq. 9), so train the GAN at a resolution <= "
            f"{rec.image_size}."
        )
    if rec.num_categories != gan.num_categories:
        raise DataError(
            f"The recommender at {rec.path} knows {rec.num_categories} categories "
            f"({', '.join(rec.category_names)}) but the GAN at {gan.path} knows "
            f"{gan.num_categories} ({', '.join(gan.category_names)}): were they trained on the "
            f"same dataset?"
        )
    if rec.category_names and tuple(gan.category_names) != tuple(rec.category_names):
        # GANs trained without names export "0", "1", ...: a naming gap, not a mismatch.
        logging.warning(
            "Category names differ: recommender %s, GAN %s; using the recommender's.",
            rec.category_names,
            gan.category_names,
        )
