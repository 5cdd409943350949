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

from pydantic import ValidationError

from harness.metrics import CORPUS_PREFIX, metric_bounds
from harness.spec.record import (
    SCHEMA_VERSION,
    Baseline,
    Environment,
    MetricSummary,
    Results,
    RunRecord,
    SpreadGroup,
    Status,
)
from harness.spec.samples import SampleRow


class RunFolderError(ValueError):
    """A run folder, samples file or baseline that cannot be used; says which file and key."""


STATUSES: tuple[str, ...] = get_args(Status)

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


# The checks below read the validated objects: their types hold, what is left are the values.


def _summary(m: MetricSummary, where: str, bounds: tuple[float, float] | None) -> None:
    """A metric summary: value and interval ends in range, the interval around the value."""
    for key in ("value", "ci_low", "ci_high"):
        _number(getattr(m, key), f"{where}.{key}", bounds)
    _count(m.n, f"{where}.n")
    ends = [x for x in (m.ci_low, m.value, m.ci_high) if x is not None]
    if any(a > b + _SLACK for a, b in zip(ends, ends[1:])):
        raise RunFolderError(
            f"{where}: the interval is not ordered (ci_low {m.ci_low!r} <= value "
            f"{m.value!r} <= ci_high {m.ci_high!r} must hold)"
        )


def _metrics(metrics: dict[str, MetricSummary], where: str) -> None:
    for name, m in metrics.items():
        _summary(m, f"{where}.{name}", metric_bounds(name))


def _run(run: RunRecord, where: str) -> None:
    """A record's metrics, efficiency figures and forgetting."""
    _metrics(run.metrics, f"{where}.metrics")
    for key in _EFFICIENCY_NUMBERS:
        _number(getattr(run.efficiency, key), f"{where}.efficiency.{key}", (0.0, math.inf))
    for name, phase in run.efficiency.phases.items():
        _number(phase.seconds, f"{where}.efficiency.phases.{name}.seconds", (0.0, math.inf))
    f = run.forgetting
    if f is None:
        return
    if f.mean is not None:
        _summary(f.mean, f"{where}.forgetting.mean", FORGETTING_BOUNDS)
    for name, m in f.probes.items():
        _summary(m, f"{where}.forgetting.probes.{name}", FORGETTING_BOUNDS)
    if f.perplexity is not None:
        for side in ("base", "arm"):
            at = f"{where}.forgetting.perplexity.{side}"
            _number(getattr(f.perplexity, side), at, (0.0, math.inf))


def _spreads(groups: list[SpreadGroup], where: str) -> None:
    """seed_groups / variant_groups: each metric's mean, sd, range and per-cell values."""
    for i, g in enumerate(groups):
        rows = list(g.metrics.items())
        if g.forgetting_mean is not None:
            rows.append(("forgetting_mean", g.forgetting_mean))
        for name, m in rows:
            forgetting = name == "forgetting_mean"
            at = f"{where}[{i}]." + (name if forgetting else f"metrics.{name}")
            bounds = FORGETTING_BOUNDS if forgetting else metric_bounds(name)
            for key in ("mean", "min", "max"):
                _number(getattr(m, key), f"{at}.{key}", bounds, nullable=False)
            _number(m.std, f"{at}.std", (0.0, math.inf))
            for key, cells in (m.model_extra or {}).items():  # per_seed / per_variant
                if not key.startswith("per_"):
                    continue
                if not isinstance(cells, dict):
                    raise RunFolderError(f"{at}.{key}: expected an object")
                for cell, v in cells.items():
                    _number(v, f"{at}.{key}.{cell}", bounds, nullable=False)


def _environment(env: Environment, where: str) -> None:
    if env.seed is not None:
        _count(env.seed, f"{where}.seed")


# --------------------------------------------------------------------------------------------
# results.json and baselines


def _key_path(loc: tuple) -> str:
    """A pydantic error location as a key path: runs[0].metrics.exact_match."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# What a value of the wrong type must be, by pydantic's error type (the messages name the key).
_MUST_BE = {
    "float_type": "must be a number",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true, false or null",
    "string_type": "must be a string",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "list_type": "expected a list",
}
_COUNTS = ("n", "seed", "items", "clusters")


def _validated(model: type[Results], payload: dict, path: Path, what: str) -> Results:
    """The payload as `model`; a wrong shape is an error naming the file and the key path."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        key = loc[-1] if loc else ""
        if err["type"] == "missing":
            at = f"{path}: {_key_path(loc[:-1])}" if len(loc) > 1 else f"{path}: {what}"
            raise RunFolderError(f"{at}: missing key {key!r}") from None
        at = f"{path}: {_key_path(loc)}"
        if key == "status" and err["type"] == "literal_error":
            known = ", ".join(STATUSES)
            raise RunFolderError(
                f"{at}: unknown status {_shown(err['input'])} (known: {known})"
            ) from None
        must = _MUST_BE.get(err["type"], err["msg"].lower())
        if key in _COUNTS and must == "must be an integer":
            must = "must be a count (an integer >= 0)"
        raise RunFolderError(f"{at}: {must}, got {_shown(err['input'])}") from None


def migrate(payload: dict, path: Path) -> dict:
    """An older results.json (or baseline) in the current layout; a newer one is refused.

    1 -> 2: each run gains its arm's `role` (recorded by the runner since 2) and, where the
    record predates it, `changes_weights`, both from the arm kinds the previous release knew.
    """
    version = payload.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RunFolderError(f"{path}: schema_version {version!r} is not a layout version")
    if version > SCHEMA_VERSION:
        raise RunFolderError(
            f"{path}: written with results layout (schema_version) {version}, newer than this "
            f"adaptbench reads ({SCHEMA_VERSION}): upgrade adaptbench to read it"
        )
    if version == 1:
        runs = [
            run
            | {"role": _V1_ROLES.get(run.get("kind"), "contender")}
            | (
                {}
                if "changes_weights" in run
                else {"changes_weights": run.get("kind") in _V1_WEIGHT_CHANGING}
            )
            if isinstance(run, dict)
            else run
            for run in payload["runs"]
        ]
        payload = payload | {"schema_version": 2, "runs": runs}
    return payload


# The roles and weight-changing kinds of the arms release 1 shipped (the arm classes carry them
# since; only files written before are read through this table).
_V1_ROLES = {"base": "baseline", "oracle_context": "reference"}
_V1_WEIGHT_CHANGING = ("lora", "full", "qlora")


def _read_as(model: type[Results], data: Any, path: Path, what: str, keys: tuple[str, ...]):
    """A file's content as `model` (results.json or a baseline), migrated from an older layout:
    something else entirely is refused by what it lacks before the details are checked."""
    if not isinstance(data, dict):
        raise RunFolderError(f"{path}: {what} (expected a JSON object, got {type(data).__name__})")
    for key in keys:
        if key not in data:
            raise RunFolderError(f"{path}: {what}: missing key {key!r}")
    if not isinstance(data["runs"], list):
        raise RunFolderError(f"{path}: key 'runs' must be a list, got {_shown(data['runs'])}")
    return _validated(model, migrate(data, path), path, what)


def check_results(payload: Any, path: Path) -> Results:
    """A results.json payload as the reports read it (not an adaptbench results file: error)."""
    what, keys = "not an adaptbench results file", ("suite", "environment", "tasks", "runs")
    results = _read_as(Results, payload, path, what, keys)
    _environment(results.environment, f"{path}: environment")
    for i, run in enumerate(results.runs):
        _run(run, f"{path}: runs[{i}]")
    for name, info in results.tasks.items():
        if info.ceiling is not None and info.ceiling.metrics is not None:
            _metrics(info.ceiling.metrics, f"{path}: tasks.{name}.ceiling.metrics")
    _spreads(results.seed_groups, f"{path}: seed_groups")
    _spreads(results.variant_groups, f"{path}: variant_groups")
    return results


def check_reportable(results: Results, path: Path) -> Results:
    """What the reports read beyond `check_results`: the run's header and per-task summary."""
    what = f"{path}: not an adaptbench results file"
    for key in ("created", "model"):
        if getattr(results, key) is None:
            raise RunFolderError(f"{what}: missing key {key!r}")
    for key in ("device", "dtype", "seed", "adaptbench"):
        if getattr(results.environment, key) is None:
            raise RunFolderError(f"{path}: environment: missing key {key!r}")
    for key in ("name", "source", "fingerprint"):
        if getattr(results.model, key) is None:
            raise RunFolderError(f"{path}: model: missing key {key!r}")
    for name, info in results.tasks.items():
        for key in ("eval_items", "eval_items_total"):
            if getattr(info, key) is None:
                raise RunFolderError(f"{path}: tasks.{name}: missing key {key!r}")
    return results


def read_json(path: Path, what: str) -> Any:
    """A JSON file's content; unreadable or not JSON is an error naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None


def load_results(run_dir: Path) -> Results:
    """A run folder's results.json as objects, checked, with every finished run's samples
    checked against it (`check_samples`)."""
    run_dir = Path(run_dir)
    path = run_dir / "results.json"
    if not path.is_file():
        raise RunFolderError(f"{run_dir}: no results.json (is this an adaptbench run folder?)")
    results = check_results(read_json(path, "it"), path)
    check_samples(results, run_dir)
    return results


def check_baseline(data: Any, path: Path) -> Baseline:
    """A baseline file's payload as `gate` reads it; its metrics must agree with the per-item
    scores it carries."""
    what, keys = "not an adaptbench baseline", ("suite", "environment", "runs")
    baseline = _read_as(Baseline, data, path, what, keys)
    _environment(baseline.environment, f"{path}: environment")
    for i, run in enumerate(baseline.runs):
        where = f"{path}: runs[{i}]"
        _run(run, where)
        per_item: dict[str, list[float]] = {}
        for item, scores in run.item_scores.items():
            for metric, value in scores.items():
                at = f"{where}.item_scores.{item}.{metric}"
                _number(value, at, metric_bounds(metric), nullable=False)
                per_item.setdefault(metric, []).append(value)
        _agree(run.metrics, per_item, f"{where}.metrics", f"{where}.item_scores")
    return baseline


# --------------------------------------------------------------------------------------------
# samples


def read_samples(path: Path) -> list[SampleRow]:
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
        try:
            rows.append(SampleRow.model_validate(row))
        except ValidationError as exc:
            err = exc.errors()[0]
            must = _MUST_BE.get(err["type"], err["msg"].lower())
            raise RunFolderError(
                f"{path}:{lineno}: {_key_path(err['loc'])}: {must}, got {_shown(err['input'])}"
            ) from None
    return rows


def load_samples(run_dir: Path, record: RunRecord, where: str = "") -> list[SampleRow]:
    """The rows of a finished run's samples file: it must exist and match the checksum its
    record holds (records written before the checksum skip that), so what a verdict reads is
    what the run wrote. `where` names the record (file and key) in messages."""
    cell = f"{record.task}/{record.arm}"
    where = where or f"{Path(run_dir) / 'results.json'}: run {cell}"
    if not record.samples:
        raise RunFolderError(
            f"{where}, key 'samples': a finished run must name its samples file, got "
            f"{_shown(record.samples)}"
        )
    path = Path(run_dir) / record.samples
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunFolderError(
            f"{path}: samples file of {cell} is missing or unreadable ({exc.strerror or exc}); "
            "the report, compare and gate need it: restore it or rerun the arm "
            "(`adaptbench run ... --force`)"
        ) from None
    expected = record.samples_sha256
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise RunFolderError(
            f"{path}: does not match the checksum its record holds ({where}, key "
            "'samples_sha256'): "
            "the file was truncated or edited; restore it or rerun the arm "
            "(`adaptbench run ... --force`)"
        )
    return read_samples(path)


def check_samples(results: Results, run_dir: Path) -> None:
    """Every finished run's samples file: present, whole, and agreeing with its record's
    metrics. Raises RunFolderError naming the file."""
    path = Path(run_dir) / "results.json"
    for i, run in enumerate(results.runs):
        if not run.ok:
            continue
        where = f"{path}: runs[{i}]"
        per_item: dict[str, list[float]] = {}
        for row in load_samples(run_dir, run, where):
            for metric, value in row.score_values().items():
                if value is not None:
                    per_item.setdefault(metric, []).append(value)
        _agree(run.metrics, per_item, f"{where}.metrics", str(Path(run_dir) / run.samples))


def _agree(
    metrics: dict[str, MetricSummary], per_item: dict[str, list[float]], where: str, source: str
) -> None:
    """A per-item metric's summary is the mean of its per-item scores over n items: a summary
    that is not was edited (or its scores were), and a verdict must not read either."""
    for name, m in metrics.items():
        if name.startswith(CORPUS_PREFIX):
            continue  # computed over all items at once; no per-item scores to check against
        values = per_item.get(name, [])
        if len(values) != m.n:
            raise RunFolderError(
                f"{where}.{name}.n: {m.n} items, but {source} holds {len(values)} scores of "
                f"{name}: one of the two files was edited or comes from another run; rerun the "
                "arm (`adaptbench run ... --force`)"
            )
        if not values:
            continue
        mean = math.fsum(values) / len(values)
        if m.value is None or not math.isclose(mean, m.value, abs_tol=1e-6):
            raise RunFolderError(
                f"{where}.{name}.value: {m.value!r}, but the {len(values)} scores of {name} in "
                f"{source} average {mean:.6g}: one of the two files was edited; rerun the arm "
                "(`adaptbench run ... --force`)"
            )
