"""Recommenders other than DVBPR: the paper's Table III baselines.

  config.py     frozen configs and grids (`get_config`)
  train_lib.py  `train_baseline`: one baseline trained with selection and evaluated
  selection.py  epochs and grid points on validation; a validation carved from train
  trainer.py    fused sparse BPR / WARP training steps
  models.py     the factor models (BPR-MF, WARP, VBPR, FM)
  losses.py     WARP's loss (BPR's is `data.bpr.bpr_loss`, shared with DVBPR)
  optim.py      row-wise Adagrad and SGD on sparse rows
  scorers.py    RAND and VisRank (no training)

Triplets come from `data.bpr.TripletSampler`, the sampler DVBPR uses too.
"""
