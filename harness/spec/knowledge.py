"""`knowledge:` in a suite: the three knowledge drills (what each arm knows, whether it reads
passages that contradict its weights, how it absorbs changed facts).

    knowledge:
      known: {draws: 4, shots: 4, samples: 4, temperature: 0.5}
      counterfactual: {items: 30}
      update: {counterfactual: 10, retrain: false}

Each block is optional; `adaptbench run SUITE --knowledge` turns on all three, with their
defaults where the suite has no block of its own. The drills and their outputs are described in
harness/run/knowledge.py and the metric docs (`adaptbench ls metrics`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    # The same rules as harness.spec.config.Strict (which imports this module): no unknown
    # keys, no silent coercion.
    model_config = ConfigDict(extra="forbid", strict=True)


class KnownSpec(_Strict):
    """Closed-book answers of the base model that sort eval items into SliCK's categories."""

    draws: int = Field(4, ge=1, le=16, description="few-shot draws answered greedily")
    shots: int = Field(4, ge=0, le=16, description="solved train examples per draw")
    samples: int = Field(4, ge=0, le=64, description="sampled answers (at `temperature`)")
    temperature: float = Field(0.5, gt=0, le=2, description="temperature of the samples")


class CounterfactualSpec(_Strict):
    """Passages whose gold answer span is swapped for another answer of the same kind."""

    items: int = Field(30, ge=1, description="answerable items with a gold document, sampled")
    seed: int | None = Field(None, description="seed of the sample and the swaps (default: suite)")


DEFAULT_EDITS = 10  # `update:` with neither edits nor files makes this many from the suite


class UpdateSpec(_Strict):
    """Changed knowledge: edited documents and items whose gold answer changed, or N edits made
    from the suite itself (`counterfactual: N`, the swaps of the counterfactual drill applied
    to the corpus and the golds)."""

    counterfactual: int | None = Field(
        None, ge=1, description="edits made from the suite (10 where no files are given)"
    )
    documents: str | None = Field(
        None, description="JSONL of edited documents (id, text), relative to the suite file"
    )
    items: str | None = Field(
        None, description="JSONL of eval items (id, answers) whose gold changed"
    )
    unchanged: int = Field(20, ge=0, description="unchanged eval items scored alongside")
    retrain: bool = Field(False, description="also retrain weight-changing arms on the update")

    @model_validator(mode="after")
    def _one_source(self) -> UpdateSpec:
        given = self.counterfactual is not None
        files = self.documents is not None or self.items is not None
        if given and files:
            raise ValueError(
                "update: give either `counterfactual: N` or `documents:` and `items:` files"
            )
        if not given and not files:  # `update: {retrain: true}`: the default edits
            self.counterfactual = DEFAULT_EDITS
        if files and (self.documents is None or self.items is None):
            raise ValueError("update: `documents:` and `items:` go together")
        return self


class KnowledgeSpec(_Strict):
    known: KnownSpec | None = None
    counterfactual: CounterfactualSpec | None = None
    update: UpdateSpec | None = None


def default_knowledge(given: KnowledgeSpec | None = None) -> KnowledgeSpec:
    """What `--knowledge` runs: every drill, with the defaults where the suite (or `--set`)
    gives none of its own."""
    out = KnowledgeSpec(
        known=KnownSpec(),
        counterfactual=CounterfactualSpec(),
        update=UpdateSpec(),
    )
    for name in ("known", "counterfactual", "update"):
        own = getattr(given, name, None) if given is not None else None
        if own is not None:
            setattr(out, name, own)
    return out
