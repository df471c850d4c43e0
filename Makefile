# `make test` and `make demo` work from a clean clone with only Python 3.11:
# both create .venv when it is missing and install the package into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKDIR ?= /tmp/dvbpr_demo

.PHONY: install test lint format demo bench bench-scale clean

$(VENV)/.installed: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: lint
	$(PY) -m pytest -q tests

demo: install
	bash scripts/demo.sh $(WORKDIR)

# bench_paper_scale.py writes GBs and runs for hours: `make bench-scale`.
bench: install
	for b in $(filter-out benchmarks/bench_paper_scale.py,$(wildcard benchmarks/*.py)); do \
		$(PY) $$b || exit 1; done

# Every stage at the paper's size (Amazon Fashion; see the script's docstring).
# make bench-scale SCALE_FLAGS="--dataset_size=tradesy --scale=0.1"
SCALE_WORKDIR ?= /tmp/paper_scale
SCALE_FLAGS ?= --dataset_size=amazon_fashion --scale=1
bench-scale: install
	PYTHONPATH=. $(PY) benchmarks/bench_paper_scale.py --workdir=$(SCALE_WORKDIR) $(SCALE_FLAGS) \
		| tee $(SCALE_WORKDIR).jsonl

clean:
	rm -rf $(VENV) build *.egg-info
