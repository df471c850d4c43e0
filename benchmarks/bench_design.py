r"""Benchmark: seconds per design query (delta-hat, m = 64 restarts x 50 Adam steps).

    python benchmarks/bench_design.py [--recommender=DIR --gan=DIR] [--repeats=3]

Times `design.optimize.Designer.maximize` for one (user, category) query,
end to end (starting points, the batched ascent with G, Phi and D, the eq. 11
draw and the returned images), and compares it with the work it cannot
avoid: restarts x steps forward+backward passes of G and the item tower
chained (d/dz of theta . Phi(Delta G(z)) for a [restarts, z_dim] batch,
`steps` sequential times inside one tf.function, each pass starting from
the previous one's z), timed alone. Goal: ratio <= 1.3. The query also
runs D forward and backward (the eta term of eq. 10), which the baseline
does not: `d_share` reports that part, timed the same way.

Without --recommender/--gan the exports are stand-ins (design/standins.py)
of CPU size: a 64x64 CNN-F tower twice as wide as the "small" DVBPR preset
(`design.standins.SMALL_RECOMMENDER`) and the "small32" GAN's shape. Ends with one JSON line. Numbers depend on what else runs on
the machine.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from common import config_flags
from common.images import tf_grey_to_rgb
from common.runtime import emit_result, write_config
from design import standins
from design.config import DesignConfig
from design.ops import nearest_upscale
from design.optimize import Designer
from exports.gan import load_generator
from exports.recommender import load_recommender


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """What was measured (each field is the flag of its name).

    Attributes:
      recommender: Recommender export (stand-in when unset).
      gan: GAN export (stand-in when unset).
      restarts: m, restarts per query.
      steps: Adam steps per query.
      repeats: Timed repetitions of each measurement (median reported).
    """

    recommender: str | None = None
    gan: str | None = None
    restarts: int = 64
    steps: int = 50
    repeats: int = 3


BENCH_FLAGS = config_flags.define_flags(
    BenchConfig,
    [f.name for f in dataclasses.fields(BenchConfig)],
    defaults=BenchConfig(),
    unset_help=None,
)
flags.DEFINE_string("workdir", None, "If set, the resolved config is written here.")

FLAGS = flags.FLAGS


def _median_seconds(fns, repeats: int) -> list[float]:
    """Median wall seconds of each function, calls interleaved so that load drifts hit all alike."""
    for fn in fns:
        fn()  # warm-up: traces the tf.functions
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _baseline(designer: Designer, restarts: int, steps: int, with_d: bool = False):
    """steps x (forward + backward of G then Phi [then D]) on [restarts, z_dim], in one tf.function."""
    rec, gan = designer.rec, designer.gan
    theta = tf.constant(rec.theta[:1])
    z = tf.constant(designer.initial_z(1, restarts, 0)[0])
    category = tf.zeros([restarts], tf.int32)

    @tf.function
    def run(z):
        def body(t, z, acc):
            with tf.GradientTape() as tape:
                tape.watch(z)
                images = gan.generate(z, category)
                emb = rec.embed(nearest_upscale(tf_grey_to_rgb(images), rec.image_size))
                total = tf.reduce_sum(theta * emb)
                if with_d:
                    total -= tf.reduce_sum(tf.square(gan.discriminate(images, category) - 1.0))
            grad = tape.gradient(total, z)
            # Each pass starts from the previous one's result, as in any 50-step ascent:
            # otherwise tf.while_loop could overlap independent iterations.
            return t + 1, z + 1e-4 * grad, acc + grad

        _, _, acc = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), z, tf.zeros_like(z))
        )
        return acc

    return lambda: run(z).numpy()


def main(argv) -> None:
    del argv
    config = config_flags.resolve(BenchConfig(), BENCH_FLAGS.values())
    if FLAGS.workdir:
        write_config(FLAGS.workdir, config)
    with tempfile.TemporaryDirectory() as tmp:
        rec_dir, gan_dir = config.recommender, config.gan
        if rec_dir is None:
            spec = dataclasses.replace(standins.SMALL_RECOMMENDER, num_items=120, num_users=100)
            rec_dir = standins.save(standins.recommender_module(spec), os.path.join(tmp, "rec"))
        if gan_dir is None:
            gan_dir = standins.save(
                standins.gan_module(standins.SMALL_GAN), os.path.join(tmp, "gan")
            )
        rec, gan = load_recommender(rec_dir), load_generator(gan_dir)
        design_config = DesignConfig(restarts=config.restarts, steps=config.steps)
        designer = Designer(rec, gan, design_config)
        user = np.array([0])
        category = np.array([int(np.max(rec.item_categories[rec.item_categories >= 0]))])
        query_seconds, base_seconds, with_d_seconds = _median_seconds(
            [
                lambda: designer.maximize(user, category),
                _baseline(designer, config.restarts, config.steps),
                _baseline(designer, config.restarts, config.steps, with_d=True),
            ],
            config.repeats,
        )
    ratio = query_seconds / base_seconds
    logging.info(
        "design query %.3f s, G+Phi forward/backward alone %.3f s, ratio %.2f",
        query_seconds,
        base_seconds,
        ratio,
    )
    emit_result(
        {
            "seconds_per_query": query_seconds,
            "g_phi_forward_backward_seconds": base_seconds,
            "ratio": ratio,
            "g_phi_d_forward_backward_seconds": with_d_seconds,
            "d_share": (with_d_seconds - base_seconds) / base_seconds,
            "ratio_to_g_phi_d": query_seconds / with_d_seconds,
            "goal_ratio": 1.3,
            "meets_goal": bool(ratio <= 1.3),
            "restarts": config.restarts,
            "steps": config.steps,
            "gan_resolution": gan.resolution,
            "recommender_image_size": rec.image_size,
            "stand_ins": config.recommender is None or config.gan is None,
        }
    )


if __name__ == "__main__":
    app.run(main)
