"""One row of a run's samples file (samples/<task>__<arm>.jsonl): an item, the arm's answer to it
and its per-metric scores, as harness.run.scoring writes it. Read by the reports
(harness.reports.runfiles.read_samples checks a file and returns these rows)."""

from __future__ import annotations

from typing import Any

from harness.spec.parts import Part


class Score(Part):
    """One metric's score of one item."""

    value: float | None
    """The score; null where the metric does not apply to the item."""
    reason: str | None = None
    """Why the item scored so (the metric's own words), where it says."""


class SampleRow(Part):
    """An item, the arm's answer and its scores. Rows written by an older adaptbench lack some
    fields (item_hash, cluster, prompt...): they are then None; unknown keys are kept."""

    id: str
    """The item's id."""
    item_hash: str | None = None
    """Short hash of the item's content: what gate and compare match items on."""
    source: str | None = None
    """Where the item came from."""
    cluster: str | None = None
    """Items that succeed or fail together (by default the gold document): what paired tests
    resample."""
    prompt: str | None = None
    """The prompt the arm answered."""
    output: str | None = None
    """The arm's answer; null where it chose among labels (`choice`)."""
    abstained: bool | None = None
    """Whether the answer was an abstention."""
    gold: list[str] | None = None
    """The gold answers."""
    answerable: bool | None = None
    """Whether the item has an answer in its context."""
    choice: int | None = None
    """The label chosen, where the arm scores by choice."""
    extra: dict[str, Any] | None = None
    """What the arm adds to its answer (retrieved passages, labels listed...)."""
    scores: dict[str, Score] = {}
    """Metric -> score."""

    def score(self, metric: str) -> float | None:
        """The item's score under `metric`; None where it was not scored or does not apply."""
        return self.scores[metric].value if metric in self.scores else None

    def score_values(self) -> dict[str, float | None]:
        """{metric: score} of every metric the item was scored on."""
        return {m: s.value for m, s in self.scores.items()}

    def extras(self) -> dict[str, Any]:
        """What the arm added to its answer ({} where nothing)."""
        return self.extra or {}
