"""One content hash for a loaded item or document, used by every cache key and by item matching.

The hash covers every field of the dataclass as loaded, except `source` (where the item sits in
its file: a location for messages, not content). A field added to `Item` or `Document` is covered
without anyone remembering to extend a list; tests mutate each field in turn.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

# Fields that say where an item came from, not what it is: moving an item in its file, or the
# file on disk, does not change a score.
# `cluster` groups items for the statistics only: setting data.fields.cluster re-scores
# (harness.run.keys.scoring_inputs) and never predicts again.
LOCATION_FIELDS = frozenset({"source", "cluster"})


def item_content(obj: Any) -> dict[str, Any]:
    """Every content field of an `Item` or `Document` (a dataclass), by name."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"item_hash needs a dataclass instance, got {type(obj).__name__}")
    return {
        f.name: getattr(obj, f.name)
        for f in dataclasses.fields(obj)
        if f.name not in LOCATION_FIELDS
    }


def item_hash(obj: Any) -> str:
    """A sha256 (hex) of the item's type and content, canonical JSON (sorted keys, tuples as lists)."""
    payload = {"type": type(obj).__name__, "content": item_content(obj)}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def short_item_hash(obj: Any) -> str:
    """The first 16 hex digits of `item_hash`: what samples and baselines store per item."""
    return item_hash(obj)[:16]
