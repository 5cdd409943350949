"""The parts of a run's `efficiency` block that are blocks themselves, as typed objects: the
machine's calibration, each phase's time and memory, an endpoint's token usage, and the figures
an arm adds under its own key (`training` for arms that train, `retrieval` for arms that build
an index).

Every field is optional: records written before a figure existed lack it, and the readers
(efficiency gates, MLflow, the reports, costs and learning curves) treat a missing figure as
unmeasured. The models are open, so a figure a newer arm adds is kept without being read.
"""

from __future__ import annotations

from harness.spec.parts import Part


class Calibration(Part):
    """This machine's speed timed next to a cell's predictions (harness.common.calibrate)."""

    seconds: float | None = None
    """Seconds of the fixed workload: the median over the repeats."""
    spread: float | None = None
    """(max - min) / median of the repeats: the noise an efficiency gate tolerates."""
    repeats: list[float] | None = None
    """Each repeat's seconds (before and after the predictions)."""
    with_model: bool | None = None
    """Whether the workload included a short decode of the cell's own model."""
    workload: str | None = None
    """What was timed, in words."""
    timed: str | None = None
    """When it was timed (`before and after the predictions`)."""

    def usable(self) -> bool:
        """Whether it has a positive time to divide by."""
        return self.seconds is not None and self.seconds > 0


class PhaseFigures(Part):
    """One phase of a cell (prepare, predict, retention)."""

    seconds: float | None = None
    """Wall seconds of the phase."""
    peak_memory_bytes: int | None = None
    """Highest memory use during the phase."""
    memory_kind: str | None = None
    """What the peak measures: `cuda` (allocated GPU memory) or `rss` (process memory)."""


class ServerUsage(Part):
    """Token usage as an endpoint reported it over a cell's requests."""

    requests: int = 0
    """Requests sent (answers from the response cache included)."""
    prompt_tokens: int = 0
    """Prompt tokens the server counted."""
    completion_tokens: int = 0
    """Completion tokens the server counted."""
    cached_responses: int = 0
    """Answers from the response cache, whose latency was measured when first sent (absent, so
    0, in records written before it)."""


class LossPoint(Part):
    """One training step of the loss curve."""

    step: int
    """The optimizer step."""
    loss: float | None = None
    """The training loss at that step."""
    tokens_per_s: float | None = None
    """Real (non-padding) tokens per second of training so far."""


class DevLossPoint(Part):
    """One evaluation of the dev loss during training."""

    step: int
    """The optimizer step it was evaluated at."""
    dev_loss: float | None = None
    """The loss on the dev split."""


class TrainingFigures(Part):
    """`efficiency.training` of a trained arm (harness.engine.training, harness.arms.trained)."""

    seconds: float | None = None
    """Wall seconds of training."""
    steps: int | None = None
    """Optimizer steps taken."""
    epochs: float | None = None
    """Epochs the arm was asked to train."""
    epochs_run: float | None = None
    """Epochs actually trained (fewer when stopped early or capped)."""
    devices: int | None = None
    """Devices the training ran on."""
    processes: int | None = None
    """Processes the training ran in (older records; one device each)."""
    device: str | None = None
    """The device kind it trained on."""
    train_items: int | None = None
    """Training items the arm saw."""
    train_split_items: int | None = None
    """Items in the task's train split."""
    examples: int | None = None
    """Training examples made from them (plus corpus windows with corpus_training)."""
    examples_too_long: int | None = None
    """Train items left out: their prompt fills max_seq_len before the answer."""
    real_tokens: int | None = None
    """Tokens trained on, padding excluded."""
    computed_tokens: int | None = None
    """Tokens the model computed, padding included."""
    tokens_per_s: float | None = None
    """Real tokens per second of training (dev-loss evaluations not counted)."""
    mfu: float | None = None
    """Model FLOPs utilisation: achieved training FLOPs over the device's peak."""
    final_loss: float | None = None
    """The training loss at the last step."""
    best_dev_loss: float | None = None
    """The lowest dev loss seen; null without a dev split."""
    loss_curve: list[LossPoint] = []
    """The training loss per step."""
    dev_loss_curve: list[DevLossPoint] = []
    """The dev loss per evaluation."""
    artifact_cached: bool | None = None
    """True when the trained artifact came from the cache (nothing was trained this run)."""


class RetrievalFigures(Part):
    """`efficiency.retrieval` of a retrieving arm: its index (harness.engine.retrieval)."""

    build_seconds: float | None = None
    """Seconds spent building the index: chunking, embedding and indexing."""
    chunks: int | None = None
    """Chunks in the index."""
    documents: int | None = None
    """Documents the chunks came from."""
    index_kind: str | None = None
    """The index type (flat, hnsw, ivf, ...)."""
    index_bytes: int | None = None
    """Size of the index file."""
    embedder: str | None = None
    """The embedding model."""
    index_cached: bool | None = None
    """True when the index came from the cache (nothing was built this run)."""
