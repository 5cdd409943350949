"""Stored predictions: what a cell's arm produced, kept apart from its scores.

A cell has two keys (`harness.run.keys.cell_keys`): the prediction key covers what decides its
predictions, the full key adds what decides its scores. The predictions of a finished cell are
stored under `<cache>/predictions/<prediction key>/`, one cache entry (harness.common.cache_entry):
the per-item prediction fields first, then `meta.json` with their checksum, the predict-side record parts (efficiency and
training stats, forgetting, environment, timings) and what they were last scored with. So when
only the metrics or the scoring code changed, the runner re-scores them in seconds instead of
generating again. Only predictions of a cell whose arm finished are stored; a damaged entry
(unparsable meta, rows that do not match its checksum or item count) is reported and the cell
predicts again, never reusing it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.common.cache_entry import CacheEntry, Damaged
from harness.common.files import write_json_atomic
from harness.common.log import log
from harness.metrics import JUDGE_KEY, SIMILARITY_KEY, Prediction
from harness.models.resolve import cache_dir

PREDICTIONS_FORMAT = 1  # bump when the stored layout changes: older entries then miss

# The per-item fields a Prediction holds: all of them are stored, none is derived from a metric.
PREDICTION_FIELDS = tuple(f.name for f in dataclasses.fields(Prediction))
# The record parts a prediction run decides; a re-scored record takes them from the store.
RECORD_PARTS = ("environment", "efficiency", "forgetting", "started", "finished")


@dataclass
class StoredPredictions:
    """A cell's predictions as stored, with its predict-side record parts."""

    preds: list[Prediction]
    parts: dict[str, Any]  # RECORD_PARTS present in the predicting run's record
    scored_with: dict[str, Any]  # the scoring inputs they were last scored with


def predictions_entry(key: str) -> CacheEntry:
    """`<cache>/predictions/<key>/`: the rows, then `meta.json`. Written by the cell that holds
    the cell's lock (harness.run.store.cell_lock), so the entry takes no lock of its own."""
    return CacheEntry.at(cache_dir(), "predictions", key, marker="meta.json")


def predictions_folder(key: str) -> Path:
    return predictions_entry(key).folder


def prediction_row(pred: Prediction) -> dict[str, Any]:
    """One prediction as stored. The similarity and judge verdicts scoring annotates are left out."""
    row = {f: getattr(pred, f) for f in PREDICTION_FIELDS}
    row["extra"] = {k: v for k, v in pred.extra.items() if k not in (SIMILARITY_KEY, JUDGE_KEY)}
    return row


def store_predictions(
    key: str, preds: list[Prediction], record: dict[str, Any], scored_with: dict[str, Any]
) -> None:
    """Rows first, meta last, renamed into place: a meta.json on disk means a whole entry."""
    text = "".join(json.dumps(prediction_row(p), ensure_ascii=False) + "\n" for p in preds)
    meta = {
        "format": PREDICTIONS_FORMAT,
        "prediction_key": key,
        "n_items": len(preds),
        "predictions_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "record": {k: record[k] for k in RECORD_PARTS if k in record},
        "scored_with": scored_with,
    }

    def fill(folder: Path) -> None:
        (folder / "predictions.jsonl").write_text(text, encoding="utf-8")
        write_json_atomic(folder / "meta.json", meta)

    predictions_entry(key).write(fill)


def note_scoring(key: str, scored_with: dict[str, Any]) -> None:
    """Remember what the stored predictions were last scored with (for the next log line)."""
    path = predictions_entry(key).marker_path
    meta = json.loads(path.read_text(encoding="utf-8"))
    write_json_atomic(path, meta | {"scored_with": scored_with})


def has_predictions(key: str) -> bool:
    """Whether an entry for this key was written (whole or not: `load_predictions` checks)."""
    return predictions_entry(key).is_whole()


def load_predictions(key: str, n_items: int, quiet: bool = False) -> StoredPredictions | None:
    """The stored predictions of this key, or None when absent, of an older layout, or damaged
    (reported unless `quiet`): a damaged entry is never reused, the cell predicts again and
    replaces it."""

    def parse(folder: Path) -> StoredPredictions | None:
        meta_path = folder / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError(f"a JSON {type(meta).__name__}, not an object")
        except ValueError as exc:
            raise Damaged(f"the entry's meta.json does not parse ({exc})", meta_path) from None
        if meta.get("format") != PREDICTIONS_FORMAT:
            return None  # an older layout: not damaged, just not reusable
        preds = _read_rows(folder / "predictions.jsonl", meta, n_items)
        return StoredPredictions(
            preds, dict(meta.get("record") or {}), meta.get("scored_with") or {}
        )

    def on_damage(exc: Exception) -> None:
        if not quiet:
            where = getattr(exc, "path", None) or predictions_folder(key)
            problem = exc.problem if isinstance(exc, Damaged) else f"{type(exc).__name__}: {exc}"
            log(f"warning: damaged stored predictions {where}: {problem}; predicting again")

    return predictions_entry(key).read(parse, on_damage)


def _read_rows(path: Path, meta: dict[str, Any], n_items: int) -> list[Prediction]:
    """The predictions of a rows file; Damaged says why it cannot be trusted."""
    try:
        data = path.read_bytes()
    except OSError:
        raise Damaged("the predictions file is missing", path) from None
    if hashlib.sha256(data).hexdigest() != meta.get("predictions_sha256"):
        raise Damaged(
            "the predictions file does not match its checksum (truncated or altered)", path
        )
    lines = data.decode("utf-8").splitlines()
    if len(lines) != n_items or meta.get("n_items") != n_items:
        raise Damaged(f"the predictions file has {len(lines)} rows for {n_items} eval items", path)
    preds = []
    for lineno, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            preds.append(Prediction(**{f: row[f] for f in PREDICTION_FIELDS}))
        except (ValueError, TypeError, KeyError) as exc:
            raise Damaged(
                f"line {lineno} of the predictions file is not a prediction ({exc})", path
            ) from None
    return preds
