"""Paired comparisons: two arms (or two runs) on the items they share.

Every comparison is paired (same items on both sides): exact McNemar for 0/1 scores, a paired
bootstrap otherwise (harness.base.stats); where items share a cluster (recorded per item in the
samples, by default the gold document) a paired cluster bootstrap, with the item-level test kept
beside it. p-values are Holm-adjusted across all comparisons of one report, so "significant"
means the same thing however many arms a suite has. A difference that is not significant is
not called equal: it is "equivalent within" a margin when a two one-sided test shows it, else
underpowered, with the smallest difference the items could detect and the items needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.base.stats import holm, paired_test, power
from harness.reports.matching import MismatchError, check_sides, check_tasks, shared_items
from harness.reports.runfiles import load_results, load_samples
from harness.spec.record import direction, ok_runs, primary_metric

ALPHA = 0.05
TIE_DESPITE_CI = (
    "(†) Not shown different although the unadjusted 95% CI of the delta excludes 0: taken alone the "
    "difference would look real, but not after the Holm adjustment for all the comparisons "
    "made; more items would settle it."
)


def item_scores(run_dir: Path, record: dict) -> dict[str, dict[str, float]]:
    """{item id: {metric: value}} of a finished run, from its samples file (checked: a missing
    or altered file is an error naming it, never an empty set that pairs with nothing)."""
    if "item_scores" in record:  # a baseline file carries them inline
        return record["item_scores"]
    return {
        row["id"]: {m: s["value"] for m, s in row.get("scores", {}).items()}
        for row in load_samples(run_dir, record)
    }


def item_clusters(run_dir: Path, record: dict) -> dict[str, str]:
    """{item id: cluster} of a run (or a baseline that stored them); items a run wrote without a
    cluster (an older adaptbench) are absent and count as clusters of one."""
    if "item_scores" in record:  # a baseline file carries them inline
        return record.get("item_clusters") or {}
    return {
        row["id"]: row["cluster"]
        for row in load_samples(run_dir, record)
        if isinstance(row.get("cluster"), str)
    }


def item_hashes(run_dir: Path, record: dict) -> dict[str, str] | None:
    """{item id: content hash} of a run's (or baseline's) items; None when they were written
    without hashes (by an older adaptbench)."""
    if "item_scores" in record:  # a baseline file carries them inline
        return record.get("item_hashes")
    out = {}
    for row in load_samples(run_dir, record):
        if "item_hash" not in row:
            return None
        out[row["id"]] = row["item_hash"]
    return out


def only(scores: dict[str, dict[str, float]], ids: set[str]) -> dict[str, dict[str, float]]:
    """The per-item scores of the given items only."""
    return {i: s for i, s in scores.items() if i in ids}


@dataclass
class Comparison:
    task: str
    metric: str
    a: str  # label of the reference side
    b: str  # label of the compared side
    higher_is_better: bool | None
    result: dict  # paired_test output: test, n, delta (b - a), ci_low, ci_high, p_value, se
    p_adjusted: float = 1.0
    margin: float | None = None  # equivalence margin on the metric's scale (decision spec)

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA

    @property
    def tie_despite_ci(self) -> bool:
        """A tie whose unadjusted 95% CI of the delta excludes zero: significant taken alone,
        not after the Holm adjustment for the report's other comparisons."""
        r = self.result
        return self.verdict == "tie" and (r["ci_low"] > 0 or r["ci_high"] < 0)

    @property
    def verdict(self) -> str:
        """better / worse / tie, from b's point of view, direction-aware.

        A significant difference on a metric with no good direction (abstention_rate) is
        `higher` or `lower`: a real difference, neither good nor bad by itself.
        """
        delta = self.result["delta"]
        if not self.significant or delta == 0:
            return "tie"
        if self.higher_is_better is None:
            return "higher" if delta > 0 else "lower"
        return "better" if (delta > 0) == self.higher_is_better else "worse"

    @property
    def power(self) -> dict:
        """mdd, needed_n and (with a margin) tost_p / equivalent: harness.base.stats.power."""
        r = self.result
        return power(r["delta"], r.get("se", 0.0), r["n"], self.margin)

    @property
    def status(self) -> str:
        """The verdict in words a reader can sign off: a significant difference is better /
        worse (higher / lower); otherwise equivalent within the margin (TOST), or not shown
        different, and then underpowered when a margin was set but not shown either."""
        if self.verdict != "tie":
            return self.verdict
        if self.margin is None:
            return "not shown different (no equivalence margin set)"
        if self.power["equivalent"]:
            return f"equivalent within {self.margin:g}"
        return "not shown different and not shown equivalent: underpowered"

    def p_text(self) -> str:
        """The adjusted p-value; `p≤` when the bootstrap's resolution (1/resamples) bounds it."""
        r = self.result
        floor = 1.0 / r["resamples"] if r.get("resamples") else 0.0
        bound = "≤" if r["p_value"] <= floor else "="
        return f"p{bound}{self.p_adjusted:.2g}"

    def power_text(self) -> str:
        """One clause: the design effect, the smallest detectable difference, the items needed."""
        r, pw = self.result, self.power
        parts = []
        if r.get("design_effect", 1.0) != 1.0:
            item = r.get("item_level", {})
            width = r["ci_high"] - r["ci_low"]
            item_width = item.get("ci_high", 0.0) - item.get("ci_low", 0.0)
            ratio = f"{width / item_width:.2f}x" if item_width > 0 else "n/a:"
            parts.append(
                f"design effect {r['design_effect']:.2f} over {r.get('clusters')} clusters "
                f"(CI {ratio} the item-level width; item-level "
                f"{item.get('test')} p={item.get('p_value', 1.0):.2g}, unadjusted)"
            )
        if r.get("se", 0.0) == 0:
            parts.append("every item differs by the same amount: no spread to size a test from")
            return "; ".join(parts)
        parts.append(f"smallest difference detectable at 80% power: {pw['mdd']:.3f}")
        if self.verdict == "tie":
            if pw["needed_n"] is None:
                parts.append("no difference observed, so no number of items would show one")
            else:
                parts.append(
                    f"about {max(0, pw['needed_n'] - r['n'])} more items (n≈{pw['needed_n']}) "
                    f"would detect the observed {abs(r['delta']):.3f} (80% power, two-sided "
                    "0.05 before the Holm adjustment)"
                )
        if self.margin is not None and self.verdict == "tie":
            parts.append(f"TOST p={pw['tost_p']:.2g} against ±{self.margin:g}")
        return "; ".join(parts)

    def as_dict(self) -> dict:
        return {
            "task": self.task,
            "metric": self.metric,
            "a": self.a,
            "b": self.b,
            **self.result,
            "p_adjusted": self.p_adjusted,
            "significant": self.significant,
            "verdict": self.verdict,
            "status": self.status,
            **self.power,
            "tie_despite_ci": self.tie_despite_ci,
        }


def paired(
    task: str,
    metric: str,
    a_label: str,
    a_scores: dict[str, dict[str, float]],
    b_label: str,
    b_scores: dict[str, dict[str, float]],
    higher_is_better: bool | None,
    seed: int,
    clusters: dict[str, str] | None = None,
    margin: float | None = None,
) -> Comparison | None:
    """Compare one metric on the items both sides scored; None when they share none.

    `clusters` ({item id: cluster}, items missing from it are clusters of one) makes the test a
    paired cluster bootstrap where some cluster holds several items.
    """
    shared = sorted(
        i for i in a_scores if i in b_scores and metric in a_scores[i] and metric in b_scores[i]
    )
    if not shared:
        return None
    a = np.array([a_scores[i][metric] for i in shared], dtype=float)
    b = np.array([b_scores[i][metric] for i in shared], dtype=float)
    labels = [clusters.get(i, f"item:{i}") for i in shared] if clusters else None
    result = paired_test(a, b, seed=seed, clusters=labels)
    return Comparison(task, metric, a_label, b_label, higher_is_better, result, margin=margin)


def adjust(comparisons: list[Comparison]) -> list[Comparison]:
    """Holm-adjust the p-values of one report's comparisons, in place."""
    for c, p in zip(comparisons, holm([c.result["p_value"] for c in comparisons])):
        c.p_adjusted = p
    return comparisons


def versus_base(payload: dict, run_dir: Path, base_arm: str = "base") -> list[Comparison]:
    """Every arm against the base arm of its task, for every metric both scored."""
    seed = payload["environment"].get("seed", 0)
    definitions = payload.get("metric_definitions", {})
    comparisons = []
    for task in payload["tasks"]:
        runs = {r["arm"]: r for r in ok_runs(payload["runs"], task)}
        if base_arm not in runs:
            continue
        base_scores = item_scores(run_dir, runs[base_arm])
        clusters = item_clusters(run_dir, runs[base_arm])
        for arm, record in runs.items():
            if arm == base_arm:
                continue
            scores = item_scores(run_dir, record)
            for metric, m in record.get("metrics", {}).items():
                if not m.get("n"):
                    continue
                hib = direction(metric, definitions, [record])
                c = paired(task, metric, base_arm, base_scores, arm, scores, hib, seed, clusters)
                if c is not None:
                    comparisons.append(c)
    return adjust(comparisons)


def compare_runs(dir_a: Path, dir_b: Path, allow: frozenset[str] = frozenset()) -> dict:
    """Per-metric paired deltas of run B against run A on shared items, and the items that flipped.

    The runs must agree on suite, tasks, model and metric definitions, and items pair on id and
    content hash (harness.reports.matching), unless `allow` names the kinds of mismatch to accept; runs
    that share no items are not comparable. Raises MismatchError.
    """
    pa, pb = load_results(dir_a), load_results(dir_b)
    agreement = check_sides(pa, pb, f"run A ({dir_a})", f"run B ({dir_b})", allow)
    tasks_a = {r["task"] for r in pa["runs"]} | set(pa.get("tasks") or {})
    tasks_b = {r["task"] for r in pb["runs"]} | set(pb.get("tasks") or {})
    check_tasks(agreement, tasks_a, tasks_b, both_ways=True)
    seed = pa["environment"].get("seed", 0)
    definitions = pa.get("metric_definitions", {})
    runs_a = {(r["task"], r["arm"]): r for r in ok_runs(pa["runs"])}
    runs_b = {(r["task"], r["arm"]): r for r in ok_runs(pb["runs"])}
    comparisons, flips, unmatched = [], [], []
    total_shared = 0
    for key in sorted(set(runs_a) | set(runs_b)):
        if key not in runs_a or key not in runs_b:
            unmatched.append(
                {"task": key[0], "arm": key[1], "only_in": "A" if key in runs_a else "B"}
            )
            continue
        task, arm = key
        sa, sb = item_scores(dir_a, runs_a[key]), item_scores(dir_b, runs_b[key])
        ids = shared_items(
            agreement,
            f"{task}/{arm}",
            set(sa),
            item_hashes(dir_a, runs_a[key]),
            set(sb),
            item_hashes(dir_b, runs_b[key]),
        )
        total_shared += len(ids)
        sa, sb = only(sa, ids), only(sb, ids)
        metrics = [m for m, v in runs_b[key].get("metrics", {}).items() if v.get("n")]
        clusters = item_clusters(dir_b, runs_b[key]) or item_clusters(dir_a, runs_a[key])
        for metric in metrics:
            hib = direction(metric, definitions)
            c = paired(task, metric, f"A:{arm}", sa, f"B:{arm}", sb, hib, seed, clusters)
            if c is not None:
                comparisons.append(c)
        primary = primary_metric(metrics)
        if primary:
            flips.append({"task": task, "arm": arm, "metric": primary, **flipped(sa, sb, primary)})
    if total_shared == 0:
        raise MismatchError(
            f"run A ({dir_a}) and run B ({dir_b}) share no items: no (task, arm) of one has an "
            f"item (same id and content) that the other scored, so there is nothing to compare"
        )
    adjust(comparisons)
    return {
        "a": str(dir_a),
        "b": str(dir_b),
        "notes": agreement.notes,
        "comparisons": [c.as_dict() for c in comparisons],
        "flips": flips,
        "unmatched": unmatched,
    }


def flipped(a: dict, b: dict, metric: str) -> dict:
    """Items that went from right to wrong (broken) or wrong to right (fixed) on a 0/1 metric."""
    shared = [i for i in a if i in b and metric in a[i] and metric in b[i]]
    fixed = [i for i in shared if a[i][metric] < 0.5 <= b[i][metric]]
    broken = [i for i in shared if b[i][metric] < 0.5 <= a[i][metric]]
    return {"shared_items": len(shared), "fixed": fixed, "broken": broken}


def comparison_markdown(result: dict) -> str:
    lines = [
        f"# adaptbench compare\n\nA = `{result['a']}`, B = `{result['b']}`. Deltas are B - A on the items both "
        f"runs scored; p-values are paired tests, Holm-adjusted across the {len(result['comparisons'])} "
        "comparisons below.",
        *[f"\n**Note:** {n}." for n in result.get("notes", [])],
        "",
        "| task | arm | metric | n | delta (B-A) | 95% CI | test | design effect | p (Holm) | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in result["comparisons"]:
        verdict = "not shown different" if c["verdict"] == "tie" else c["verdict"]
        verdict += " (†)" if c.get("tie_despite_ci") else ""
        lines.append(
            f"| {c['task']} | {c['b'][2:]} | {c['metric']} | {c['n']} | {c['delta']:+.3f} | "
            f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] | {c['test']} | "
            f"{c.get('design_effect', 1.0):.2f} | {c['p_adjusted']:.3g} | {verdict} |"
        )
    if any(c.get("tie_despite_ci") for c in result["comparisons"]):
        lines += ["", TIE_DESPITE_CI]
    for f in result["flips"]:
        lines += [
            "",
            f"**{f['task']} / {f['arm']}** ({f['metric']}, {f['shared_items']} shared items): "
            f"{len(f['fixed'])} fixed, {len(f['broken'])} broken.",
        ]
        if f["fixed"]:
            lines.append(
                f"- fixed: {', '.join(f['fixed'][:20])}{' ...' if len(f['fixed']) > 20 else ''}"
            )
        if f["broken"]:
            lines.append(
                f"- broken: {', '.join(f['broken'][:20])}{' ...' if len(f['broken']) > 20 else ''}"
            )
    for u in result["unmatched"]:
        lines.append(f"\n_{u['task']} / {u['arm']} is only in run {u['only_in']}._")
    return "\n".join(lines) + "\n"
