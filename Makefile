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
# The Lambda runs CPython 3.13: a second venv with that version (found by `python -m infra.wheelhouse
# --interpreter`: IMGPIPE_PYTHON313, python3.13 on PATH, or pyenv's) runs the Lambda's unit tests.
VENV313 ?= .venv313
STAMP313 := $(VENV313)/.installed-stamp
# The Lambda's own tests (pure, and against moto and the simulated AI services) on the Lambda's Python.
LAMBDA_TESTS := tests/unit tests/integration
# Keep jsii, npm, pip and CDK CLI caches inside the project, not the user's home.
# (jsii ignores XDG_CACHE_HOME on Linux: it has its own variable for its package cache.)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export XDG_CACHE_HOME := $(CURDIR)/.cache
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/.cache/jsii
export npm_config_cache := $(CURDIR)/.cache/npm
export CDK_HOME := $(CURDIR)/.cache/cdk

.PHONY: install test test-fast lint demo synth deploy destroy bench clean venv313 coldimport

$(STAMP): requirements.txt requirements-dev.txt lambdas/image_analysis/requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e '.[local]'
	touch $@

# pip download of the Lambda's pinned requirements for its platform (infra/wheelhouse.py holds the
# platform flags bundling uses too). Its own target, so deleting .cache/ alone is repaired as well.
$(WHEELS): lambdas/image_analysis/requirements.txt infra/wheelhouse.py | $(STAMP)
	$(PY) -m infra.wheelhouse
	touch $@

install: $(STAMP) $(WHEELS)

# The function's pinned requirements with --no-deps, as in the asset (no numpy/scipy for reverse-geocode),
# then what the tests need (same pins as requirements-dev.txt). Recreated if its Python is not 3.13.
$(STAMP313): lambdas/image_analysis/requirements.txt tests/runtime/requirements-py313.txt infra/wheelhouse.py | $(STAMP)
	@py=$$($(PY) -m infra.wheelhouse --interpreter) || exit 1; \
	  $(VENV313)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { \
	    echo "Creating $(VENV313) with $$py"; rm -rf $(VENV313); $$py -m venv $(VENV313); }
	$(VENV313)/bin/python -m pip install --quiet --upgrade pip
	$(VENV313)/bin/python -m pip install --quiet --no-deps -r lambdas/image_analysis/requirements.txt
	$(VENV313)/bin/python -m pip install --quiet -r tests/runtime/requirements-py313.txt
	touch $@

venv313: $(STAMP313)

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

# tests/runtime/ runs the bundled asset on linux/arm64 CPython 3.13 (Debian's, under qemu-user): this
# installs Debian's qemu-user-static and mmdebstrap where missing (as root or through sudo), then builds
# that Python once into .cache/arm64-python313/. Where it cannot, that test is skipped and says why.
.PHONY: arm64-python
arm64-python: install
	@missing=; \
	  command -v qemu-aarch64-static >/dev/null 2>&1 || missing="$$missing qemu-user-static"; \
	  command -v mmdebstrap >/dev/null 2>&1 || missing="$$missing mmdebstrap"; \
	  if [ -n "$$missing" ]; then \
	    if ! command -v apt-get >/dev/null 2>&1; then echo "no apt-get to install$$missing"; \
	    elif [ "$$(id -u)" -eq 0 ]; then sudo=; install=yes; \
	    elif command -v sudo >/dev/null 2>&1; then sudo=sudo; install=yes; \
	    else echo "not root and no sudo to install$$missing"; fi; \
	    if [ -n "$$install" ]; then \
	      echo "Installing$$missing (to run the Lambda asset on arm64)"; \
	      $$sudo apt-get update -qq && \
	      $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; fi; \
	  fi
	$(PY) -m tests.runtime.sysroot

# The suite on the venv's Python, then the Lambda's unit tests on CPython 3.13 (the deployed version).
test: install $(STAMP313) | chromium arm64-python
	$(PY) -m pytest
	$(VENV313)/bin/python -m pytest -p no:cacheprovider $(LAMBDA_TESTS)

# The pure tests only (no moto, no servers, no subprocesses): seconds, for the edit-test loop.
test-fast: install
	$(PY) -m pytest -q tests/unit

# Cold import of the handler from the asset as shipped vs without its bytecode, on CPython 3.13:
# x86_64 here; make coldimport COLDIMPORT_ARGS=--arm64 adds the asset on arm64 under qemu (slow).
coldimport: install $(STAMP313) arm64-python
	$(PY) -m tests.runtime.coldimport $(COLDIMPORT_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# e.g. make demo DEMO_ARGS=--simulated-ai (simulated Bedrock/Rekognition answers, marked as such)
DEMO_ARGS ?=
demo: install
	$(VENV)/bin/imgpipe demo $(DEMO_ARGS)

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
	rm -rf $(VENV) $(VENV313) .cache cdk.out .pytest_cache .mypy_cache .ruff_cache .imgpipe
