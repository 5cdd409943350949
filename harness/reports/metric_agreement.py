"""Whether a decision holds under every quality metric of its task, and why not where it does not.

Long answers are scored by several metrics that can disagree: lexical overlap (token F1,
ROUGE-L) rewards copying the gold's words, embedding similarity is dominated by topic when every
answer is about the same subject. The decision is taken once per quality metric; when the
recommendations differ the report lists which metric favours which arm, which metrics agree with
the decision metric, and one sentence per dissenting metric on why: its scores span too narrow a
range on this material to separate arms, or its difference is not significant, or it measures
something else. Only when a dissenting metric significantly reverses a significant verdict is no
arm recommended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from harness.reports.verdict import Verdict
from harness.spec.config import DecisionSpec
from harness.spec.record import RunRecord

# Metrics that grade the answer itself (higher is better); rates (false answers, abstentions)
# and retrieval metrics are limits or diagnostics, not quality.
QUALITY_METRICS = (
    "exact_match",
    "choice_accuracy",
    "fields_exact",
    "token_f1",
    "rouge_l",
    "answer_similarity",
)
_NATURE = {
    "exact_match": "exact agreement with a gold answer",
    "choice_accuracy": "the chosen option",
    "fields_exact": "every structured field at once",
    "token_f1": "word overlap with the gold, which rewards copying its wording",
    "rouge_l": "the longest common word sequence with the gold, which rewards copying its wording",
    "answer_similarity": "embedding similarity to the gold, which is dominated by topic when "
    "every answer is about the same subject",
}
# A metric whose middle 80% of item scores spans less than this share of the decision metric's
# cannot separate arms on this material.
NARROW_SHARE = 0.25


def quality_metrics(runs: list[RunRecord]) -> list[str]:
    """The quality metrics any of these runs scored on at least one item, in a fixed order."""
    scored = {m for r in runs for m, v in r.metrics.items() if v.n}
    named = [m for m in QUALITY_METRICS if m in scored]
    return named + sorted(m for m in scored if m.startswith("field_accuracy:"))


def across_metrics(
    verdict: Verdict,
    runs: list[RunRecord],
    spec: DecisionSpec,
    decide_on: Callable[[list[RunRecord], DecisionSpec, str], Verdict],
    scores_of: Callable[[RunRecord], dict[str, dict[str, float]]],
) -> Verdict:
    """The verdict, with whether it holds under each other quality metric (`per_metric`)."""
    main = verdict.metric
    others = [m for m in quality_metrics(runs) if m != main]
    if main is None or not verdict.recommended or not others:
        return verdict
    per = {main: verdict} | {m: decide_on(runs, spec, m) for m in others}
    picks = {m: d.recommended for m, d in per.items()}
    out = replace(verdict, per_metric=picks, robust_to_metric=len(set(picks.values())) == 1)
    if out.robust_to_metric:
        out.reasons = [
            *verdict.reasons,
            f"holds under every quality metric ({', '.join(per)})",
        ]
        return out
    agree = [m for m in per if picks[m] == picks[main]]
    dissent = [m for m in per if picks[m] != picks[main]]
    listing = ", ".join(f"{m} → `{p}`" if p else f"{m} → none" for m, p in picks.items())
    lines = [
        f"the verdict depends on the metric: {listing}; {_names(agree)} "
        f"{'agrees' if len(agree) == 1 else 'agree'}, {_names(dissent)} "
        f"{'does' if len(dissent) == 1 else 'do'} not"
    ]
    spreads = _spreads(runs, [main, *dissent], scores_of)
    reversed_by = []
    for m in dissent:
        line, reverses = _why(m, main, per, picks, spreads)
        lines.append(line)
        if reverses:
            reversed_by.append(m)
    if reversed_by:
        return replace(
            out,
            recommended=None,
            reasons=[
                f"no arm is recommended: {_names(reversed_by)} significantly "
                f"{'reverses' if len(reversed_by) == 1 else 'reverse'} the verdict of {main}",
                *lines,
                *verdict.reasons,
            ],
        )
    return replace(out, reasons=[*verdict.reasons, *lines])


def _why(
    m: str, main: str, per: dict[str, Verdict], picks: dict, spreads: dict
) -> tuple[str, bool]:
    """One sentence on why metric `m` favours another arm than `main`, and whether it
    significantly reverses a significant verdict of `main`."""
    mine, theirs = picks[main], picks[m]
    under_m = per[m].comparison_with(mine)
    under_main = per[main].comparison_with(theirs)
    m_sig = bool(under_m and under_m.significant)
    main_sig = bool(under_main and under_main.significant)
    favour = f"{m} favours `{theirs}` over `{mine}`"
    if under_m:
        favour += (
            f" by {abs(under_m.result.delta):.3f} ({'significant' if m_sig else 'not significant'}, "
            f"p={under_m.p_adjusted:.2g})"
        )
    lo, hi = spreads.get(m, (None, None))
    main_lo, main_hi = spreads.get(main, (None, None))
    if (
        lo is not None
        and main_lo is not None
        and main_hi > main_lo
        and hi - lo < NARROW_SHARE * (main_hi - main_lo)
    ):
        reason = (
            f"its item scores span only {lo:.2f}–{hi:.2f} (10th–90th percentile over every arm) "
            f"against {main_lo:.2f}–{main_hi:.2f} for {main}: a range too narrow on this "
            "material to separate the arms"
        )
    elif not m_sig:
        reason = f"that difference is not significant, so it does not contradict {main}"
        if lo is not None and main_lo is not None:
            reason += (
                f" (its item scores span {lo:.2f}–{hi:.2f} against {main_lo:.2f}–{main_hi:.2f} "
                f"for {main}: not too narrow a range to separate arms; it needs more items)"
            )
    else:
        reason = f"{m} measures {_NATURE.get(m, m)}; {main} measures {_NATURE.get(main, main)}"
    return f"{favour}: {reason}", m_sig and main_sig


def _spreads(
    runs: list[RunRecord], metrics: list[str], scores_of: Callable[[RunRecord], dict]
) -> dict[str, tuple[float, float]]:
    """Per metric: the 10th and 90th percentile of its item scores pooled over every arm."""
    pooled: dict[str, list[float]] = {m: [] for m in metrics}
    for r in runs:
        for item in scores_of(r).values():
            for m in metrics:
                if m in item:
                    pooled[m].append(item[m])
    return {m: tuple(float(q) for q in np.quantile(v, [0.1, 0.9])) for m, v in pooled.items() if v}


def _names(metrics: list[str]) -> str:
    return ", ".join(metrics) if metrics else "none"
