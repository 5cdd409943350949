"""The formatters the renderers share (report.md, report.html and the sections they include).

Each takes the typed record part it formats (`MetricSummary | None`) or a plain number, and
shows a missing value as a dash. Escaping belongs to each output format (Markdown cells,
HTML autoescaping) and is not done here.
"""

from __future__ import annotations

from harness.spec.record import MetricSummary

DASH = "–"
"""What a report shows for a value it does not have."""

Number = int | float


def fmt_metric(m: MetricSummary | None) -> str:
    """A metric's mean with its 95% interval and n: `0.512 [0.43, 0.59] (n=120)`."""
    if m is None or m.value is None:
        return DASH
    ci = (
        f" [{m.ci_low:.2f}, {m.ci_high:.2f}]"
        if m.ci_low is not None and m.ci_high is not None
        else ""
    )
    return f"{m.value:.3f}{ci} (n={m.n})"


def fmt_num(value: Number | None, unit: str = "", digits: int = 1) -> str:
    """A number to `digits` decimals with an optional unit suffix (`0.123 s`)."""
    if value is None:
        return DASH
    return f"{value:.{digits}f}{unit}"


def fmt_float(value: Number | None, digits: int = 3) -> str:
    """A number to `digits` decimals; anything that is not a number is a dash."""
    return DASH if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


def fmt_seconds(value: Number | None) -> str:
    """A duration in the unit that reads best: ms under a second, else seconds."""
    if not isinstance(value, (int, float)):
        return DASH
    if value < 1:
        return f"{value * 1000:.1f} ms"
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.1f} s" if value < 1000 else f"{value:.0f} s"


def fmt_bytes(value: Number | None) -> str:
    """A byte count in the largest binary unit it reaches, one decimal (`1.5 GiB`, `12 B`)."""
    if not isinstance(value, (int, float)):
        return DASH
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def fmt_count(value: Number | None) -> str:
    """A count, abbreviated from a million (`1.5M`, `2.00B`), else with thousands separators."""
    if not isinstance(value, (int, float)):
        return DASH
    if value >= 1e9:
        return f"{value / 1e9:.2f}B"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    return f"{value:,.0f}"
