#!/usr/bin/env bash
# `make demo`: the whole system on the embedded synthetic_fashion dataset:
# data -> DVBPR and the fast baselines -> GAN -> design -> evaluation, with
# every result gathered into $WORKDIR/report/index.md and TensorBoard.
#
# The sizes fit the 20-minute budget on a 2-core CPU; they are far below
# what the README's results use (10 DVBPR epochs, a GAN trained ~8 epochs,
# 300 Table IV trials). Raise them with DVBPR_EPOCHS, GAN_EPOCHS,
# TABLE4_TRIALS, SWEEP_TRIALS.
set -euo pipefail
WORKDIR=${1:-/tmp/dvbpr_demo}
PY=${PY:-.venv/bin/python}
DATASET=synthetic_fashion
mkdir -p "$WORKDIR"
: > "$WORKDIR/timings.tsv"

# run NAME CMD...: runs a step, its JSON line into $WORKDIR/NAME.json, its time into timings.tsv.
run() {
  local name=$1
  shift
  echo "== $name: $* ==" >&2
  local start=$SECONDS
  "$@" > "$WORKDIR/$name.json"
  printf '%s\t%s\n' "$name" $((SECONDS - start)) >> "$WORKDIR/timings.tsv"
}

run data $PY -m data.describe --dataset=$DATASET --workdir="$WORKDIR/data"

run dvbpr $PY -m dvbpr_tf.train --dataset=$DATASET --workdir="$WORKDIR/dvbpr" \
  --epochs=${DVBPR_EPOCHS:-4}

run table3 $PY -m eval.table3 --datasets=$DATASET --models=rand,poprank,warp,bprmf,dvbpr \
  --grid=none --dvbpr_from="$WORKDIR/dvbpr" --workdir="$WORKDIR/table3"

# tuned32 (no minibatch-stddev plane; the 32 px default before tuned32_stddev) keeps the
# demo's GAN the one its README figures were measured with: a 5-epoch run, not a default.
run gan $PY -m gan_tf.train --dataset=$DATASET --preset=tuned32 --epochs=${GAN_EPOCHS:-5} \
  --workdir="$WORKDIR/gan"

run gan_report $PY -m eval.gan_report --gan="$WORKDIR/gan/export" --dataset=$DATASET \
  --classifier_epochs=3 --samples_per_category=50 --workdir="$WORKDIR/gan_report"

run design $PY -m design.generate --recommender="$WORKDIR/dvbpr/export" \
  --gan="$WORKDIR/gan/export" --dataset=$DATASET --user=0,1,2 --category=1,3,5 \
  --out="$WORKDIR/design"

run table4 $PY -m eval.table4 --recommender="$WORKDIR/dvbpr/export" --gan="$WORKDIR/gan/export" \
  --dataset=$DATASET --trials=${TABLE4_TRIALS:-32} --sweep_trials=${SWEEP_TRIALS:-16} \
  --etas=0,1,10 --classifier_epochs=3 --imagenet_max_images=300 --workdir="$WORKDIR/table4"

$PY scripts/make_report.py "$WORKDIR"
