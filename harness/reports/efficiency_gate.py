"""Efficiency gates that mean the same on any runner.

Two kinds of measure:
- time (latency p50/p95, generated tokens/s) moves with the machine and its load. Each cell
  times a fixed workload before and after its predictions (`efficiency.calibration`), and the gate
  compares time divided by it (throughput multiplied by it) with the baseline's, raw seconds
  staying in the message. The calibration's own spread over its repeats, the run's plus the
  baseline's, is noise the gate tolerates on top of `max_increase`, and prints.
- work (prompt tokens per item, generated tokens per item, peak memory, trainable parameters)
  does not move with the runner: compared as they are. Most real slowdowns (a longer prompt, a
  bigger adapter, a lost cache) show here first.

A time comparison needs like with like: the same device kind (a CPU against any CPU, a GPU only
against the same GPU model), dtype, batch size and backend. Otherwise the gate says "not
comparable: baseline on X, run on Y" and skips (a failure with `strict`).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.spec.config import GateSpec
from harness.spec.record import RunRecord
from harness.spec.record_efficiency import Calibration
from harness.spec.record_setup import BackendInfo

# +1: a rise is worse; -1: a fall is worse.
TIME_MEASURES = {"latency_p50_s": 1, "latency_p95_s": 1, "tokens_per_s": -1}
WORK_MEASURES = {
    "prompt_tokens_mean": 1,
    "generated_tokens_per_item": 1,
    "peak_memory_bytes": 1,
    "params_trainable": 1,
}
_SIGNS = WORK_MEASURES | TIME_MEASURES


@dataclass
class Verdict:
    passed: bool
    message: str
    skipped: bool = False


def measure(record: RunRecord | None, name: str) -> float | None:
    """A gated efficiency figure of a run or baseline record (None: not measured)."""
    if record is None:
        return None
    e = record.efficiency
    if name == "generated_tokens_per_item":
        items, tokens = e.items, e.generated_tokens
        return tokens / items if items and tokens is not None else None
    value = getattr(e, name, None)
    return float(value) if isinstance(value, (int, float)) else None


def conditions(record: RunRecord) -> dict:
    """What a time measure depends on besides the machine's speed."""
    env = record.environment
    model = record.spec.model  # the model spec as the cell resolved it
    device = env.device or model.resolved_device
    kind = "cpu" if device == "cpu" else f"{device}:{env.device_name}"
    backend = _backend(record)
    out = {
        "device": kind,
        "dtype": model.resolved_dtype,
        "batch_size": model.batch_size,
        "backend": backend.kind if backend.has("kind") else "hf",
    }
    if _endpoint(record):  # the server's speed, not this machine's
        served = backend.served.id if backend.served is not None else None
        out |= {"server": f"{backend.base_url} {served}", "device": None}
    return out


def _backend(record: RunRecord) -> BackendInfo:
    """What produced the record's answers (empty for a record written before backends)."""
    return record.backend or BackendInfo()


def _endpoint(record: RunRecord) -> bool:
    """Whether an endpoint answered (its time is the server's, not this machine's)."""
    return _backend(record).kind == "openai"


def not_comparable(run: RunRecord, base: RunRecord) -> str | None:
    a, b = conditions(base), conditions(run)
    differ = [k for k in a if a[k] is not None and b[k] is not None and a[k] != b[k]]
    if not differ:
        return None
    return "; ".join(f"baseline {k} {a[k]}, run {k} {b[k]}" for k in differ)


def check(gate: GateSpec, record: RunRecord, base: RunRecord | None, strict: bool) -> Verdict:
    name = gate.efficiency
    value = measure(record, name)
    if value is None:
        return Verdict(True, f"{name} not measured for this arm", skipped=True)
    problems = []
    if gate.max is not None and value > gate.max:
        problems.append(f"{name} {value:.4g} above {gate.max}")
    if gate.min is not None and value < gate.min:
        problems.append(f"{name} {value:.4g} below {gate.min}")
    notes = [f"{name} {value:.4g}"]
    if gate.max_increase is not None:
        verdict = _against_baseline(gate, name, value, record, base, strict)
        if verdict.skipped or not verdict.passed:
            if problems:
                return Verdict(False, "; ".join(problems + [verdict.message]))
            return verdict
        notes = [verdict.message]
    if problems:
        return Verdict(False, "; ".join(problems))
    return Verdict(True, "; ".join(notes))


def _against_baseline(
    gate: GateSpec,
    name: str,
    value: float,
    record: RunRecord,
    base: RunRecord | None,
    strict: bool,
) -> Verdict:
    base_value = measure(base, name)
    task, arm = record.task, record.arm
    if base is None or base_value is None:
        return Verdict(False, f"no baseline value for {task}/{arm} {name}")
    sign = _SIGNS.get(name, 1)
    if name == "peak_memory_bytes":  # bytes of what, where: the same device, dtype, batch
        why = not_comparable(record, base) or _memory_kinds(record, base)
        if why is not None:
            return _skip(name, value, why, strict)
    if name not in TIME_MEASURES or _endpoint(record):
        # Work, or an endpoint's time (its server's speed, not this machine's): as it is.
        if name in TIME_MEASURES and (why := not_comparable(record, base)):
            return _skip(name, value, why, strict)
        ratio = _ratio(value, base_value, sign)
        return _verdict(gate, name, value, base_value, ratio, 0.0, "")
    why = not_comparable(record, base)
    cal, base_cal = _calibration(record), _calibration(base)
    if why is None and (cal is None or base_cal is None):
        side = "the baseline" if base_cal is None else "the run"
        why = f"{side} has no calibration (re-freeze the baseline with this version)"
    if why is not None:
        return _skip(name, value, why, strict)
    run_norm, base_norm = value / cal.seconds, base_value / base_cal.seconds
    if sign < 0:  # throughput: tokens per calibration unit
        run_norm, base_norm = value * cal.seconds, base_value * base_cal.seconds
    ratio = _ratio(run_norm, base_norm, 1) if sign > 0 else _ratio(base_norm, run_norm, 1)
    noise = float(cal.spread or 0) + float(base_cal.spread or 0)
    how = (
        f" (raw {value:.4g} vs {base_value:.4g}; calibration {cal.seconds:.3g} s vs "
        f"{base_cal.seconds:.3g} s)"
    )
    return _verdict(gate, name, value, base_value, ratio, noise, how)


def _verdict(
    gate: GateSpec, name: str, value: float, base_value: float, ratio: float, noise: float, how: str
) -> Verdict:
    change = ratio - 1
    allowed = gate.max_increase + noise
    what = "normalised " if how else ""
    tolerance = f"{gate.max_increase:.0%}" + (f" + noise {noise:.0%}" if how else "")
    text = (
        f"{what}{name} {change:+.0%} against the baseline (allowed {tolerance}){how}"
        if how
        else f"{name} {value:.4g} vs baseline {base_value:.4g}: {change:+.0%} (allowed {tolerance})"
    )
    return Verdict(change <= allowed, text if change <= allowed else f"worse: {text}")


def _ratio(value: float, base_value: float, sign: int) -> float:
    """How many times worse than the baseline (1: the same); from zero, any rise is unbounded."""
    worse, better = (value, base_value) if sign > 0 else (base_value, value)
    if better == 0:
        return 1.0 if worse == 0 else float("inf")
    return worse / better


def _skip(name: str, value: float, why: str, strict: bool) -> Verdict:
    message = f"{name} {value:.4g}: not comparable: {why}"
    if strict:
        return Verdict(False, message + " (--strict fails it)")
    return Verdict(True, message + ": skipped", skipped=True)


def _memory_kinds(run: RunRecord, base: RunRecord) -> str | None:
    a, b = base.efficiency.memory_kind, run.efficiency.memory_kind
    return None if a is None or b is None or a == b else f"baseline memory {a}, run memory {b}"


def _calibration(record: RunRecord) -> Calibration | None:
    """The record's calibration, when it has a positive time to divide by."""
    cal = record.efficiency.calibration
    return cal if cal is not None and cal.usable() else None
