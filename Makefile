# Every target does its own set-up: `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CDK := npx --yes aws-cdk@2.1148.1
# Keep jsii, npm and pip caches inside the project, not the user's home.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export XDG_CACHE_HOME := $(CURDIR)/.cache
export npm_config_cache := $(CURDIR)/.cache/npm

.PHONY: install test lint demo synth deploy destroy bench clean

$(STAMP): requirements.txt requirements-dev.txt lambdas/image_analysis/requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

install: $(STAMP)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: install
	$(VENV)/bin/imgpipe demo

synth: install
	$(CDK) synth --quiet

deploy: install
	$(CDK) deploy --require-approval broadening

destroy: install
	$(CDK) destroy

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .cache cdk.out .pytest_cache .mypy_cache .ruff_cache .imgpipe
