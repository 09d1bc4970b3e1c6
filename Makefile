# The two set-up commands: `make run` (the MNIST example) and `make test` (lint + tests).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
RUN_ARGS ?=

.PHONY: run test lint bench bench-contention profile graph-svg docs-images clean

$(PYTHON):
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -e ".[examples]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -e ".[dev,examples]"
	touch $@

run: $(VENV)/.installed-run
	$(PYTHON) examples/mnist.py $(RUN_ARGS)

lint: $(VENV)/.installed-dev
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

# Tests check correctness, not speed: one BLAS/OpenMP thread each avoids oversubscribing
# the cores when the suite shares the machine (2-thread BLAS spin-waits badly under load).
test: lint
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PYTHON) -m pytest

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where a machine sets them as workarounds for old
# OpenBLAS builds, halve a current numpy's GEMM speed: the benchmark runs without them (see
# docs/performance.md). Tests and CI keep them.
bench: $(VENV)/.installed-dev
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PYTHON) benchmarks/bench.py

# The same suite, each workload also timed beside a CPU-burning neighbour process.
bench-contention: $(VENV)/.installed-dev
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PYTHON) benchmarks/bench.py --contention

# Milliseconds per training step of each op, beside PyTorch's profile (MODEL=seed or lenet).
MODEL ?= lenet
profile: $(VENV)/.installed-dev
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PYTHON) benchmarks/op_profile.py $(MODEL) --torch

# The README's picture of the seed CNN, drawn by the library itself.
graph-svg: $(VENV)/.installed-dev
	$(PYTHON) -m tinygrad_cnn.viz --model seed --modules --out docs/images/seed_cnn_graph.svg

# Every picture of docs/graphs.md.
docs-images: $(VENV)/.installed-dev
	$(PYTHON) docs/gallery.py docs/images

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
