# The verbs people type. Every target sets up .venv itself when it is missing or stale.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test lint typecheck unit bench schemas docs constructs synth clean install

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,local,cdk]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/meshkit demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest -q -n 2

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

schemas: $(STAMP)
	$(BIN)/meshkit events export events/schemas
	$(BIN)/python -m meshkit.docgen events docs/events.md

# Synthesize the example apps (cdk-nag AwsSolutions runs as a validation plugin: an
# unacknowledged finding fails the synth) into examples/*/cdk.out/.
synth: $(STAMP)
	cd examples/central && CDK_OUTDIR=cdk.out ../../$(BIN)/python app.py
	cd examples/domain && CDK_OUTDIR=cdk.out ../../$(BIN)/python app.py

constructs: $(STAMP)
	$(BIN)/python -m meshkit.constructs.docgen constructs/

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache examples/*/cdk.out
