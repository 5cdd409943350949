"""Checks on what a run folder and a baseline hold, done once, where they are read: a damaged,
hand-edited or foreign file is bad input (exit 2) with a message naming the file and the key
path, never a KeyError deep inside a report, a NaN in a table or a verdict taken from numbers
nobody measured.

- shape: the keys and types the readers (reports, compare, gate) rely on;
- values: metric values and interval ends are finite numbers in their metric's range (a
  proportion in [0, 1]), ci_low <= value <= ci_high, n is a count, statuses are known, and the
  efficiency figures reports and gates read are finite and not negative;
- samples: a finished run's samples file exists, matches the checksum its record holds,
  parses, and its per-item scores give the record's metric values (count and mean), so neither
  results.json nor a samples file can be edited alone.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, get_args

from harness.metrics import CORPUS_PREFIX, metric_bounds
from harness.spec.record import Status


class RunFolderError(ValueError):
    """A run folder, samples file or baseline that cannot be used; says which file and key."""


STATUSES: tuple[str, ...] = get_args(Status)

_RESULTS_KEYS: dict[str, type] = {"suite": str, "environment": dict, "tasks": dict, "runs": list}
_REPORT_KEYS: dict[str, type] = {"created": str, "model": dict}
_RUN_KEYS: dict[str, type] = {"task": str, "arm": str, "kind": str, "status": str}
_ENV_KEYS: dict[str, type] = {"device": str, "dtype": str, "seed": int, "adaptbench": str}
_MODEL_KEYS: dict[str, type] = {"name": str, "source": str, "fingerprint": str}
_TASK_KEYS: dict[str, type] = {"eval_items": int, "eval_items_total": int, "splits": dict}
_METRIC_KEYS = ("value", "ci_low", "ci_high", "n")
_BASELINE_KEYS: dict[str, type] = {"suite": str, "environment": dict, "runs": list}
_BASELINE_RUN_KEYS: dict[str, type] = {
    "task": str,
    "arm": str,
    "metrics": dict,
    "item_scores": dict,
}
# The efficiency figures reports print and gates compare: a count, a size or a duration each.
_EFFICIENCY_NUMBERS = (
    "items",
    "generated_tokens",
    "tokens_per_s",
    "items_per_s",
    "latency_p50_s",
    "latency_p95_s",
    "retrieval_latency_p50_s",
    "retrieval_latency_p95_s",
    "prompt_tokens_mean",
    "prompt_tokens_max",
    "prompts_over_budget",
    "peak_memory_bytes",
    "params_total",
    "params_trainable",
)
FORGETTING_BOUNDS = (-1.0, 1.0)  # score(base) - score(arm) of scores in [0, 1]
# Float slack for "in range" and "ordered": a bootstrap end of identical scores can differ
# from their mean in the last bit.
_SLACK = 1e-9


def _require(obj: Any, keys: dict[str, type], where: str) -> None:
    if not isinstance(obj, dict):
        raise RunFolderError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key, kind in keys.items():
        if key not in obj:
            raise RunFolderError(f"{where}: missing key {key!r}")
        if not isinstance(obj[key], kind):
            raise RunFolderError(
                f"{where}: key {key!r} must be a {kind.__name__}, got {type(obj[key]).__name__}"
            )


# --------------------------------------------------------------------------------------------
# values


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, float):
        return repr(value)  # nan, inf
    return f"{type(value).__name__} {json.dumps(value, default=str)[:40]}"


def _number(
    value: Any, where: str, bounds: tuple[float, float] | None = None, nullable: bool = True
) -> None:
    """A finite number (not a bool) within `bounds`, or null where `nullable`."""
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunFolderError(f"{where}: must be a number, got {_shown(value)}")
    if not math.isfinite(value):
        raise RunFolderError(f"{where}: must be a finite number, got {value!r}")
    if bounds is not None and not bounds[0] - _SLACK <= value <= bounds[1] + _SLACK:
        raise RunFolderError(
            f"{where}: {value!r} is outside its range [{bounds[0]:g}, {bounds[1]:g}]"
        )


def _count(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RunFolderError(f"{where}: must be a count (an integer >= 0), got {_shown(value)}")


def _summary(m: Any, where: str, bounds: tuple[float, float] | None) -> None:
    """A metric summary: value and interval ends in range, the interval around the value."""
    if not isinstance(m, dict) or not all(k in m for k in _METRIC_KEYS):
        raise RunFolderError(f"{where}: expected an object with {', '.join(_METRIC_KEYS)}")
    for key in ("value", "ci_low", "ci_high"):
        _number(m[key], f"{where}.{key}", bounds)
    _count(m["n"], f"{where}.n")
    ends = [x for x in (m["ci_low"], m["value"], m["ci_high"]) if x is not None]
    if any(a > b + _SLACK for a, b in zip(ends, ends[1:])):
        raise RunFolderError(
            f"{where}: the interval is not ordered (ci_low {m['ci_low']!r} <= value "
            f"{m['value']!r} <= ci_high {m['ci_high']!r} must hold)"
        )


def _metrics(metrics: Any, where: str) -> None:
    if not isinstance(metrics, dict):
        raise RunFolderError(f"{where}: expected an object")
    for name, m in metrics.items():
        _summary(m, f"{where}.{name}", metric_bounds(name))


def _efficiency(eff: Any, where: str) -> None:
    if eff is None:
        return
    if not isinstance(eff, dict):
        raise RunFolderError(f"{where}: expected an object")
    for key in _EFFICIENCY_NUMBERS:
        _number(eff.get(key), f"{where}.{key}", (0.0, math.inf))
    phases = eff.get("phases") or {}
    if not isinstance(phases, dict) or not all(isinstance(x, dict) for x in phases.values()):
        raise RunFolderError(f"{where}.phases: expected an object of phase -> {{seconds, ...}}")
    for name, phase in phases.items():
        _number(phase.get("seconds"), f"{where}.phases.{name}.seconds", (0.0, math.inf))


def _forgetting(f: Any, where: str) -> None:
    if f is None:
        return
    if not isinstance(f, dict):
        raise RunFolderError(f"{where}: expected an object")
    if f.get("mean") is not None:
        _summary(f["mean"], f"{where}.mean", FORGETTING_BOUNDS)
    probes = f.get("probes") or {}
    if not isinstance(probes, dict):
        raise RunFolderError(f"{where}.probes: expected an object")
    for name, m in probes.items():
        _summary(m, f"{where}.probes.{name}", FORGETTING_BOUNDS)
    ppl = f.get("perplexity")
    if ppl is not None:
        if not isinstance(ppl, dict):
            raise RunFolderError(f"{where}.perplexity: expected an object")
        for side in ("base", "arm"):
            _number(ppl.get(side), f"{where}.perplexity.{side}", (0.0, math.inf))


def _spreads(groups: Any, where: str) -> None:
    """seed_groups / variant_groups: each metric's mean, sd, range and per-cell values."""
    if groups is None:
        return
    if not isinstance(groups, list):
        raise RunFolderError(f"{where}: expected a list")
    for i, g in enumerate(groups):
        _require(g, {"task": str, "arm": str, "metrics": dict}, f"{where}[{i}]")
        rows = list(g["metrics"].items())
        if g.get("forgetting_mean") is not None:
            rows.append(("forgetting_mean", g["forgetting_mean"]))
        for name, m in rows:
            forgetting = name == "forgetting_mean"
            at = f"{where}[{i}]." + (name if forgetting else f"metrics.{name}")
            bounds = FORGETTING_BOUNDS if forgetting else metric_bounds(name)
            if not isinstance(m, dict):
                raise RunFolderError(f"{at}: expected an object")
            for key in ("mean", "min", "max"):
                _number(m.get(key), f"{at}.{key}", bounds, nullable=False)
            _number(m.get("std"), f"{at}.std", (0.0, math.inf))
            for key in (k for k in m if k.startswith("per_")):  # per_seed / per_variant
                if not isinstance(m[key], dict):
                    raise RunFolderError(f"{at}.{key}: expected an object")
                for cell, v in m[key].items():
                    _number(v, f"{at}.{key}.{cell}", bounds, nullable=False)


def _status(status: Any, where: str) -> None:
    if status not in STATUSES:
        raise RunFolderError(
            f"{where}.status: unknown status {_shown(status)} (known: {', '.join(STATUSES)})"
        )


def _definitions(defs: Any, where: str) -> None:
    if defs is None:
        return
    if not isinstance(defs, dict) or not all(isinstance(d, dict) for d in defs.values()):
        raise RunFolderError(f"{where}: expected an object of metric -> {{higher_is_better, ...}}")
    for name, d in defs.items():
        if not isinstance(d.get("higher_is_better"), (bool, type(None))):
            raise RunFolderError(
                f"{where}.{name}.higher_is_better: must be true, false or null, got "
                f"{_shown(d['higher_is_better'])}"
            )


def _environment(env: dict, where: str) -> None:
    if "seed" in env:
        _count(env["seed"], f"{where}.seed")


# --------------------------------------------------------------------------------------------
# results.json and baselines


def check_results(payload: Any, path: Path) -> dict:
    """A results.json payload as the reports read it (not an adaptbench results file: error)."""
    if not isinstance(payload, dict):
        raise RunFolderError(
            f"{path}: not an adaptbench results file (expected a JSON object, got "
            f"{type(payload).__name__})"
        )
    _require(payload, _RESULTS_KEYS, f"{path}: not an adaptbench results file")
    _environment(payload["environment"], f"{path}: environment")
    _definitions(payload.get("metric_definitions"), f"{path}: metric_definitions")
    for i, run in enumerate(payload["runs"]):
        where = f"{path}: runs[{i}]"
        _require(run, _RUN_KEYS, where)
        _status(run["status"], where)
        _metrics(run.get("metrics", {}), f"{where}.metrics")
        _efficiency(run.get("efficiency"), f"{where}.efficiency")
        _forgetting(run.get("forgetting"), f"{where}.forgetting")
    for name, info in payload["tasks"].items():
        ceiling = info.get("ceiling") if isinstance(info, dict) else None
        if isinstance(ceiling, dict) and ceiling.get("metrics") is not None:
            _metrics(ceiling["metrics"], f"{path}: tasks.{name}.ceiling.metrics")
    for key in ("seed_groups", "variant_groups"):
        _spreads(payload.get(key), f"{path}: {key}")
    return payload


def check_reportable(payload: dict, path: Path) -> dict:
    """What the reports read beyond `check_results`: the run's header and per-task summary."""
    _require(payload, _REPORT_KEYS, f"{path}: not an adaptbench results file")
    _require(payload["environment"], _ENV_KEYS, f"{path}: environment")
    _require(payload["model"], _MODEL_KEYS, f"{path}: model")
    for name, info in payload["tasks"].items():
        _require(info, _TASK_KEYS, f"{path}: tasks.{name}")
    return payload


def load_results(run_dir: Path) -> dict:
    """A run folder's results.json, checked, with every finished run's samples checked
    against it (`check_samples`)."""
    run_dir = Path(run_dir)
    path = run_dir / "results.json"
    if not path.is_file():
        raise RunFolderError(f"{run_dir}: no results.json (is this an adaptbench run folder?)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    check_results(payload, path)
    check_samples(payload, run_dir)
    return payload


def check_baseline(data: Any, path: Path) -> dict:
    """A baseline file's payload as `gate` reads it; its metrics must agree with the per-item
    scores it carries."""
    _require(data, _BASELINE_KEYS, f"{path}: not an adaptbench baseline")
    _environment(data["environment"], f"{path}: environment")
    _definitions(data.get("metric_definitions"), f"{path}: metric_definitions")
    for i, run in enumerate(data["runs"]):
        where = f"{path}: runs[{i}]"
        _require(run, _BASELINE_RUN_KEYS, where)
        if "status" in run:
            _status(run["status"], where)
        _metrics(run["metrics"], f"{where}.metrics")
        _efficiency(run.get("efficiency"), f"{where}.efficiency")
        _forgetting(run.get("forgetting"), f"{where}.forgetting")
        hashes = run.get("item_hashes")
        if hashes is not None and (
            not isinstance(hashes, dict) or not all(isinstance(h, str) for h in hashes.values())
        ):
            raise RunFolderError(f"{where}.item_hashes: expected an object of item id -> hash")
        per_item: dict[str, list[float]] = {}
        for item, scores in run["item_scores"].items():
            at = f"{where}.item_scores.{item}"
            if not isinstance(scores, dict):
                raise RunFolderError(f"{at}: expected an object of metric -> score")
            for metric, value in scores.items():
                _number(value, f"{at}.{metric}", metric_bounds(metric), nullable=False)
                per_item.setdefault(metric, []).append(value)
        _agree(run["metrics"], per_item, f"{where}.metrics", f"{where}.item_scores")
    return data


# --------------------------------------------------------------------------------------------
# samples


def read_samples(path: Path) -> list[dict]:
    """The rows of a samples file; a line that does not parse is an error naming the line."""
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunFolderError(f"{path}: not UTF-8 text (a damaged samples file?)") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunFolderError(
                f"{path}:{lineno}: samples line does not parse ({exc.msg}); the file is truncated "
                "or damaged: rerun the arm (`adaptbench run ... --force`)"
            ) from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise RunFolderError(f"{path}:{lineno}: a samples row must be an object with an 'id'")
        scores = row.get("scores", {})
        if not isinstance(scores, dict) or not all(
            isinstance(s, dict) and "value" in s for s in scores.values()
        ):
            raise RunFolderError(f"{path}:{lineno}: 'scores' must map metric -> {{value, ...}}")
        for metric, s in scores.items():
            _number(s["value"], f"{path}:{lineno}: scores.{metric}.value", metric_bounds(metric))
        rows.append(row)
    return rows


def load_samples(run_dir: Path, record: dict, where: str = "") -> list[dict]:
    """The rows of a finished run's samples file: it must exist and match the checksum its
    record holds (records written before the checksum skip that), so what a verdict reads is
    what the run wrote. `where` names the record (file and key) in messages."""
    where = (
        where or f"{Path(run_dir) / 'results.json'}: run {record.get('task')}/{record.get('arm')}"
    )
    name = record.get("samples")
    if not isinstance(name, str) or not name:
        raise RunFolderError(
            f"{where}, key 'samples': a finished run must name its samples file, got {_shown(name)}"
        )
    path = Path(run_dir) / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunFolderError(
            f"{path}: samples file of {record.get('task')}/{record.get('arm')} is missing or "
            f"unreadable ({exc.strerror or exc}); the report, compare and gate need it: restore "
            "it or rerun the arm (`adaptbench run ... --force`)"
        ) from None
    expected = record.get("samples_sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise RunFolderError(
            f"{path}: does not match the checksum its record holds ({where}, key "
            "'samples_sha256'): "
            "the file was truncated or edited; restore it or rerun the arm "
            "(`adaptbench run ... --force`)"
        )
    return read_samples(path)


def check_samples(payload: dict, run_dir: Path) -> None:
    """Every finished run's samples file: present, whole, and agreeing with its record's
    metrics. Raises RunFolderError naming the file."""
    results = Path(run_dir) / "results.json"
    for i, run in enumerate(payload["runs"]):
        if run["status"] != "ok":
            continue
        where = f"{results}: runs[{i}]"
        rows = load_samples(run_dir, run, where)
        per_item: dict[str, list[float]] = {}
        for row in rows:
            for metric, s in (row.get("scores") or {}).items():
                if s["value"] is not None:
                    per_item.setdefault(metric, []).append(s["value"])
        _agree(
            run.get("metrics") or {},
            per_item,
            f"{where}.metrics",
            str(Path(run_dir) / run["samples"]),
        )


def _agree(metrics: dict, per_item: dict[str, list[float]], where: str, source: str) -> None:
    """A per-item metric's summary is the mean of its per-item scores over n items: a summary
    that is not was edited (or its scores were), and a verdict must not read either."""
    for name, m in metrics.items():
        if name.startswith(CORPUS_PREFIX):
            continue  # computed over all items at once; no per-item scores to check against
        values = per_item.get(name, [])
        if len(values) != m["n"]:
            raise RunFolderError(
                f"{where}.{name}.n: {m['n']} items, but {source} holds {len(values)} scores of "
                f"{name}: one of the two files was edited or comes from another run; rerun the "
                "arm (`adaptbench run ... --force`)"
            )
        if not values:
            continue
        mean = math.fsum(values) / len(values)
        if m["value"] is None or not math.isclose(mean, m["value"], abs_tol=1e-6):
            raise RunFolderError(
                f"{where}.{name}.value: {m['value']!r}, but the {len(values)} scores of {name} in "
                f"{source} average {mean:.6g}: one of the two files was edited; rerun the arm "
                "(`adaptbench run ... --force`)"
            )
