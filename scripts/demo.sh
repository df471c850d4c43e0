#!/usr/bin/env bash
# `make demo`: the whole system on the embedded synthetic_fashion dataset:
# data -> DVBPR and the fast baselines -> GAN -> design -> evaluation, with
# every result gathered into $WORKDIR/report/index.md.
# Defaults are the sizes verified end to end (1 DVBPR epoch, 1 GAN epoch,
# 16 Table IV trials); DVBPR_EPOCHS, GAN_EPOCHS, TABLE4_TRIALS raise them.
set -euo pipefail
WORKDIR=${1:-/tmp/dvbpr_demo}
PY=${PY:-.venv/bin/python}
DATASET=synthetic_fashion
mkdir -p "$WORKDIR"
step() { echo "== $* ==" >&2; }

step "1/7 describe the data"
$PY -m data.describe --dataset=$DATASET --workdir="$WORKDIR/data" > "$WORKDIR/data.json"

step "2/7 DVBPR"
$PY -m dvbpr_tf.train --dataset=$DATASET --workdir="$WORKDIR/dvbpr" --epochs=${DVBPR_EPOCHS:-1} \
  > "$WORKDIR/dvbpr.json"

step "3/7 fast baselines (Table III)"
$PY -m eval.table3 --datasets=$DATASET --models=rand,poprank,warp,bprmf --grid=none \
  --workdir="$WORKDIR/table3" > "$WORKDIR/table3.json"

step "4/7 GAN"
$PY -m gan_tf.train --dataset=$DATASET --resolution=32 --epochs=${GAN_EPOCHS:-1} \
  --workdir="$WORKDIR/gan" > "$WORKDIR/gan.json"
$PY -m eval.gan_report --gan="$WORKDIR/gan/export" --dataset=$DATASET \
  --workdir="$WORKDIR/gan_report" > "$WORKDIR/gan_report.json"

step "5/7 design for a few users"
$PY -m design.generate --recommender="$WORKDIR/dvbpr/export" --gan="$WORKDIR/gan/export" \
  --dataset=$DATASET --user=0,1,2 --category=1 --out="$WORKDIR/design" > "$WORKDIR/design.json"

step "6/7 Table IV"
$PY -m eval.table4 --recommender="$WORKDIR/dvbpr/export" --gan="$WORKDIR/gan/export" \
  --dataset=$DATASET --trials=${TABLE4_TRIALS:-16} --sweep_trials=20 --imagenet=false \
  --workdir="$WORKDIR/table4" > "$WORKDIR/table4.json"

step "7/7 report"
$PY scripts/make_report.py "$WORKDIR"
