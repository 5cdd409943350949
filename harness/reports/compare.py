"""Paired comparisons: two arms (or two runs) on the items they share.

Every comparison is paired (same items on both sides): exact McNemar for 0/1 scores, a paired
bootstrap otherwise (harness.common.stats); where items share a cluster (recorded per item in the
samples, by default the gold document) a paired cluster bootstrap, with the item-level test kept
beside it. p-values are Holm-adjusted across all comparisons of one report, so "significant"
means the same thing however many arms a suite has. A difference that is not significant is
not called equal: it is "equivalent within" a margin when a two one-sided test shows it, else
underpowered, with the smallest difference the items could detect and the items needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from harness.common.stats import holm, paired_test, power
from harness.reports.matching import MismatchError, check_sides, check_tasks, shared_items
from harness.reports.runfiles import load_results, load_samples
from harness.spec.record import BaselineRun, Results, RunRecord, direction, primary_metric

ALPHA = 0.05
TIE_DESPITE_CI = (
    "(†) Not shown different although the unadjusted 95% CI of the delta excludes 0: taken alone the "
    "difference would look real, but not after the Holm adjustment for all the comparisons "
    "made; more items would settle it."
)


def item_scores(run_dir: Path, record: RunRecord) -> dict[str, dict[str, float]]:
    """{item id: {metric: value}} of a finished run, from its samples file (checked: a missing
    or altered file is an error naming it, never an empty set that pairs with nothing)."""
    if isinstance(record, BaselineRun):  # a baseline file carries them inline
        return record.item_scores
    return {row.id: row.score_values() for row in load_samples(run_dir, record)}


def item_clusters(run_dir: Path, record: RunRecord) -> dict[str, str]:
    """{item id: cluster} of a run (or a baseline that stored them); items a run wrote without a
    cluster (an older adaptbench) are absent and count as clusters of one."""
    if isinstance(record, BaselineRun):  # a baseline file carries them inline
        return record.item_clusters or {}
    return {row.id: row.cluster for row in load_samples(run_dir, record) if row.cluster is not None}


def item_hashes(run_dir: Path, record: RunRecord) -> dict[str, str] | None:
    """{item id: content hash} of a run's (or baseline's) items; None when they were written
    without hashes (by an older adaptbench)."""
    if isinstance(record, BaselineRun):  # a baseline file carries them inline
        return record.item_hashes
    out = {}
    for row in load_samples(run_dir, record):
        if row.item_hash is None:
            return None
        out[row.id] = row.item_hash
    return out


def only(scores: dict[str, dict[str, float]], ids: set[str]) -> dict[str, dict[str, float]]:
    """The per-item scores of the given items only."""
    return {i: s for i, s in scores.items() if i in ids}


@dataclass(frozen=True)
class PairedTest:
    """One paired test of b against a on the items both scored (harness.common.stats.paired_test):
    exact McNemar for 0/1 scores, a paired bootstrap otherwise, a paired cluster bootstrap where
    items share a cluster (the item-level test then under `item_level`)."""

    test: str  # mcnemar, paired_bootstrap or cluster_bootstrap
    n: int  # items paired
    delta: float  # mean(b) - mean(a)
    ci_low: float  # 95% CI of the delta
    ci_high: float
    p_value: float  # two-sided, unadjusted
    se: float = 0.0  # standard error of the delta (cluster-robust where clustered)
    design_effect: float = 1.0  # variance under clustering over the item-level one
    resamples: int | None = None  # the bootstrap's (bounds its smallest p-value)
    a_only: int | None = None  # McNemar: items only a got right
    b_only: int | None = None  # McNemar: items only b got right
    clusters: int | None = None  # clustered: how many clusters the items form
    item_level: PairedTest | None = None  # clustered: the same test with items independent

    @classmethod
    def of(cls, result: dict) -> PairedTest:
        """From harness.common.stats.paired_test's dict."""
        fields = dict(result)
        item = fields.pop("item_level", None)
        return cls(**fields, item_level=None if item is None else cls.of(item))

    def as_dict(self) -> dict:
        """As harness.common.stats.paired_test returns it: the same keys, in the same order."""
        keys = CLUSTERED_KEYS if self.item_level is not None else ITEM_LEVEL_KEYS
        out = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.item_level is not None:
            out["item_level"] = self.item_level.as_dict()
        return out


ITEM_LEVEL_KEYS = (
    "test", "n", "delta", "ci_low", "ci_high", "p_value", "se", "design_effect",
    "a_only", "b_only", "resamples",
)  # fmt: skip
CLUSTERED_KEYS = (
    "test", "n", "clusters", "delta", "ci_low", "ci_high", "p_value", "resamples", "se",
    "design_effect",
)  # fmt: skip


@dataclass(frozen=True)
class Power:
    """What a paired test's standard error can and cannot show (harness.common.stats.power)."""

    mdd: float  # smallest difference detectable at 80% power
    needed_n: int | None  # items for 80% power on the observed |delta|; None when delta is 0
    margin: float | None = None  # the equivalence margin, where one was set
    tost_p: float | None = None  # with a margin: two one-sided tests of |delta| < margin
    equivalent: bool = False  # with a margin: shown equivalent (tost_p < 0.05)

    def as_dict(self) -> dict:
        out = {"mdd": self.mdd, "needed_n": self.needed_n}
        if self.margin is not None:
            out |= {"margin": self.margin, "tost_p": self.tost_p, "equivalent": self.equivalent}
        return out


@dataclass
class Comparison:
    task: str
    metric: str
    a: str  # label of the reference side
    b: str  # label of the compared side
    higher_is_better: bool | None
    result: PairedTest
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
        return self.verdict == "tie" and (r.ci_low > 0 or r.ci_high < 0)

    @property
    def verdict(self) -> str:
        """better / worse / tie, from b's point of view, direction-aware.

        A significant difference on a metric with no good direction (abstention_rate) is
        `higher` or `lower`: a real difference, neither good nor bad by itself.
        """
        delta = self.result.delta
        if not self.significant or delta == 0:
            return "tie"
        if self.higher_is_better is None:
            return "higher" if delta > 0 else "lower"
        return "better" if (delta > 0) == self.higher_is_better else "worse"

    @property
    def power(self) -> Power:
        """mdd, needed_n and (with a margin) tost_p / equivalent: harness.common.stats.power."""
        r = self.result
        return Power(**power(r.delta, r.se, r.n, self.margin))

    @property
    def status(self) -> str:
        """The verdict in words a reader can sign off: a significant difference is better /
        worse (higher / lower); otherwise equivalent within the margin (TOST), or not shown
        different, and then underpowered when a margin was set but not shown either."""
        if self.verdict != "tie":
            return self.verdict
        if self.margin is None:
            return "not shown different (no equivalence margin set)"
        if self.power.equivalent:
            return f"equivalent within {self.margin:g}"
        return "not shown different and not shown equivalent: underpowered"

    def p_text(self) -> str:
        """The adjusted p-value; `p≤` when the bootstrap's resolution (1/resamples) bounds it."""
        r = self.result
        floor = 1.0 / r.resamples if r.resamples else 0.0
        bound = "≤" if r.p_value <= floor else "="
        return f"p{bound}{self.p_adjusted:.2g}"

    def power_text(self) -> str:
        """One clause: the design effect, the smallest detectable difference, the items needed."""
        r, pw = self.result, self.power
        parts = []
        item = r.item_level
        if item is not None and r.design_effect != 1.0:  # only a clustered test has one
            width = r.ci_high - r.ci_low
            item_width = item.ci_high - item.ci_low
            ratio = f"{width / item_width:.2f}x" if item_width > 0 else "n/a:"
            parts.append(
                f"design effect {r.design_effect:.2f} over {r.clusters} clusters "
                f"(CI {ratio} the item-level width; item-level "
                f"{item.test} p={item.p_value:.2g}, unadjusted)"
            )
        if r.se == 0:
            parts.append("every item differs by the same amount: no spread to size a test from")
            return "; ".join(parts)
        parts.append(f"smallest difference detectable at 80% power: {pw.mdd:.3f}")
        if self.verdict == "tie":
            if pw.needed_n is None:
                parts.append("no difference observed, so no number of items would show one")
            else:
                parts.append(
                    f"about {max(0, pw.needed_n - r.n)} more items (n≈{pw.needed_n}) "
                    f"would detect the observed {abs(r.delta):.3f} (80% power, two-sided "
                    "0.05 before the Holm adjustment)"
                )
        if self.margin is not None and self.verdict == "tie":
            parts.append(f"TOST p={pw.tost_p:.2g} against ±{self.margin:g}")
        return "; ".join(parts)

    def as_dict(self) -> dict:
        return {
            "task": self.task,
            "metric": self.metric,
            "a": self.a,
            "b": self.b,
            **self.result.as_dict(),
            "p_adjusted": self.p_adjusted,
            "significant": self.significant,
            "verdict": self.verdict,
            "status": self.status,
            **self.power.as_dict(),
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
    result = PairedTest.of(paired_test(a, b, seed=seed, clusters=labels))
    return Comparison(task, metric, a_label, b_label, higher_is_better, result, margin=margin)


def adjust(comparisons: list[Comparison]) -> list[Comparison]:
    """Holm-adjust the p-values of one report's comparisons, in place."""
    for c, p in zip(comparisons, holm([c.result.p_value for c in comparisons])):
        c.p_adjusted = p
    return comparisons


def versus_base(results: Results, run_dir: Path) -> list[Comparison]:
    """Every arm against the baseline arm of its task (the run whose arm's role is `baseline`,
    the base model), for every metric both scored. A task with no finished baseline, or with
    several (wordings, seeds), is left out: there is no one run to pair against."""
    seed = results.environment.seed or 0
    definitions = results.metric_definitions
    comparisons = []
    for task in results.tasks:
        runs = results.ok_runs(task)
        baselines = [r for r in runs if r.role == "baseline"]
        if len(baselines) != 1:
            continue
        (base,) = baselines
        base_scores = item_scores(run_dir, base)
        clusters = item_clusters(run_dir, base)
        for record in runs:
            if record is base:
                continue
            scores = item_scores(run_dir, record)
            for metric, m in record.metrics.items():
                if not m.n:
                    continue
                hib = direction(metric, definitions, [record])
                c = paired(
                    task, metric, base.arm, base_scores, record.arm, scores, hib, seed, clusters
                )
                if c is not None:
                    comparisons.append(c)
    return adjust(comparisons)


@dataclass(frozen=True)
class Flips:
    """Items of one (task, arm) that went right to wrong (broken) or wrong to right (fixed)."""

    task: str
    arm: str
    metric: str  # the 0/1 metric the flips are on
    shared_items: int
    fixed: list[str]
    broken: list[str]


@dataclass(frozen=True)
class Unmatched:
    """A (task, arm) only one of the compared runs has."""

    task: str
    arm: str
    only_in: str  # "A" or "B"


@dataclass
class RunComparison:
    """Run B against run A (`compare_runs`): the paired comparisons and the flipped items."""

    a: str  # run A's folder
    b: str
    notes: list[str]  # mismatches accepted (harness.reports.matching)
    comparisons: list[Comparison]
    flips: list[Flips]
    unmatched: list[Unmatched]

    def as_dict(self) -> dict:
        """For `adaptbench compare --json`."""
        return {
            "a": self.a,
            "b": self.b,
            "notes": self.notes,
            "comparisons": [c.as_dict() for c in self.comparisons],
            "flips": [asdict(f) for f in self.flips],
            "unmatched": [asdict(u) for u in self.unmatched],
        }


def compare_runs(dir_a: Path, dir_b: Path, allow: frozenset[str] = frozenset()) -> RunComparison:
    """Per-metric paired deltas of run B against run A on shared items, and the items that flipped.

    The runs must agree on suite, tasks, model and metric definitions, and items pair on id and
    content hash (harness.reports.matching), unless `allow` names the kinds of mismatch to accept; runs
    that share no items are not comparable. Raises MismatchError.
    """
    ra, rb = load_results(dir_a), load_results(dir_b)
    agreement = check_sides(ra, rb, f"run A ({dir_a})", f"run B ({dir_b})", allow)
    tasks_a = {r.task for r in ra.runs} | set(ra.tasks)
    tasks_b = {r.task for r in rb.runs} | set(rb.tasks)
    check_tasks(agreement, tasks_a, tasks_b, both_ways=True)
    seed = ra.environment.seed or 0
    definitions = ra.metric_definitions
    runs_a = {(r.task, r.arm): r for r in ra.ok_runs()}
    runs_b = {(r.task, r.arm): r for r in rb.ok_runs()}
    comparisons, flips, unmatched = [], [], []
    total_shared = 0
    for key in sorted(set(runs_a) | set(runs_b)):
        if key not in runs_a or key not in runs_b:
            unmatched.append(Unmatched(key[0], key[1], "A" if key in runs_a else "B"))
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
        metrics = [m for m, v in runs_b[key].metrics.items() if v.n]
        clusters = item_clusters(dir_b, runs_b[key]) or item_clusters(dir_a, runs_a[key])
        for metric in metrics:
            hib = direction(metric, definitions)
            c = paired(task, metric, f"A:{arm}", sa, f"B:{arm}", sb, hib, seed, clusters)
            if c is not None:
                comparisons.append(c)
        primary = primary_metric(metrics)
        if primary:
            flips.append(flipped(task, arm, sa, sb, primary))
    if total_shared == 0:
        raise MismatchError(
            f"run A ({dir_a}) and run B ({dir_b}) share no items: no (task, arm) of one has an "
            f"item (same id and content) that the other scored, so there is nothing to compare"
        )
    adjust(comparisons)
    return RunComparison(str(dir_a), str(dir_b), agreement.notes, comparisons, flips, unmatched)


def flipped(task: str, arm: str, a: dict, b: dict, metric: str) -> Flips:
    """Items that went from right to wrong (broken) or wrong to right (fixed) on a 0/1 metric."""
    shared = [i for i in a if i in b and metric in a[i] and metric in b[i]]
    fixed = [i for i in shared if a[i][metric] < 0.5 <= b[i][metric]]
    broken = [i for i in shared if b[i][metric] < 0.5 <= a[i][metric]]
    return Flips(task, arm, metric, len(shared), fixed, broken)


def comparison_markdown(result: RunComparison) -> str:
    lines = [
        f"# adaptbench compare\n\nA = `{result.a}`, B = `{result.b}`. Deltas are B - A on the items both "
        f"runs scored; p-values are paired tests, Holm-adjusted across the {len(result.comparisons)} "
        "comparisons below.",
        *[f"\n**Note:** {n}." for n in result.notes],
        "",
        "| task | arm | metric | n | delta (B-A) | 95% CI | test | design effect | p (Holm) | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in result.comparisons:
        r = c.result
        verdict = "not shown different" if c.verdict == "tie" else c.verdict
        verdict += " (†)" if c.tie_despite_ci else ""
        lines.append(
            f"| {c.task} | {c.b[2:]} | {c.metric} | {r.n} | {r.delta:+.3f} | "
            f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}] | {r.test} | "
            f"{r.design_effect:.2f} | {c.p_adjusted:.3g} | {verdict} |"
        )
    if any(c.tie_despite_ci for c in result.comparisons):
        lines += ["", TIE_DESPITE_CI]
    for f in result.flips:
        lines += [
            "",
            f"**{f.task} / {f.arm}** ({f.metric}, {f.shared_items} shared items): "
            f"{len(f.fixed)} fixed, {len(f.broken)} broken.",
        ]
        if f.fixed:
            lines.append(f"- fixed: {', '.join(f.fixed[:20])}{' ...' if len(f.fixed) > 20 else ''}")
        if f.broken:
            lines.append(
                f"- broken: {', '.join(f.broken[:20])}{' ...' if len(f.broken) > 20 else ''}"
            )
    for u in result.unmatched:
        lines.append(f"\n_{u.task} / {u.arm} is only in run {u.only_in}._")
    return "\n".join(lines) + "\n"
