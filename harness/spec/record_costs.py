"""results.json's `costs` and `learning_curves` blocks, as the typed objects their sections read.

`harness.reports.costs` builds `CostSummary` (each arm's measured inputs and its costs at the
stated usage, and the break-evens), `harness.reports.curve` the `LearningCurve`s (the decision
metric at each share of the train split, next to the arms that train nothing). The runner dumps
them into results.json (`model_dump(mode="json")`) and the loader validates them back; the
reports recompute them from the runs. Field order is the file's key order. The run figures they
read (`efficiency.training`, `efficiency.retrieval`) are in harness.spec.record_efficiency.
"""

from __future__ import annotations

from typing import Any

from harness.spec.parts import Part


class ArmCost(Part):
    """One arm's measured inputs and the costs they give at the stated usage."""

    arm: str
    """The arm's label."""
    kind: str
    """The arm's registry key."""
    device: str
    """What its time is priced as: `gpu` (CUDA or MPS), `cpu`, or `endpoint` (priced by tokens)."""
    hour_price: float
    """The price of an hour of its device (`gpu_hour` or `cpu_hour`)."""
    train_seconds: float = 0.0
    """Seconds of training (0 for arms that train nothing)."""
    train_devices: int = 1
    """Devices the training ran on; the one-off cost counts each."""
    index_build_seconds: float = 0.0
    """Seconds spent building the retrieval index (0 for arms that do not retrieve)."""
    query_seconds: float | None = None
    """Device seconds per eval item (predict seconds / items, at the run's batch size); null when
    the predict phase was not timed."""
    prompt_tokens_per_query: float | None = None
    """Prompt tokens per item: as an endpoint billed them, else as counted here."""
    output_tokens_per_query: float | None = None
    """Generated tokens per item: as an endpoint billed them, else as counted here."""
    peak_memory_bytes: int | None = None
    """The run's peak memory (see `efficiency.memory_kind`)."""
    changes_weights: bool = False
    """Whether the arm changes the model's weights (a fine-tuned arm of a break-even)."""
    retrieves: bool = False
    """Whether the arm retrieves (with `changes_weights` false: a retrieval arm of a break-even)."""
    one_off: float = 0.0
    """(training seconds x devices + index build seconds) / 3600 x hour price."""
    per_query: float = 0.0
    """Cost of one query: device time x hour price, or an endpoint's tokens x token prices."""
    per_1k_queries: float = 0.0
    """per_query x 1000."""
    update_seconds: float | None = None
    """Seconds absorbing one knowledge update took, as the knowledge-update drill measured it
    (re-index, retraining, or 0 for an arm that reads the updated data as it is); null when the
    drill did not run for the arm."""
    per_update: float = 0.0
    """Cost of one knowledge update: update_seconds x hour price where the drill measured it,
    else the one-off work again (retrain, re-index)."""
    monthly: float = 0.0
    """one_off / amortize_months + updates a month x per_update + queries a month x per_query."""


class BreakEvenInputs(Part):
    """Every input of the break-even formula, so a reader can redo it by hand."""

    one_off_fine_tuned: float
    """One-off cost of the fine-tuned arm."""
    one_off_retrieval: float
    """One-off cost of the retrieval arm."""
    update_fine_tuned: float
    """Cost of one knowledge update of the fine-tuned arm."""
    update_retrieval: float
    """Cost of one knowledge update of the retrieval arm."""
    per_query_fine_tuned: float
    """Cost of one query of the fine-tuned arm."""
    per_query_retrieval: float
    """Cost of one query of the retrieval arm."""
    updates_per_month: float
    """`usage.knowledge_updates_per_month`."""
    amortize_months: float
    """`usage.amortize_months`."""


class BreakEven(Part):
    """A fine-tuned arm against a retrieval arm: the query volume at which they cost the same."""

    fine_tuned: str
    """The fine-tuned arm's label."""
    retrieval: str
    """The retrieval arm's label."""
    inputs: BreakEvenInputs
    """The formula's inputs."""
    queries_per_month: float | None = None
    """Queries a month above which the fine-tuned arm costs less (0: at any volume); null when
    its queries cost no less, so it never does."""
    payback_queries: float | None = None
    """Queries after which the fine-tuned arm's extra one-off cost has paid for itself (no
    updates, no amortisation); null when it never does."""
    note: str | None = None
    """Why there is no break-even; null when there is one."""


class TaskCosts(Part):
    """One task's cost table."""

    arms: list[ArmCost] = []
    """Each finished, deployable arm's inputs and costs (reference rows and learning-curve
    points left out)."""
    break_even: list[BreakEven] = []
    """Every fine-tuned arm against every arm that retrieves and changes no weights."""


class CostSummary(Part):
    """Cost at the stated usage (harness.reports.costs)."""

    priced: bool = False
    """False when every price is zero (none was given)."""
    prices: dict[str, Any] = {}
    """The run's `costs:` (harness.spec.costs.CostsSpec): currency, hour and token prices."""
    usage: dict[str, Any] = {}
    """The run's `usage:` (harness.spec.costs.UsageSpec): queries and knowledge updates a month,
    months one-off costs are spread over."""
    formula: str = ""
    """The break-even formula, in words."""
    tasks: dict[str, TaskCosts] = {}
    """Per task name: its cost table and break-evens."""


class CurvePoint(Part):
    """One cell of a learning curve."""

    arm: str
    """The cell's label (`<arm>@frac<f>`, or the arm itself for the whole split)."""
    fraction: float
    """The share of the train split it trained on."""
    train_items: int | None = None
    """Training items it saw (recorded, else fraction x the split); null when unknown."""
    value: float | None = None
    """Its decision metric."""
    ci_low: float | None = None
    """Lower end of the metric's 95% interval."""
    ci_high: float | None = None
    """Upper end of the metric's 95% interval."""


class CatchUp(Part):
    """Where a learning curve reaches the best arm that trains nothing."""

    target: str
    """The arm reached for: the best deployable retrieval arm, else the best arm that trains
    nothing."""
    target_value: float
    """Its decision metric."""
    train_items: int | None = None
    """The fewest training items at which the curve reaches it; null when it does not."""
    fraction: float | None = None
    """The share of the split at that point; null when the curve does not reach it."""


class Curve(Part):
    """One trained arm's curve (with `seeds`, one per seed)."""

    arm: str
    """The trained arm's label (its 1.0 point)."""
    points: list[CurvePoint] = []
    """Its cells, by fraction."""
    catches_up: CatchUp | None = None
    """Where it reaches the best arm that trains nothing; null when there is none."""


class FlatLine(Part):
    """An arm that trains nothing: its value does not depend on training items."""

    arm: str
    """The arm's label."""
    kind: str
    """The arm's registry key."""
    retrieves: bool = False
    """Whether the arm retrieves."""
    value: float | None = None
    """Its decision metric."""
    ci_low: float | None = None
    """Lower end of the metric's 95% interval."""
    ci_high: float | None = None
    """Upper end of the metric's 95% interval."""


class LearningCurve(Part):
    """One task's learning curves (`train_fractions`)."""

    task: str
    """The task's name."""
    metric: str
    """The decision metric the curves are drawn in."""
    curves: list[Curve] = []
    """Each trained arm's curve."""
    flat: list[FlatLine] = []
    """The arms that train nothing (with a value)."""
