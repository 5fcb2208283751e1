# Every target does its own set-up: `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CDK := npx --yes aws-cdk@2.1148.1
# Extra CDK CLI arguments, e.g. make deploy CDK_ARGS="-c alarm_email=ops@example.com -c memory_mb=3008"
CDK_ARGS ?=
# The Lambda's dependencies as linux/arm64 wheels, so synth (bundling) works offline.
WHEELS := .cache/lambda-wheelhouse/.downloaded
# Keep jsii, npm, pip and CDK CLI caches inside the project, not the user's home.
# (jsii ignores XDG_CACHE_HOME on Linux: it has its own variable for its package cache.)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export XDG_CACHE_HOME := $(CURDIR)/.cache
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/.cache/jsii
export npm_config_cache := $(CURDIR)/.cache/npm
export CDK_HOME := $(CURDIR)/.cache/cdk

.PHONY: install test lint demo synth deploy destroy bench clean

$(STAMP): requirements.txt requirements-dev.txt lambdas/image_analysis/requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e .
	touch $@

# pip download of the Lambda's pinned requirements for its platform (infra/wheelhouse.py holds the
# platform flags bundling uses too). Its own target, so deleting .cache/ alone is repaired as well.
$(WHEELS): lambdas/image_analysis/requirements.txt infra/wheelhouse.py | $(STAMP)
	$(PY) -m infra.wheelhouse
	touch $@

install: $(STAMP) $(WHEELS)

# The report renderer's browser test screenshots a page in headless Chromium (Debian's `chromium`
# package): install it where missing, as root or through sudo. Without apt-get that test is skipped.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "chromium missing and no apt-get: the report's browser test will be skipped"; exit 0; fi; \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=; \
	  elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	  else echo "chromium missing, not root and no sudo: the report's browser test will be skipped"; exit 0; fi; \
	  echo "Installing chromium (headless browser for the report test)"; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: install | chromium
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: install
	$(VENV)/bin/imgpipe demo

synth: install
	$(CDK) synth --quiet $(CDK_ARGS)

deploy: install
	$(CDK) deploy --require-approval broadening $(CDK_ARGS)

destroy: install
	$(CDK) destroy $(CDK_ARGS)

# Regenerates docs/benchmarks.md and docs/img/bench-*.png (about 10 minutes); e.g.
# make bench BENCH_ARGS=--quick, or BENCH_ARGS=latency to rerun one benchmark.
bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache cdk.out .pytest_cache .mypy_cache .ruff_cache .imgpipe
