"""Personalized design (paper Section III-D) on exported SavedModels.

- `design.pairing`: whether a recommender and a GAN export (loaded by
  `exports.recommender` / `exports.gan`, `tf.saved_model.load` only) fit
  each other.
- `design.optimize`: `Designer` with retrieval delta(u, c) (eq. 8, in
  `design.retrieval`), preference maximisation delta-hat(u, c) (eqs.
  9-11) and prototype tailoring (eqs. 12, 10); its results in
  `design.results`, Delta and eq. 11's draws in `design.ops`.
- `design.config`: `DesignConfig` and its presets.
- `design.report`: the Fig. 5 / Fig. 6 sheets, line plots and Markdown tables.
- `design.design_lib`: what the binaries `design.generate` (Fig. 5) and
  `design.tailor` (Fig. 6) do.
- `design.standins`: small exports with the same interfaces, for tests
  and benchmarks.
"""
