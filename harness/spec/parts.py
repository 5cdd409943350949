"""The base of every part of the run record, and the metric summary that the record and its
sections (costs, knowledge drills, judges) share. Their own module, so that a section's models
(harness/spec/record_*.py) and the record (harness.spec.record) import downwards."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Part(BaseModel):
    """A part of the record: field docstrings are schema descriptions; unknown keys are kept."""

    # strict: a number written as a string, or 1 for true, is a damaged file, not a value.
    model_config = ConfigDict(use_attribute_docstrings=True, extra="allow", strict=True)

    def has(self, name: str) -> bool:
        """Whether the file gave this field (a field can be absent and a value null)."""
        return name in self.model_fields_set or name in (self.model_extra or {})


class MetricSummary(Part):
    """One metric over the items it applies to, with its confidence interval."""

    value: float | None
    """The mean score; null when the metric applies to no item (n = 0)."""
    ci_low: float | None = None
    """Lower end of the 95% interval (Wilson for 0/1 scores, else bootstrap)."""
    ci_high: float | None = None
    """Upper end of the 95% interval."""
    n: int = 0
    """How many items the metric was scored on."""
    ci_method: str | None = None
    """How the interval was computed: `wilson`, `bootstrap`; where items share a cluster
    `cluster_wilson` (Wilson over n / design effect items) or `cluster_bootstrap` (absent when
    n = 0)."""
    clusters: int | None = None
    """Where items share a cluster: how many clusters (by default gold documents) they form."""
    design_effect: float | None = None
    """Where items share a cluster: variance of the mean under clustering over the item-level one."""
    item_ci_low: float | None = None
    """Where items share a cluster: the item-level interval (`item_ci_method`), for comparison."""
    item_ci_high: float | None = None
    """Where items share a cluster: upper end of the item-level interval."""
    item_ci_method: str | None = None
    """Where items share a cluster: how the item-level interval was computed."""
    higher_is_better: bool | None = None
    """Direction of the metric; null for a descriptive rate with no better direction."""
