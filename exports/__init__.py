"""The SavedModel contract between the trainers and their consumers.

`dvbpr_tf` and `gan_tf` write SavedModels; `design` and `eval` read them
with `tf.saved_model.load` alone. This package, on the floor between
`data` and the model packages, is the one place both sides agree on:

- `exports.common`: the directory rule (`resolve_export_dir`: an export
  directory, or a training workdir holding `export/`) and small helpers
  for reading restored functions;
- `exports.recommender`: the recommender's signature names, the
  catalogue record (`catalogue.json`: the dataset, its `DataOptions` and a
  fingerprint of its item ids) and its check against a dataset, and the
  loaders `load_recommender` (design's view) and `load_embedder`
  (`eval.recommender`'s view);
- `exports.gan`: the GAN's signature names, `gan_metadata.json`, and the
  loaders `load_gan` (NumPy in and out, argument checks) and
  `load_generator` (tensors in and out, differentiable, for design).

Producers import the names from here; consumers import only the loaders.
Nothing here imports TensorFlow model code: the loaders rely on the
exports' documented interfaces.
"""
