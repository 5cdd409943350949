"""The knowledge drills' part of results.json (`knowledge`), as typed objects.

harness/run/knowledge.py and harness/run/knowledge_drills.py write it as plain mappings, per
task: `known` (SliCK categories and each arm's scores in them), `counterfactual` (what arms
answer when the passage contradicts the weights) and `update` (how arms absorb changed facts);
harness.reports.knowledge_notes reads these models. A drill that failed or was skipped keeps only
`error` or `skipped`, so every other field has a default.
"""

from __future__ import annotations

from typing import Any

from harness.spec.parts import MetricSummary, Part


class PairedChange(Part):
    """A paired difference between two arms on the same items (harness.common.stats.paired_test):
    the second arm's score minus the first's."""

    delta: float | None = None
    """The mean paired difference."""
    ci_low: float | None = None
    """Lower end of its 95% interval."""
    ci_high: float | None = None
    """Upper end of its 95% interval."""
    n: int | None = None
    """How many items were paired."""
    test: str | None = None
    """The test: `paired_bootstrap`, `mcnemar` (0/1 scores), or a clustered one."""
    p_value: float | None = None
    """Two-sided p-value of no difference."""


class _Drill(Part):
    """What every drill's part can say instead of its figures."""

    error: str | None = None
    """Why the drill failed (`Type: message`); the part holds nothing else then."""
    skipped: str | None = None
    """Why the drill did not apply to the task; the part holds nothing else then."""
    failed: dict[str, str] = {}
    """Per arm the drill could not measure: why (the other arms' rows stand)."""


class KnownSettings(Part):
    """How the base model's closed-book answers were drawn (the suite's `knowledge.known`)."""

    draws: int | None = None
    """Greedy answers per item, each under its own few-shot examples."""
    shots: int | None = None
    """Solved train examples in each draw's prompt."""
    samples: int | None = None
    """Answers sampled per item at `temperature`."""
    temperature: float | None = None
    """Temperature of the sampled answers."""


class ItemLabel(Part):
    """One item's SliCK category and the closed-book answers it was decided from."""

    category: str
    """HighlyKnown, MaybeKnown, WeaklyKnown or Unknown."""
    greedy_right: int | None = None
    """Greedy answers that were right."""
    greedy: int | None = None
    """Greedy answers drawn."""
    sampled_right: int | None = None
    """Sampled answers that were right."""
    sampled: int | None = None
    """Sampled answers drawn."""
    sampling: bool | None = None
    """Whether the backend could sample (false: the sampled counts are empty)."""


class CategoryScores(Part):
    """An arm's scores on the items of one SliCK category. The decision metric's summary is
    stored under the metric's own name (e.g. `exact_match`); read it with `score`."""

    n: int = 0
    """Items of the category the arm's samples score."""
    false_answer_rate: MetricSummary | None = None
    """Share of wrong, non-abstaining answers on these items."""
    versus_base: PairedChange | None = None
    """For a weight-changing arm: the decision metric's paired change against the base arm on
    these items; absent for other arms."""

    def score(self, metric: str) -> MetricSummary | None:
        """The summary of `metric` (the part's decision metric) on these items."""
        if metric in type(self).model_fields:
            value = getattr(self, metric)
            return value if isinstance(value, MetricSummary) else None
        raw = (self.model_extra or {}).get(metric)
        return None if raw is None else MetricSummary.model_validate(raw)


class KnownPart(_Drill):
    """Known and unknown items (SliCK): each answerable item's category from the base model's
    closed-book answers, and every arm's scores per category."""

    labels: dict[str, ItemLabel] = {}
    """Per eval item id: its category."""
    reused_items: int | None = None
    """Items whose label came from the cache."""
    labelled_items: int | None = None
    """Items the base model was asked about in this run."""
    settings: KnownSettings | None = None
    """How the closed-book answers were drawn."""
    metric: str | None = None
    """The decision metric the arms are scored by per category."""
    base_arm: str | None = None
    """The base arm the weight-changing arms are paired against; null when none ran."""
    counts: dict[str, int] = {}
    """Items per category."""
    arms: dict[str, dict[str, CategoryScores]] = {}
    """Per arm, per category: its scores."""


class SwapInfo(Part):
    """One edit of a gold passage: an answer span swapped for another answer of the same kind."""

    item: str | None = None
    """The eval item whose gold answer was swapped."""
    doc: str | None = None
    """The gold document edited."""
    kind: str | None = None
    """The kind of answer (number, date, name, ...) both answers are."""
    original: Any = None
    """The answer the passage held."""
    replacement: Any = None
    """The answer it holds after the swap."""


class OutcomeRates(Part):
    """Shares of an arm's answers to contradicting passages, by outcome."""

    context: MetricSummary | None = None
    """Context-following: the passage's (swapped) answer."""
    parametric: MetricSummary | None = None
    """Parametric override: the original answer, which only the weights can give."""
    other: MetricSummary | None = None
    """Neither."""


class OutcomeChanges(Part):
    """An arm's outcome rates paired against the reference arm's on the same items."""

    context: PairedChange | None = None
    """Change of the context-following rate."""
    parametric: PairedChange | None = None
    """Change of the parametric-override rate."""


class CounterfactualArm(Part):
    """What one passage-reading arm answered on the edited passages."""

    outcomes: dict[str, str] = {}
    """Per item id: `context`, `parametric` or `other`."""
    outputs: dict[str, Any] = {}
    """Per item id: the arm's answer."""
    rates: OutcomeRates = OutcomeRates()
    """Shares of the outcomes, with intervals."""
    versus_rag: OutcomeChanges | None = None
    """Paired against the reference arm; absent for the reference itself or when none ran."""


class CounterfactualPart(_Drill):
    """Passages that contradict the weights: the gold passage with its answer swapped, shown to
    every arm that reads passages."""

    n: int = 0
    """Answerable items edited."""
    seed: int | None = None
    """Seed of the sample of items and of the swaps."""
    reference: str | None = None
    """The arm the others are paired against (`rag`); null when it did not run."""
    swaps: list[SwapInfo] = []
    """The edits made."""
    arms: dict[str, CounterfactualArm] = {}
    """Per passage-reading arm: its outcomes."""


class UpdateCost(Part):
    """What absorbing the update took, measured."""

    kind: str | None = None
    """`re-index`, `retraining`, or `none (...)` with why nothing had to change."""
    seconds: float | None = None
    """Seconds the index build or the training took."""
    cached: bool | None = None
    """Whether the index or the trained artifact came from the cache."""


class UpdateArm(Part):
    """One arm (in one mode) after the knowledge update."""

    mode: str | None = None
    """`updated` (absorbs it without training), `stale` (trained weights kept) or `retrained`."""
    outputs: dict[str, Any] = {}
    """Per item id: the arm's answer in the updated world."""
    abstained: dict[str, Any] = {}
    """Per item id: whether it abstained."""
    cost: UpdateCost | None = None
    """What absorbing the update cost."""
    reused_answers: int | None = None
    """Answers taken from the arm's cell, not generated again: prompts the update left
    unchanged, answered by the same weights (every mode but `retrained`)."""
    changed_accuracy: MetricSummary | None = None
    """Accuracy on the items whose gold answer changed."""
    stale_answer_rate: MetricSummary | None = None
    """Share of changed items answered with the old answer."""
    unchanged_accuracy: MetricSummary | None = None
    """Accuracy on a sample of unchanged items."""


class UpdatePart(_Drill):
    """The knowledge-update drill: documents edited, and how each arm absorbs the change."""

    changed_items: int = 0
    """Eval items whose gold answer changed."""
    unchanged_items: int = 0
    """Unchanged eval items scored alongside."""
    documents: list[str] = []
    """Ids of the edited documents."""
    swaps: list[SwapInfo] = []
    """The edits, when made from the suite (`counterfactual: N`); empty for edits from files."""
    changed_train_items: int = 0
    """Train items whose answer changed (what a retrained arm learns anew)."""
    arms: dict[str, UpdateArm] = {}
    """Per arm label (with its mode when it ran in several): its scores and cost."""


class TaskKnowledge(Part):
    """The drills of one task; a drill the suite did not ask for is absent."""

    known: KnownPart | None = None
    """Known and unknown items (SliCK)."""
    counterfactual: CounterfactualPart | None = None
    """Passages that contradict the weights."""
    update: UpdatePart | None = None
    """The knowledge-update drill."""
