"""The verdict of one task (harness.reports.decision) as an object, and the suite's decision
block it is taken under.

Its own module so that the modules adding to a verdict (metric_agreement, label_notes,
knowledge_notes), which decision.py imports, can import it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.reports.compare import Comparison
from harness.spec.config import DecisionSpec
from harness.spec.record import Results


def decision_spec(results: Results) -> DecisionSpec:
    """The suite's `decision:` block as the run validated it (the defaults when it had none)."""
    return DecisionSpec.model_validate(results.section("decision"))


@dataclass
class Bottleneck:
    """Where the RAG pipeline loses, in points of the decision metric."""

    where: str
    """`retrieval` (oracle_context - rag is the larger loss) or `reading` (ceiling -
    oracle_context is)."""
    retrieval_loss: float
    reading_loss: float
    text: str
    """The sentence the reports quote."""


@dataclass
class Verdict:
    """One task's recommendation, with the measured reasons for it and what would change it."""

    task: str
    recommended: str | None = None
    """The recommended arm (its family across wordings); None: no recommendation."""
    metric: str | None = None
    """The decision metric; None when there was none to decide on."""
    reasons: list[str] = field(default_factory=list)
    would_change: list[str] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    """Every other eligible arm paired with the best (Holm-adjusted together)."""
    bottleneck: Bottleneck | None = None
    robust_to_wording: bool | None = None
    """Under prompt variants: whether every wording recommends the same arm; else None."""
    per_wording: dict[str, str | None] | None = None
    """When the wordings disagree: the family each wording recommends."""
    robust_to_metric: bool | None = None
    """Whether every quality metric recommends the same arm; None when not checked."""
    per_metric: dict[str, str | None] | None = None
    """Per quality metric, the arm it recommends (when checked)."""

    def comparison_with(self, arm: str | None) -> Comparison | None:
        """The comparison of the best arm with `arm` (None when `arm` is the best)."""
        return next((c for c in self.comparisons if c.b == arm), None)
