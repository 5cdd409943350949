"""The judges' part of a run record (`judges`), and the label check a run folder may hold.

harness/run/judging.py writes `judges` as a plain mapping when a metric of the cell is judged:
`judge` (the model judge of answer_correctness, groundedness and contradicted_share) and
`grounding` (the small grounding checker of grounding_score). `adaptbench judge-check RUN_DIR
--labels FILE` writes judge_check.json into the run folder: each detector's agreement with
labels. harness.reports.judges reads these models.
"""

from __future__ import annotations

from harness.spec.parts import Part


class RepeatAgreement(Part):
    """How far a judge's repeats (the rubric's examples in different orders) agreed."""

    repeats: int | None = None
    """Times each answer was judged."""
    fleiss_kappa: float | None = None
    """Fleiss' kappa of the repeats' verdicts; null for one repeat."""
    unanimous: float | None = None
    """Share of answers every repeat judged alike; null for one repeat."""
    spread_mean: float | None = None
    """Mean per-answer spread (highest minus lowest score over the repeats); null for one repeat."""
    items: int | None = None
    """Answers judged."""


class JudgeUsage(Part):
    """The judge's own cost, apart from the arm's efficiency."""

    prompts: int = 0
    """Prompts sent to the judge (answers x repeats, claims included)."""
    prompt_tokens: int = 0
    """Prompt tokens of those prompts."""
    new_tokens: int = 0
    """Tokens the judge generated."""
    seconds: float | None = None
    """Seconds the judge took."""
    unparsed: int = 0
    """Verdicts the rubric's format could not read."""


class JudgeInfo(Part):
    """The model judge: who judged, with which rubric, how its repeats agreed, what it cost."""

    model: str | None = None
    """The judge model's name."""
    backend: str | None = None
    """The backend it ran on (hf, vllm, openai)."""
    rubric: str | None = None
    """The rubric: a shipped version or the path of one's own."""
    rubric_digest: str | None = None
    """Hash of the rubric's templates and examples."""
    repeats: int | None = None
    """Times each answer was judged."""
    answer_correctness: RepeatAgreement | None = None
    """Repeat agreement of the correctness verdicts; absent when not judged."""
    groundedness: RepeatAgreement | None = None
    """Repeat agreement of the groundedness verdicts (also behind contradicted_share); absent
    when not judged."""
    usage: JudgeUsage | None = None
    """The judge's prompts, tokens and seconds."""


class GroundingInfo(Part):
    """The small grounding checker of grounding_score."""

    path: str | None = None
    """The checker's checkpoint (a hub id or a local folder)."""
    pairs: int = 0
    """(passages, answer) pairs it scored."""
    seconds: float | None = None
    """Seconds it took."""


class Judges(Part):
    """The judges of a cell's judged metrics; each is absent when no metric of it was scored."""

    judge: JudgeInfo | None = None
    """The model judge."""
    grounding: GroundingInfo | None = None
    """The grounding checker."""


class Estimate(Part):
    """A figure with its 95% interval (null when there was nothing to compute it on)."""

    value: float | None = None
    """The figure."""
    ci_low: float | None = None
    """Lower end of the interval."""
    ci_high: float | None = None
    """Upper end of the interval."""


class DetectorCheck(Part):
    """One detector (a judged metric or a lexical detector) measured against labels."""

    detector: str
    """The detector's name (the metric it scores)."""
    n: int = 0
    """Labelled answers it scored."""
    positives: int | None = None
    """Of those, the ones labelled hallucinated."""
    threshold: float | None = None
    """Score from which an answer counts as flagged."""
    auc: Estimate | None = None
    """Area under the ROC curve of its scores against the labels."""
    accuracy: Estimate | None = None
    """Accuracy of its flags at the threshold."""
    kappa: Estimate | None = None
    """Cohen's kappa of its flags against the labels."""


class JudgeCheck(Part):
    """judge_check.json: every detector of a run measured against labelled answers."""

    source: str | None = None
    """The labels file."""
    n: int | None = None
    """Labelled answers."""
    detectors: list[DetectorCheck] = []
    """Per detector: its figures."""
