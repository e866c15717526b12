# `make run` and `make test` set everything up themselves: Debian packages when missing,
# then .venv with the pinned dependencies, then run.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned on the same pip command as everything that depends on it; otherwise pip
# resolves peft/accelerate to a multi-GB CUDA build. GPU users: see README.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test setup sysdeps lint bench clean

run: setup
	tools/run-app.sh $(BIN)/assetsmith

test: setup
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest --durations=15

lint: setup
	$(BIN)/lint-imports

bench: setup
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

setup: sysdeps $(STAMP)

sysdeps:
	@tools/sysdeps.sh

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt "$(TORCH)" -e ".[dev]"
	@touch $@

clean:
	rm -rf $(VENV) *.egg-info
