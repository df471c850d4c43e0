r"""The catalogue-embedding pass of DVBPR as a fraction of matmul FLOP/s.

    python benchmarks/bench_dvbpr_embed.py [--preset=paper] [--items=256]

Embeds a catalogue held decoded in memory through
`dvbpr_tf.train_lib.Trainer.item_embeddings` (data.pipeline.item_dataset
batches -> CNN-F forward, no dropout), counts the forward FLOPs
analytically (`dvbpr_tf.models.forward_flops`) and divides the achieved
FLOP/s by the dense float32 matmul FLOP/s measured in the same process.
Goal: >= 0.6. Ends with one JSON line.
"""

from __future__ import annotations

import dataclasses
import sys

from absl import app, flags

from common import runtime
from dvbpr_tf import benchmark, models, train_lib
from dvbpr_tf import config as config_lib

flags.DEFINE_string("preset", "paper", "Preset to time.")
flags.DEFINE_integer("items", 256, "Catalogue size.")
flags.DEFINE_integer("eval_batch_size", 128, "Images per forward call.")
FLAGS = flags.FLAGS

GOAL = 0.6


def main(argv):
    del argv
    config = dataclasses.replace(
        config_lib.get_preset(FLAGS.preset), eval_batch_size=FLAGS.eval_batch_size
    )
    ds = benchmark.random_dataset(100, FLAGS.items, config.image_size)
    trainer = train_lib.Trainer(config, ds, "/tmp/bench_dvbpr_embed_unused")
    trainer.item_embeddings()  # trace, and decode the store
    flops = models.forward_flops(config)["total"] * ds.num_items
    m = benchmark.fraction_of_matmul(trainer.item_embeddings, flops, repeats=1)
    sys.stderr.write(
        f"embed {ds.num_items} items ({config.preset}, {config.image_size}px): "
        f"{m['seconds']:.2f}s, {ds.num_items / m['seconds']:.1f} images/s, "
        f"{m['achieved_gflops']:.1f} GFLOP/s vs matmul {m['matmul_gflops']:.1f} GFLOP/s "
        f"-> {m['ratio']:.2f} (goal >= {GOAL})\n"
    )
    runtime.emit_result(
        {
            "benchmark": "dvbpr_embed_catalogue",
            "preset": config.preset,
            "items": ds.num_items,
            "images_per_sec": ds.num_items / m["seconds"],
            **m,
            "goal": GOAL,
            "meets_goal": m["ratio"] >= GOAL,
        }
    )


if __name__ == "__main__":
    app.run(main)
