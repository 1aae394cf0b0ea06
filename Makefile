# The verbs people type. Every target sets up .venv itself when it is missing or stale.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo portal browser test lint typecheck unit test-floors bench schemas docs constructs synth clean install

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,local,cdk,portal]'
	touch $(STAMP)

# The portal's browser test drives Debian's chromium (never a Playwright browser download).
# Installed when missing and apt can; where it cannot, that one test skips and says why.
browser:
	@command -v chromium >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium chromium-driver >/dev/null) || echo "chromium could not be installed: the browser test will skip"; \
	  else echo "chromium missing and apt-get not usable as root: the browser test will skip"; fi; }

install: $(STAMP) browser

# A second environment with the lowest versions pyproject.toml declares for the core and the
# `cdk` extra (tools/floors.py), so the declared floors are tested, not only constraints.txt.
FLOORS := .venv-floors
FLOORS_STAMP := $(FLOORS)/.installed

$(FLOORS_STAMP): pyproject.toml constraints.txt tools/floors.py
	test -x $(FLOORS)/bin/python || $(PY) -m venv $(FLOORS)
	$(FLOORS)/bin/python -m pip install --quiet --upgrade pip
	$(PY) tools/floors.py cdk > $(FLOORS)/floors.txt
	$(FLOORS)/bin/python -m pip install --quiet -c $(FLOORS)/floors.txt -e '.[cdk,dev]'
	touch $(FLOORS_STAMP)

demo: $(STAMP)
	$(BIN)/meshkit demo

# The self-service portal on the demo mesh (http://127.0.0.1:8765/; a persisted mesh of
# `meshkit local up` when there is one).
portal: $(STAMP)
	$(BIN)/meshkit portal

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples tools
	$(BIN)/ruff format --check src tests bench examples tools

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP) browser
	$(BIN)/pytest -q -n 2

# The construct tests once more, at the floors of the `cdk` extra (and of pydantic and boto3):
# the templates (cdk-nag AwsSolutions on), the Lake Formation module (nag and cfn-lint), the
# synth-time validation and packaging; two syntheses in all, to keep `make test` short.
FLOOR_TESTS := tests/constructs/test_templates.py tests/constructs/test_lake_formation.py \
	tests/constructs/test_validation.py tests/unit/test_packaging.py
test-floors: $(FLOORS_STAMP)
	$(FLOORS)/bin/pytest -q -n 2 -p no:cacheprovider $(FLOOR_TESTS)

test: lint typecheck unit test-floors

bench: $(STAMP)
	$(BIN)/python -m bench

schemas: $(STAMP)
	$(BIN)/meshkit events export events/schemas
	$(BIN)/python -m meshkit.docgen events docs/events.md
	$(BIN)/python -m meshkit.docgen trust docs/trust.md

# Synthesize the example apps (cdk-nag AwsSolutions runs as a validation plugin: an
# unacknowledged finding fails the synth) into examples/*/cdk.out/.
synth: $(STAMP)
	cd examples/central && CDK_OUTDIR=cdk.out ../../$(BIN)/python app.py
	cd examples/domain && CDK_OUTDIR=cdk.out ../../$(BIN)/python app.py

constructs: $(STAMP)
	$(BIN)/python -m meshkit.constructs.docgen constructs/

clean:
	rm -rf $(VENV) $(FLOORS) .pytest_cache .mypy_cache .ruff_cache examples/*/cdk.out
