# Two commands do all the set-up on a fresh clone:
#   make demo   creates .venv, installs, runs the default suite on the embedded model
#   make test   creates .venv if needed, runs the tests
.PHONY: install demo test test-all lint bench clean

VENV := .venv
PY := $(VENV)/bin/python
DEMO_SUITE ?= suites/insurance-policy-qa.yaml
DEMO_OUT ?= reports/demo
# 60 of the 177 eval questions and 30 items per retention probe keep the demo within 10 minutes
# on a 2-core CPU; `adaptbench run suites/insurance-policy-qa.yaml` runs them all.
DEMO_ARGS ?= --limit 60 --set retention.limit=30
PYTEST_ARGS ?=

install:
	@bash scripts/install.sh

demo: install
	$(VENV)/bin/adaptbench run $(DEMO_SUITE) --out $(DEMO_OUT) $(DEMO_ARGS)
	@echo "Open $(DEMO_OUT)/report.md (results.json and results.csv are beside it)."

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check harness tests benchmarks
	$(VENV)/bin/ruff format --check harness tests benchmarks

bench: install
	$(PY) benchmarks/bench_generate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
