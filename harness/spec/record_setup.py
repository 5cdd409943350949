"""What a run was set up with, as typed objects: the backend that produced a cell's answers, the
cell's arm entry and model as it resolved them, and a task's answer style and leakage check.

Every field is optional (records written before a field existed lack it); the models are open,
so whatever else a suite or a server put there is kept without being read.
"""

from __future__ import annotations

from typing import Any

from harness.spec.parts import Part


class ServedModel(Part):
    """What an endpoint said of the model it serves (its /models entry less timestamps)."""

    id: str | None = None
    """The model's name as the server lists it."""
    server_version: str | None = None
    """The server's version, where it reports one (/version)."""
    tokenize: bool | None = None
    """Whether the server counts tokens (vLLM's /tokenize)."""


class BackendInfo(Part):
    """What produced a cell's answers (harness.models.resolve.backend_record)."""

    kind: str | None = None
    """The backend: `hf`, `vllm` or `openai` (an OpenAI-compatible endpoint)."""
    model: str | None = None
    """The model's name as the suite gives it."""
    engine: str | None = None
    """The engine and its version (`transformers 4.x`, vLLM's version); in-process backends."""
    settings: dict[str, Any] | None = None
    """The engine's or endpoint's settings as validated (VLLMSettings, EndpointSettings)."""
    base_url: str | None = None
    """An endpoint's URL."""
    served: ServedModel | None = None
    """What the endpoint says it serves."""
    api_key_env: str | None = None
    """The *name* of the environment variable holding the endpoint's key (never the key)."""
    token_counts: str | None = None
    """How an endpoint's prompt tokens were counted: `tokenizer`, `server` or `estimate`."""

    def given(self) -> bool:
        """Whether the file gave anything at all (an empty block reads as no backend)."""
        return bool(self.model_fields_set or self.model_extra)


class CellArm(Part):
    """The suite's arm entry as the cell ran it (harness.spec.config.ArmSpec, dumped)."""

    arm: str | None = None
    """The arm kind (its registry key)."""
    name: str | None = None
    """The arm's name in the suite, if it has one."""
    family: str | None = None
    """The suite arm a seed or wording cell belongs to."""
    params: dict[str, Any] = {}
    """The parameters as the suite gave them."""
    retrieval: dict[str, Any] | None = None
    """The arm's retrieval block (RetrievalParams), if it retrieves."""
    seed: int | None = None
    """This arm's own seed, if the suite gave one."""
    model: dict[str, Any] | None = None
    """This arm's own model spec (ModelSpec); null when it uses the suite's."""


class CellParams(Part):
    """The arm's parameters after validation, defaults filled in (each arm's `Params`); only
    what the reports read is named here, every other parameter is kept as it is."""

    train_fraction: float | None = None
    """The share of the train split a trained arm trained on (a learning-curve point below 1)."""


class CellModel(Part):
    """The model spec the cell resolved (harness.spec.model.ModelSpec, dumped) plus what it
    resolved to."""

    name: str | None = None
    """The model's name: an embedded name, a local folder, a hub id or an endpoint's model."""
    backend: str | None = None
    """The backend asked for: `hf`, `vllm` or `openai`."""
    dtype: str | None = None
    """The dtype asked for (`auto` picks one)."""
    device: str | None = None
    """The device asked for (`auto` picks one)."""
    batch_size: int | None = None
    """Prompts generated at once."""
    resolved_dtype: str | None = None
    """The dtype the model ran in."""
    resolved_device: str | None = None
    """The device the model ran on."""


class TaskStyle(Part):
    """The answer style chosen for a task and why (harness.spec.style.StyleReport)."""

    answer_style: str | None = None
    """short, long, label or structured."""
    inferred: bool = False
    """True when the style was inferred from the gold answers (else the suite set it)."""
    reason: str | None = None
    """Why this style: the rule that picked it."""
    gold_words_median: float | None = None
    """Median words of a gold answer."""
    gold_words_p95: float | None = None
    """95th percentile words of a gold answer."""
    max_new_tokens: int | None = None
    """The length limit the style set."""
    stop: list[str] = []
    """The stop sequences it set."""
    style_instruction: str = ""
    """The sentence added to the prompt; empty for none."""
    max_prompt_tokens: int | None = None
    """The prompt budget in tokens."""
    has_unanswerable: bool | None = None
    """Whether some items have no answer in the data (the arms may abstain)."""


class LeakageCounts(Part):
    """One split's questions that also appear in train."""

    identical: int = 0
    """Identical after normalisation."""
    near_identical: int = 0
    """Near-identical (TF-IDF cosine at or above the threshold)."""
    n: int = 0
    """Questions in the split."""


class TaskLeakage(Part):
    """Dev and eval questions that also appear in train (harness.data.tasks.leakage_report)."""

    threshold: float | None = None
    """The TF-IDF cosine from which two questions count as near-identical."""
    total: int = 0
    """Identical and near-identical questions over dev and eval."""
    dev: LeakageCounts | None = None
    """The dev split's counts; absent without a dev split."""
    eval: LeakageCounts | None = None
    """The eval split's counts."""
    examples: list[dict[str, Any]] = []
    """Up to 10 pairs: split, item id, train item id and similarity."""
