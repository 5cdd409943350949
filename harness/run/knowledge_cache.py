"""The knowledge drills' cache: each drill part stored under `<cache>/knowledge/<kind>/` by a
key of its inputs and of the code that computes it (harness.run.knowledge and
harness.run.knowledge_drills both read and write through it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from harness.common.cache_entry import read_json_entry
from harness.common.files import write_json_atomic
from harness.common.fingerprint import code_fingerprint
from harness.common.itemhash import item_hash
from harness.common.log import log
from harness.data.tasks import Item
from harness.models.resolve import cache_dir

_OWN_CODE = (
    "run/knowledge.py",
    "run/knowledge_cache.py",
    "run/knowledge_drills.py",
    "engine/knowledge.py",
    "engine/counterfactual.py",
)


def code_key() -> str:
    """The drills' own code and the code that predicts: an edit to either recomputes them."""
    h = hashlib.sha256(code_fingerprint("prediction").encode())
    root = Path(__file__).resolve().parents[1]
    for name in _OWN_CODE:
        h.update((root / name).read_bytes())
    return h.hexdigest()[:16]


def cached_part(kind: str, inputs: dict, compute: Callable[[], dict]) -> dict:
    """One drill part, from `<cache>/knowledge/<kind>/<key>.json` when its inputs are unchanged,
    else computed and stored (a file entry: harness.common.cache_entry). The part carries its key and whether it was reused."""
    text = json.dumps({"kind": kind, "code": code_key(), **inputs}, sort_keys=True, default=str)
    key = hashlib.sha256(text.encode()).hexdigest()[:20]
    path = part_path(kind, key)
    cached = read_json_entry(  # a damaged one is said, then recomputed
        path,
        lambda problem: log(
            f"warning: damaged knowledge cache {path} ({problem}); computing it again"
        ),
    )
    if cached is not None:
        return cached | {"key": key, "reused": True}
    data = compute()
    write_json_atomic(path, data)
    return data | {"key": key, "reused": False}


def part_path(kind: str, key: str) -> Path:
    return cache_dir() / "knowledge" / kind / f"{key}.json"


def items_key(items: list[Item]) -> list[str]:
    return [item_hash(i) for i in items]
