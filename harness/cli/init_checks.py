"""What `adaptbench init` checks around the suite it writes: where it may write it, what to
call it, and what in the loaded data would quietly change a verdict (warnings it prints).
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.data.tasks import TaskData

# File and folder names that say nothing about the data (`eval.jsonl`, `data/`, `suite.yaml`):
# a suite and task named after them would all be called alike.
GENERIC_NAMES = frozenset(
    {"suite", "eval", "evaluation", "test", "train", "dev", "items", "data", "dataset", "task"}
)
EXAMPLES = 3  # ids shown in a warning


def out_problem(out: Path) -> str | None:
    """Why the suite cannot be written at `out` (a parent that is a file), or None."""
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"--out {out}: {parent} is a file, not a folder"
            return None
    return None


def suite_name(name: str | None, out: Path, primary: Path) -> str:
    """`--name`, else the first meaningful of: the suite file's name, the data's folder, the
    items file's name (`eval` for `--eval eval.jsonl` would name every such suite alike)."""
    candidates = [name] if name else [out.stem, primary.resolve().parent.name, primary.stem]
    for candidate in candidates:
        norm = re.sub(r"[^a-z0-9]+", "-", str(candidate).strip().lower()).strip("-")
        if norm and (name or norm not in GENERIC_NAMES):
            return norm
    return "task"


def data_warnings(task: TaskData) -> list[str]:
    """Warnings about the loaded items: ids shared across splits, no answerable item."""
    out = []
    splits = task.splits
    for first, second in (("train", "eval"), ("train", "dev"), ("dev", "eval")):
        shared = sorted(
            {i.id for i in splits.get(first, [])} & {i.id for i in splits.get(second, [])}
        )
        if shared:
            out.append(
                f"{len(shared)} id(s) are used by both {first} and {second} items (e.g. "
                f"{shared[:EXAMPLES]}): an item is never shown its own id as a shot, so each of "
                "them loses a train example, and runs pair items by id. Give the files distinct "
                "ids (or set data.fields.id: null to number them by split)"
            )
    every = [i for items in splits.values() for i in items]
    if task.spec.scoring == "generate" and every and not any(i.answerable for i in every):
        out.append(
            f"every one of the {len(every)} items has an empty answer or one that says there is "
            "no answer: all are unanswerable, so only abstaining scores. Check that "
            f"data.fields.answers ({task.spec.data.fields.answers!r}) is the answer column"
        )
    return out
