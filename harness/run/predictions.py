"""Stored predictions: what a cell's arm produced, kept apart from its scores.

A cell has two keys (`harness.run.store.cell_keys`): the prediction key covers what decides its
predictions, the full key adds what decides its scores. The predictions of a finished cell are
stored under `<cache>/predictions/<prediction key>/`: the per-item prediction fields first, then
`meta.json` (atomically) with their checksum, the predict-side record parts (efficiency and
training stats, forgetting, environment, timings) and what they were last scored with. So when
only the metrics or the scoring code changed, the runner re-scores them in seconds instead of
generating again. Only predictions of a cell whose arm finished are stored; a damaged entry
(unparsable meta, rows that do not match its checksum or item count) is reported and the cell
predicts again, never reusing it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.base.files import write_json_atomic, write_text_atomic
from harness.base.log import log
from harness.metrics import JUDGE_KEY, SIMILARITY_KEY, Prediction
from harness.models.resolve import cache_dir

PREDICTIONS_FORMAT = 1  # bump when the stored layout changes: older entries then miss

# The per-item fields a Prediction holds: all of them are stored, none is derived from a metric.
PREDICTION_FIELDS = (
    "output",
    "prompt",
    "abstained",
    "choice",
    "choice_logprobs",
    "new_tokens",
    "latency_s",
    "extra",
)
# The record parts a prediction run decides; a re-scored record takes them from the store.
RECORD_PARTS = ("environment", "efficiency", "forgetting", "started", "finished")


@dataclass
class StoredPredictions:
    """A cell's predictions as stored, with its predict-side record parts."""

    preds: list[Prediction]
    parts: dict[str, Any]  # RECORD_PARTS present in the predicting run's record
    scored_with: dict[str, Any]  # the scoring inputs they were last scored with


def predictions_folder(key: str) -> Path:
    return cache_dir() / "predictions" / key


def prediction_row(pred: Prediction) -> dict[str, Any]:
    """One prediction as stored. The similarity and judge verdicts scoring annotates are left out."""
    row = {f: getattr(pred, f) for f in PREDICTION_FIELDS}
    row["extra"] = {k: v for k, v in pred.extra.items() if k not in (SIMILARITY_KEY, JUDGE_KEY)}
    return row


def store_predictions(
    key: str, preds: list[Prediction], record: dict[str, Any], scored_with: dict[str, Any]
) -> None:
    """Rows first, meta last (atomically): a meta.json on disk means a whole entry."""
    folder = predictions_folder(key)
    text = "".join(json.dumps(prediction_row(p), ensure_ascii=False) + "\n" for p in preds)
    write_text_atomic(folder / "predictions.jsonl", text)
    meta = {
        "format": PREDICTIONS_FORMAT,
        "prediction_key": key,
        "n_items": len(preds),
        "predictions_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "record": {k: record[k] for k in RECORD_PARTS if k in record},
        "scored_with": scored_with,
    }
    write_json_atomic(folder / "meta.json", meta)


def note_scoring(key: str, scored_with: dict[str, Any]) -> None:
    """Remember what the stored predictions were last scored with (for the next log line)."""
    path = predictions_folder(key) / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    write_json_atomic(path, meta | {"scored_with": scored_with})


def has_predictions(key: str) -> bool:
    """Whether an entry for this key was written (whole or not: `load_predictions` checks)."""
    return (predictions_folder(key) / "meta.json").is_file()


def load_predictions(key: str, n_items: int, quiet: bool = False) -> StoredPredictions | None:
    """The stored predictions of this key, or None when absent or damaged (reported unless
    `quiet`): a damaged entry is never reused, the cell predicts again and replaces it."""
    folder = predictions_folder(key)
    meta_path, rows_path = folder / "meta.json", folder / "predictions.jsonl"
    try:
        meta_text = meta_path.read_text(encoding="utf-8")
    except OSError:
        return None  # nothing stored under this key
    meta, problem, where = None, None, meta_path
    try:
        meta = json.loads(meta_text)
        if not isinstance(meta, dict):
            raise ValueError(f"a JSON {type(meta).__name__}, not an object")
    except ValueError as exc:
        problem = f"the entry's meta.json does not parse ({exc})"
    if meta is not None and meta.get("format") != PREDICTIONS_FORMAT:
        return None  # an older layout: not damaged, just not reusable
    preds: list[Prediction] = []
    if problem is None:
        assert meta is not None
        where = rows_path
        preds, problem = _read_rows(rows_path, meta, n_items)
    if problem is not None:
        if not quiet:
            log(f"warning: damaged stored predictions {where}: {problem}; predicting again")
        return None
    assert meta is not None
    return StoredPredictions(preds, dict(meta.get("record") or {}), meta.get("scored_with") or {})


def _read_rows(
    path: Path, meta: dict[str, Any], n_items: int
) -> tuple[list[Prediction], str | None]:
    """The predictions of a rows file, or why it cannot be trusted."""
    try:
        data = path.read_bytes()
    except OSError:
        return [], "the predictions file is missing"
    if hashlib.sha256(data).hexdigest() != meta.get("predictions_sha256"):
        return [], "the predictions file does not match its checksum (truncated or altered)"
    lines = data.decode("utf-8").splitlines()
    if len(lines) != n_items or meta.get("n_items") != n_items:
        return [], f"the predictions file has {len(lines)} rows for {n_items} eval items"
    preds = []
    for lineno, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            preds.append(Prediction(**{f: row[f] for f in PREDICTION_FIELDS}))
        except (ValueError, TypeError, KeyError) as exc:
            return [], f"line {lineno} of the predictions file is not a prediction ({exc})"
    return preds, None


def scoring_change(before: dict[str, Any], now: dict[str, Any]) -> str:
    """What differs between two sets of scoring inputs, in words (for the re-scoring log line)."""
    names = {
        "metrics": "metrics",
        "metrics_version": "METRICS_VERSION",
        "code": "scoring code",
        "embedder": "embedder",
        "schema": "record schema",
        "judges": "judge (model, rubric or repeats)",
    }
    changed = [word for k, word in names.items() if before.get(k) != now.get(k)]
    old, new = before.get("metrics") or [], now.get("metrics") or []
    delta = [f"+{m}" for m in new if m not in old] + [f"-{m}" for m in old if m not in new]
    if "metrics" in changed and delta:
        changed[changed.index("metrics")] = f"metrics ({', '.join(delta)})"
    if not changed:
        return "scores missing"
    return ", ".join(changed) + " changed"
