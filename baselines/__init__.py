"""Recommenders other than DVBPR: the paper's Table III baselines."""
