"""Specs of model judges and of the small-model grounding checker (`judge:`, `grounding_model:`).

Both sit at suite level or task level (a task's own replaces the suite's). They decide scores
only, never predictions: a change to either re-scores stored predictions and generates nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.spec.model import ModelSpec

# The rubric versions shipped in harness/judges/rubrics/ (a folder per version).
RUBRICS_DIR = Path(__file__).resolve().parent.parent / "judges" / "rubrics"


def shipped_rubrics() -> list[str]:
    return (
        sorted(p.name for p in RUBRICS_DIR.iterdir() if p.is_dir()) if RUBRICS_DIR.is_dir() else []
    )


# The model-serving fields a judge shares with `model:` (harness.spec.model.ModelSpec). JudgeSpec
# spells them out rather than extending ModelSpec: its dump is part of the judged scores' cache
# key, so its shape (`model:` for the name, its own batch_size default) must not change.
MODEL_FIELDS = (
    "backend",
    "dtype",
    "device",
    "revision",
    "chat_template",
    "system_prompt",
    "trust_remote_code",
    "batch_size",
    "base_url",
    "api_key_env",
    "vllm",
    "endpoint",
)


class JudgeSpec(BaseModel):
    """`judge:` a model that grades answers: any model a suite's `model:` can name, plus the
    rubric version it reads and how many times it judges each answer."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="the judge model: embedded name, local folder, hub id or served id"
    )
    backend: Literal["hf", "vllm", "openai"] = "hf"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    revision: str | None = None
    chat_template: Literal["auto", "on", "off"] = "auto"
    system_prompt: str | None = None
    trust_remote_code: bool = False
    batch_size: int = Field(16, ge=1, le=4096)
    base_url: str | None = None
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    vllm: dict[str, Any] | None = None
    endpoint: dict[str, Any] | None = None
    rubric: str = Field(
        "v1",
        description="a shipped rubric version (a folder of harness/judges/rubrics) or your own "
        "rubric folder (the same three files); either is keyed by its content",
    )
    repeats: int = Field(
        1, ge=1, le=10, description="judgements per answer, each with its own order of examples"
    )
    max_new_tokens: int = Field(16, ge=1, le=1024, description="a verdict's length limit")

    @model_validator(mode="after")
    def _checked(self) -> JudgeSpec:
        if self.rubric not in shipped_rubrics() and not Path(self.rubric).is_dir():
            raise ValueError(
                f"judge rubric {self.rubric!r} is neither a shipped version "
                f"({', '.join(shipped_rubrics())}) nor a folder"
            )
        self.model_spec()  # the serving fields obey the rules of `model:`
        return self

    def model_spec(self) -> ModelSpec:
        """The judge as a `model:` spec, which the run context builds backends from."""
        fields = {k: getattr(self, k) for k in MODEL_FIELDS if getattr(self, k) is not None}
        return ModelSpec(name=self.model, **fields)


class GroundingSpec(BaseModel):
    """`grounding_model:` a local sequence-classification checkpoint (an NLI cross-encoder with
    an entailment label, or a single-score head like HHEM) that scores (passages, answer) pairs.
    A plain path is shorthand for `{path: PATH}`."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="the checkpoint folder (config.json, *.safetensors, tokenizer)")
    trust_remote_code: bool = Field(
        False, description="run the folder's own model code (auto_map); off unless set here"
    )
    batch_size: int = Field(16, ge=1, le=4096)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_length: int = Field(
        512, ge=16, le=32768, description="tokens per pair; the longer side is cut first"
    )

    @model_validator(mode="before")
    @classmethod
    def _path_shorthand(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data


def resolve_judge_paths(
    base: Path, judge: JudgeSpec | None, grounding: GroundingSpec | None
) -> None:
    """A judge model or grounding checkpoint named by a relative folder is read from the suite's
    folder (as data and model paths are)."""
    if judge is not None and judge.backend != "openai" and (base / judge.model).is_dir():
        judge.model = str((base / judge.model).resolve())
    if (
        judge is not None
        and judge.rubric not in shipped_rubrics()
        and (base / judge.rubric).is_dir()
    ):
        judge.rubric = str((base / judge.rubric).resolve())
    if grounding is not None and not Path(grounding.path).is_absolute():
        grounding.path = str((base / grounding.path).resolve())


def missing_judge(
    metric_names: list[str], judge: JudgeSpec | None, grounding: GroundingSpec | None
) -> str | None:
    """Why a task's judged metrics cannot be scored (their judge is named nowhere), or None."""
    from harness.metrics.judged import GROUNDING_METRICS, JUDGE_METRICS

    judged = [m for m in metric_names if m in JUDGE_METRICS]
    if judged and judge is None:
        return (
            f"metric(s) {judged} need a model judge: add `judge: {{model: ..., backend: hf}}` "
            "to the suite or the task"
        )
    if any(m in GROUNDING_METRICS for m in metric_names) and grounding is None:
        return (
            "metric grounding_score needs `grounding_model: PATH` (a local sequence-"
            "classification checkpoint) in the suite or the task"
        )
    return None
