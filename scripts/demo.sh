#!/usr/bin/env bash
# `make demo`: the whole system on the embedded default dataset.
set -euo pipefail
WORKDIR=${1:-/tmp/dvbpr_demo}
PY=${PY:-.venv/bin/python}
mkdir -p "$WORKDIR"
$PY -m data.describe --dataset=synthetic_fashion --workdir="$WORKDIR/data"
