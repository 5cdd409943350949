"""Suite specs: strict pydantic models, safe YAML loading, and errors that say file, line and key.

A suite is the unit a user runs. Everything in it is declarative data: no code, no import
paths, templates are `str.format` strings whose placeholders are checked at load time.
"""

from __future__ import annotations

import difflib
import json
import re
import string
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from harness.metrics import METRICS, is_known
from harness.spec.costs import SHEET_KEYS, CostsSpec, UsageSpec
from harness.spec.curve import TrainFractions, fraction_cells
from harness.spec.judge import GroundingSpec, JudgeSpec, resolve_judge_paths
from harness.spec.knowledge import KnowledgeSpec
from harness.spec.model import (
    ModelSpec,
    SpecError,
    Strict,
)
from harness.spec.tracking import TrackingSpec

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
ANSWER_STYLES = ("short", "long", "label", "structured")
# Placeholders a task template may use; every item provides all of them.
TEMPLATE_FIELDS = {"id", "question", "context", "choices"}
DEFAULT_ABSTAIN_PATTERNS = [
    r"\bi don[’']?t know\b",
    r"\bi do not know\b",
    r"\b(?:i[’']?m|i am) not (?:sure|certain)\b",
    r"\bi (?:have|[’']?ve got) no idea\b",
    r"\bnot (?:stated|mentioned|specified|covered) in the\b",
    # A refusal has a speaker ("I cannot answer") or stands alone ("Cannot determine."): a
    # factual answer may say "you cannot find peace by avoiding life" (a TruthfulQA gold answer).
    r"\b(?:i|we) (?:cannot|can[’']?t|can not|am unable to|are unable to|am not able to) "
    r"(?:answer|determine|find|say|tell)\b",
    r"\bi[’']m unable to (?:answer|determine|find|say|tell)\b",
    r"^\W*(?:cannot|can[’']?t|can not|unable to) (?:answer|determine|say|tell)\b",
    r"\bno information\b",
    r"^\s*unanswerable\s*$",
]


class GenerationSpec(Strict):
    """Generation limits; `None` (the default) takes them from the task's answer style."""

    max_new_tokens: int | None = Field(
        None, ge=1, le=4096, description="default: from the gold answers' lengths"
    )
    stop: list[str] | None = Field(
        None, description="default: a newline for one-line styles, none for long answers"
    )


class PromptVariant(Strict):
    """A paraphrase of the prompt wording: the task instruction and the retrieval grounding.

    A field left out keeps the task's (or the default) wording.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    instruction: str | None = None
    grounding: str | None = None

    @model_validator(mode="after")
    def _placeholders(self) -> PromptVariant:
        if self.instruction is not None:
            check_placeholders(self.instruction, TEMPLATE_FIELDS, "prompt variant instruction")
        if self.grounding is not None:
            check_placeholders(self.grounding, {"abstain_answer"}, "prompt variant grounding")
        return self


# Three neutral wordings `adaptbench init` writes into new suites: the verdict should not hang on
# one phrasing. None of them states an answer style (that comes from the task).
DEFAULT_PROMPT_VARIANTS = [
    {"name": "plain"},
    {
        "name": "direct",
        "instruction": "Answer the question.",
        "grounding": "Answer using the passages above.",
    },
    {
        "name": "helpful",
        "instruction": "You are a helpful assistant. Reply to the question below.",
        "grounding": "Base your reply on the passages above.",
    },
]


class FieldMap(Strict):
    """Which column of the data file holds each standard field."""

    # null: items are numbered by split and row (`train-<n>`, `eval-<n>`; `row-<n>` in a file
    # split for you)
    id: str | None = "id"
    question: str = "question"
    answers: str = "answers"
    answerable: str | None = "answerable"
    choices: str = "choices"
    label: str = "label"
    context: str = "context"
    doc_id: str = "doc_id"
    labels: str = "labels"
    # Items whose outcomes move together (questions about one policy, one customer): the
    # statistics resample them as a group. Unset: the first gold doc_id, else the item alone.
    cluster: str | None = None


class SplitSpec(Strict):
    """How one items file is split (harness.data.splitting): shares of eval and dev, the rest train."""

    eval: float = Field(0.3, gt=0, lt=1)
    dev: float = Field(0.1, ge=0, lt=1)
    seed: int = 0

    @model_validator(mode="after")
    def _leaves_train(self) -> SplitSpec:
        if self.eval + self.dev >= 1:
            raise ValueError(f"eval ({self.eval}) + dev ({self.dev}) must leave a train share")
        return self


class DataSpec(Strict):
    format: Literal["auto", "jsonl", "csv", "squad", "xlsx", "parquet", "hf"] = "auto"
    items: str | None = Field(None, description="one file of all items, split by `split`")
    split: SplitSpec | None = None
    train: str | None = None
    dev: str | None = None
    eval: str | None = None
    sheet: str | int | dict[str, str | int] | None = Field(
        None,
        description="xlsx sheet by name or 0-based index (default the first), or one per split "
        "({train: ..., eval: ..., items: ...})",
    )
    no_answer: list[str] = Field(
        default_factory=list,
        description="answer cells equal to one of these (any case) mark an unanswerable item",
    )
    answer_separator: str | None = Field(
        None,
        min_length=1,
        description="splits a text answers cell into several accepted answers (e.g. '; ' for "
        "'Paris; the city of Paris'); a JSON list in the cell is read as a list either way",
    )
    fields: FieldMap = Field(default_factory=FieldMap)

    @model_validator(mode="after")
    def _one_layout(self) -> DataSpec:
        split_files = [s for s in ("train", "dev", "eval") if getattr(self, s) is not None]
        if self.items is not None:
            if split_files:
                raise ValueError(
                    f"give `items` (one file, split for you) or train/dev/eval files, not both "
                    f"(found {', '.join(split_files)})"
                )
            if self.split is None:
                self.split = SplitSpec()
        elif self.eval is None:
            raise ValueError("missing required key 'eval' (or `items` with a `split`)")
        elif self.split is not None:
            raise ValueError("`split` splits the file of `items`; it needs `items`, not `eval`")
        return self


class CorpusSpec(Strict):
    path: str = Field(
        description="a JSONL/CSV/SQuAD file, or a folder or glob of .md .txt .html .pdf .docx"
    )
    skip_unreadable: bool = Field(
        False, description="skip encrypted, empty or corrupt documents with a warning"
    )
    id_field: str = "id"
    text_field: str = "text"
    title_field: str | None = "title"


class TaskSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: DataSpec
    corpus: CorpusSpec | None = None
    scoring: Literal["generate", "choice"] = "generate"
    answer_style: Literal["auto", "short", "long", "label", "structured"] = Field(
        "auto",
        description="how gold answers look; auto infers it from their lengths (see harness.spec.style). "
        "It sets the style sentence, the shots, max_new_tokens, stop and the default metrics",
    )
    style_instruction: str | None = Field(
        None,
        description="sentence on answer form added to the instruction; default: the style's own, "
        "'' for none",
    )
    max_prompt_tokens: int | None = Field(
        None,
        ge=64,
        description="prompt budget in model tokens; shots then passages are dropped to fit",
    )
    instruction: str = ""
    template: str = "Question: {question}\nAnswer:"
    answer_template: str = "{answer}"
    abstain_answer: str = "I don't know."
    abstain_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_ABSTAIN_PATTERNS))
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    metrics: list[str] | None = None
    output_fields: list[str] | None = Field(
        None,
        description="answers are `field: value; ...`; items carry gold `labels` for these fields",
    )
    label_set: list[str] | None = Field(None, min_length=2, description="a label task's labels (listed in every prompt; the choices of `scoring: choice` without a choices column); default: the distinct gold answers")  # fmt: skip
    leakage_threshold: float = Field(0.8, gt=0, le=1)  # TF-IDF (word 1-2 grams) cosine
    judge: JudgeSpec | None = None  # model judge of this task (replaces the suite's)
    grounding_model: GroundingSpec | None = (
        None  # grounding checker of this task (replaces the suite's)
    )

    @field_validator("abstain_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(
                    f"abstain pattern {p!r} is not a valid regular expression: {exc}"
                ) from exc
        return patterns

    @field_validator("instruction", "template")
    @classmethod
    def _item_placeholders(cls, template: str, info: Any) -> str:
        check_placeholders(template, TEMPLATE_FIELDS, info.field_name)
        return template

    @field_validator("answer_template")
    @classmethod
    def _answer_placeholders(cls, template: str) -> str:
        check_placeholders(template, {"answer"}, "answer_template")
        return template

    @field_validator("style_instruction")
    @classmethod
    def _style_placeholders(cls, sentence: str | None) -> str | None:
        if sentence:
            check_placeholders(sentence, set(), "style_instruction")
        return sentence

    @model_validator(mode="after")
    def _metrics_known(self) -> TaskSpec:
        if self.metrics is not None:
            unknown = [m for m in self.metrics if not is_known(m)]
            if unknown:
                raise ValueError(
                    f"unknown metric(s) {unknown}; known: {sorted(METRICS)}{did_you_mean(unknown[0], METRICS)}"
                )
        return self


class UnitResources(Strict):
    """What each unit of the arm asks of a Ray worker under `--executor ray` (default: 1 GPU
    when the model runs on CUDA, else `--cpus-per-unit` CPUs). Not part of any cache key."""

    cpus: float | None = Field(
        None, gt=0, description="CPU cores per unit (also its torch threads); default as above"
    )
    gpus: float | None = Field(
        None, ge=0, description="GPUs per unit (per training process); default as above"
    )
    train_processes: int = Field(
        1,
        ge=1,
        description="data-parallel processes that train a fine-tuning arm's artifact (Ray "
        "Train), each with `cpus` and `gpus`; its evaluation cells run as one unit each",
    )


class ArmSpec(Strict):
    """One configured arm (a variant): `arm` picks the kind, `params` are checked by that arm."""

    arm: str
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
    params: dict[str, Any] = Field(default_factory=dict)
    retrieval: dict[str, Any] | None = (
        None  # any arm + retrieval (e.g. few_shot+rag); see RetrievalParams
    )
    seed: int | None = Field(
        None, description="this arm's seed (training, shot picking); default: the suite's seed"
    )
    seeds: list[int] | None = Field(
        None,
        min_length=1,
        description="run the arm once per seed (cells `<label>@seed<n>`); the report adds mean, "
        "spread and per-seed values",
    )
    train_fractions: TrainFractions | None = Field(
        None,
        description="learning curve of a trained arm: also train on these nested shares of the "
        "train split (cells `<label>@frac<f>`; 1.0 is the arm itself), see harness/spec/curve.py",
    )

    prompt_variants: list[PromptVariant] | None = Field(
        None,
        min_length=1,
        description="run the arm once per wording (cells `<label>~<variant>`); the report adds "
        "the spread and checks whether the verdict holds for every wording",
    )
    variant: PromptVariant | None = Field(
        None, description="the one wording this arm uses (set per cell by `prompt_variants`)"
    )
    family: str | None = Field(
        None, description="set by the runner: the arm a seed or variant cell belongs to"
    )
    resources: UnitResources | None = Field(
        None, description="what each of its cells asks of a Ray worker (`--executor ray`)"
    )
    model: ModelSpec | None = Field(
        None,
        description="this arm's own model (default: the suite's), so one suite compares, say, "
        "`lora` on a small model with `rag` on an endpoint model",
    )

    @model_validator(mode="after")
    def _one_seed_setting(self) -> ArmSpec:
        if self.seed is not None and self.seeds is not None:
            raise ValueError("give `seed` or `seeds`, not both")
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"`seeds` repeats a value: {self.seeds}")
        if self.variant is not None and self.prompt_variants is not None:
            raise ValueError("give `variant` or `prompt_variants`, not both")
        _unique_variant_names(self.prompt_variants)
        return self

    @property
    def label(self) -> str:
        return self.name or self.arm

    def cells(self, suite_variants: list[PromptVariant] | None = None) -> list[ArmSpec]:
        """The runs this arm stands for: one per prompt variant, times one per seed of `seeds`.

        `suite_variants` (the suite's `prompt_variants`) apply when the arm has none of its own.
        """
        family = self.family or self.label
        variants = self.prompt_variants or suite_variants
        wordings = [(v, f"{self.label}~{v.name}") for v in variants] if variants else []
        if not wordings:
            wordings = [(self.variant, self.label)]
        out = []
        for variant, label in wordings:
            common = {"prompt_variants": None, "variant": variant, "family": family}
            if self.seeds is None:
                out.append(self.model_copy(update=common | {"name": label}))
            else:
                out += [
                    self.model_copy(
                        update=common | {"seeds": None, "seed": s, "name": f"{label}@seed{s}"}
                    )
                    for s in self.seeds
                ]
        return fraction_cells(out)  # learning-curve points (harness.spec.curve)


def _unique_variant_names(variants: list[PromptVariant] | None) -> None:
    names = [v.name for v in variants or []]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"prompt variant name(s) {dupes} repeat: give each its own `name`")


EFFICIENCY_GATES = ("latency_p95_s", "peak_memory_bytes", "tokens_per_s")


class GateSpec(Strict):
    """A rule `adaptbench gate` checks on every matching (task, arm) of a run.

    Metric gates: `min`/`max` are absolute bounds; `max_drop` is the largest tolerated worsening
    against the baseline, in the metric's units and direction, and fails only when a paired test
    on per-item scores also finds it significant. Efficiency gates: `max_increase` is a relative
    regression against the baseline (0.5 = 50% worse), plus optional absolute `max`/`min`; time
    (latency, tokens/s) is compared normalised by each run's calibration, with its measured
    noise on top, and only on like hardware; work (prompt and generated tokens per item,
    memory, trainable parameters) as it is.
    """

    metric: str | None = None
    efficiency: (
        Literal[
            "latency_p50_s",
            "latency_p95_s",
            "tokens_per_s",
            "prompt_tokens_mean",
            "generated_tokens_per_item",
            "peak_memory_bytes",
            "params_trainable",
        ]
        | None
    ) = None
    task: str | None = None
    arm: str | None = None
    min: float | None = None
    max: float | None = None
    max_drop: float | None = Field(None, ge=0)
    max_increase: float | None = Field(None, ge=0)
    alpha: float = Field(0.05, gt=0, lt=1)

    @model_validator(mode="after")
    def _one_target(self) -> GateSpec:
        if (self.metric is None) == (self.efficiency is None):
            raise ValueError("a gate names exactly one of `metric` or `efficiency`")
        if self.metric is not None:
            if not is_known(self.metric) and self.metric != "forgetting":
                raise ValueError(
                    f"unknown metric {self.metric!r}{did_you_mean(self.metric, METRICS)}"
                )
            if self.max_increase is not None:
                raise ValueError(
                    "`max_increase` is for efficiency gates; metric gates use `max_drop`"
                )
        elif self.max_drop is not None:
            raise ValueError("`max_drop` is for metric gates; efficiency gates use `max_increase`")
        if all(v is None for v in (self.min, self.max, self.max_drop, self.max_increase)):
            raise ValueError("a gate needs at least one of min, max, max_drop, max_increase")
        return self

    @property
    def target(self) -> str:
        return self.metric or f"efficiency.{self.efficiency}"


class DecisionSpec(Strict):
    """What the report's recommendation optimises and which limits an arm must meet."""

    metric: str | None = (
        None  # default: exact_match, choice_accuracy or token_f1, whichever is scored
    )
    max_latency_p95_s: float | None = Field(None, gt=0)
    max_memory_bytes: int | None = Field(None, gt=0)
    max_false_answer_rate: float | None = Field(None, ge=0, le=1)
    knowledge_changes_often: bool = False  # prefer arms that need no retraining when facts change
    equivalence_margin: float | None = Field(
        None,
        gt=0,
        description="on the decision metric's scale: a difference not shown significant is "
        "'equivalent within' it when two one-sided tests show that, else 'underpowered'",
    )
    max_forgetting: float | dict[str, float] | None = Field(
        None,
        description="a weight-changing arm whose forgetting's upper 95% bound exceeds this is "
        "excluded: a number for the mean over retention probes, or probe -> number",
    )


class RetentionSpec(Strict):
    """`retention:` in a suite: which probes measure general ability before and after adaptation."""

    probes: list[str] = Field(
        default_factory=lambda: ["general_mc", "short_answer"],
        description="shipped probes (general_mc, short_answer) or any lm-eval task name (needs its dataset)",
    )
    limit: int | None = Field(None, ge=1, description="items per probe (default: all)")
    batch_size: int = Field(32, ge=1)
    perplexity: bool = Field(True, description="perplexity on the shipped held-out text")


class SuiteSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    seed: int = 1234
    model: ModelSpec = Field(default_factory=ModelSpec)
    tasks: list[TaskSpec] = Field(min_length=1)
    arms: list[ArmSpec] = Field(min_length=1)
    gates: list[GateSpec] = Field(default_factory=list)
    decision: DecisionSpec = Field(default_factory=DecisionSpec)
    retention: RetentionSpec | None = None  # probes that measure forgetting (weight-changing arms)
    judge: JudgeSpec | None = None  # model judge of judged metrics (harness.spec.judge)
    grounding_model: GroundingSpec | None = None  # small-model grounding checker
    knowledge: KnowledgeSpec | None = None  # knowledge drills (harness/spec/knowledge.py)
    tracking: TrackingSpec | None = None  # MLflow logging (harness/spec/tracking.py)
    costs: CostsSpec = Field(default_factory=CostsSpec)  # prices (harness/spec/costs.py)
    usage: UsageSpec = Field(default_factory=UsageSpec)  # volume the costs assume
    embedder: str = Field(
        DEFAULT_EMBEDDER, description="sentence embedder for answer_similarity (and shot picking)"
    )
    prompt_variants: list[PromptVariant] | None = Field(
        None,
        min_length=1,
        description="wordings every prompting arm (one that trains no weights) runs under; an "
        "arm's own `prompt_variants` replace them for that arm",
    )

    @field_validator("arms", mode="before")
    @classmethod
    def _arm_shorthand(cls, arms: Any) -> Any:
        # `arms: [base, few_shot]` is shorthand for `[{arm: base}, {arm: few_shot}]`.
        if isinstance(arms, list):
            return [{"arm": a} if isinstance(a, str) else a for a in arms]
        return arms

    def model_for(self, arm: ArmSpec) -> ModelSpec:
        """The model an arm's cells run on: its own `model:`, else the suite's."""
        return arm.model or self.model

    @model_validator(mode="after")
    def _unique_names(self) -> SuiteSpec:
        _unique_variant_names(self.prompt_variants)
        for kind, names in (
            ("task", [t.name for t in self.tasks]),
            ("arm", [a.label for a in self.arms]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(
                    f"duplicate {kind} name(s) {dupes}: give each variant its own `name`"
                )
        return self


# --------------------------------------------------------------------------------------------
# loading


def read_suite(
    path: str | Path, overrides: list[str] | None = None
) -> tuple[SuiteSpec, yaml.Node | None]:
    """Read a suite YAML, apply `a.b=c` overrides and validate it against the specs.

    Arm parameters are checked one layer up (`harness.run.suite.load_suite`), where the arm
    registry is known; the YAML node comes back so those errors can name a line too.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: suite file not found")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError(f"{path}:{line}: not UTF-8 text; save the suite as UTF-8") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SpecError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a suite must be a YAML mapping (got {type(raw).__name__})")
    for ov in overrides or []:
        apply_override(raw, ov)
    try:
        suite = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(format_errors(path, exc, SuiteSpec, node)) from None
    return suite, node


def resolve_paths(path: Path, suite: SuiteSpec) -> SuiteSpec:
    """Resolve a suite's relative data and model paths against the folder of its YAML file."""
    base = path.resolve().parent
    for task in suite.tasks:
        for split in ("items", "train", "dev", "eval"):
            value = getattr(task.data, split)
            if value is not None:
                setattr(task.data, split, str((base / value).resolve()))
        if task.corpus is not None:
            task.corpus.path = str((base / task.corpus.path).resolve())
    local = base / suite.model.name
    if local.is_dir():
        suite.model.name = str(local.resolve())
    for scope in (suite, *suite.tasks):
        resolve_judge_paths(base, scope.judge, scope.grounding_model)
    return suite


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that rejects a key given twice in one mapping (plain YAML keeps the last).

    Scalars follow YAML 1.2 where 1.1 surprises: `5e-4` is a number (1.1 wants `5.0e-4` and
    gives the text "5e-4", which the strict models would reject) and only true/false are
    booleans.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base constructor reports it
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given at line {first})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


# Scalars as YAML 1.2 (core schema) reads them, where 1.1 differs: only true/false are
# booleans (1.1 also reads on/off/yes/no, which turned `share_prefix: on` into True); an int
# is decimal (`010` is 10, not 1.1's octal 8), 0o octal or 0x hex, and 1.1's `0b101`, `1_000`
# and base-60 `1:30` are text (a number field then rejects them by name); `5e-4` is a float.
_YAML11_SCALARS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _YAML11_SCALARS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _yaml12_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """An int as YAML 1.2 reads it: `010` is ten (1.1's constructor reads it as octal)."""
    text = str(loader.construct_scalar(node))
    try:
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text)  # decimal, sign and leading zeros included
    except ValueError:  # an explicit `!!int` on text that is none
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a YAML 1.2 integer", node.start_mark
        ) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _yaml12_int)


def apply_override(raw: dict, override: str) -> None:
    """Apply one `a.b.c=value` override (value parsed as YAML) to a raw suite dict in place.

    List elements are addressed by index (`tasks.0.generation.max_new_tokens=16`).
    """
    if "=" not in override:
        raise SpecError(f"override {override!r}: expected KEY.PATH=VALUE")
    key, value = override.split("=", 1)
    parts = key.strip().split(".")
    target: Any = raw
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[: depth + 1])
        if isinstance(target, list):
            if not part.isdigit() or int(part) >= len(target):
                raise SpecError(
                    f"override {override!r}: {where} is not an index of a {len(target)}-item list"
                )
            target = target[int(part)]
        elif isinstance(target, dict):
            target = target.setdefault(part, {})
        else:
            raise SpecError(f"override {override!r}: {where} is not a mapping or list")
    last = parts[-1]
    parsed = _override_value(override, value)
    if isinstance(target, list):
        if not last.isdigit() or int(last) >= len(target):
            raise SpecError(
                f"override {override!r}: {last} is not an index of a {len(target)}-item list"
            )
        target[int(last)] = parsed
    elif isinstance(target, dict):
        target[last] = parsed
    else:
        raise SpecError(f"override {override!r}: cannot set {key}")


def _override_value(override: str, value: str) -> Any:
    """A YAML scalar (`8`, `true`, `null`), a flow list or mapping (`[1, 2]`, `{k: 3}`), else text.

    Free text stays the string typed: YAML would read `reply: I don't know` as a mapping and
    fail on `{abstain_answer}` in a sentence.
    """
    text = value.strip()
    if not text:
        return ""
    if text[0] in "[{":
        try:
            return yaml.load(text, Loader=_UniqueKeyLoader)
        except yaml.YAMLError as exc:
            raise SpecError(
                f"override {override!r}: {text!r} is not a YAML list or mapping ({exc})"
            ) from None
    try:
        parsed = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError:
        return value
    return value if isinstance(parsed, (dict, list)) else parsed


# --------------------------------------------------------------------------------------------
# error messages


def format_errors(
    path: Path,
    exc: ValidationError,
    model: type[BaseModel],
    node: yaml.Node | None,
    prefix: tuple = (),
) -> str:
    lines = [f"{path}: invalid suite ({exc.error_count()} problem{'s' * (exc.error_count() > 1)})"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        full = prefix + loc
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            known = _fields_at(model, loc[:-1])
            msg = f"unknown key {loc[-1]!r}" + did_you_mean(str(loc[-1]), known)
            if known:
                msg += f" (allowed here: {', '.join(sorted(known))})"
        elif err["type"] == "missing":
            msg = f"missing required key {loc[-1]!r}"
        lines.append(f"  {yaml_where(path, node, full)}: {_dotted(full)}: {msg}")
    return "\n".join(lines)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def yaml_where(path: Path, node: yaml.Node | None, loc: tuple) -> str:
    """`file:line` of the deepest YAML node that exists along `loc`."""
    line = None
    for part in loc:
        if node is None:
            break
        if line is None or node.start_mark is not None:
            line = node.start_mark.line + 1 if node.start_mark else line
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    child = value_node
                    line = key_node.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        node = child
    return f"{path}:{line}" if line else str(path)


def did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _fields_at(model: Any, loc: tuple) -> set[str]:
    """Field names of the pydantic model found by walking `loc` from `model` (best effort)."""
    current = model
    for part in loc:
        current = _unwrap(current, index=isinstance(part, int))
        if isinstance(part, int):
            continue
        if (
            isinstance(current, type)
            and issubclass(current, BaseModel)
            and part in current.model_fields
        ):
            current = current.model_fields[part].annotation
        else:
            return set()
    current = _unwrap(current, index=False)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return set()


def _unwrap(tp: Any, index: bool) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        models = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(models[0], index) if models else tp
    if index and origin in (list, tuple):
        return typing.get_args(tp)[0]
    return tp


def check_placeholders(template: str, allowed: set[str], what: str) -> None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ValueError(f"{what} {template!r} is not a valid format string: {exc}") from exc
    for name in names:
        root = re.split(r"[.\[]", name, maxsplit=1)[0]
        if name != root and root in allowed:
            raise ValueError(
                f"{what}: placeholder '{{{name}}}' uses attribute or index access; "
                f"write '{{{root}}}'"
            )
        if root == "" or root.isdigit():
            raise ValueError(
                f"{what}: positional placeholder '{{{name}}}' is not allowed; name the field"
            )
        if root not in allowed:
            raise ValueError(
                f"{what}: unknown placeholder '{{{name}}}'{did_you_mean(root, allowed)}; "
                f"available: {', '.join('{' + a + '}' for a in sorted(allowed))}"
            )


def price_sheet_overrides(path: str | Path) -> list[str]:
    """A price sheet as `key.path=value` overrides (the form `--set` takes), checked first
    against the specs so that an error names the sheet's file, line and key."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"--costs {path}: file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
        raw = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: not a readable YAML price sheet ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise SpecError(f"{path}: a price sheet is a mapping with `costs:` and/or `usage:`")
    overrides = []
    for key, block in raw.items():
        spec = SHEET_KEYS.get(key)
        if spec is None:
            raise SpecError(
                f"{yaml_where(path, node, (key,))}: unknown key {key!r} in a price sheet "
                "(it takes `costs:` and `usage:`)"
            )
        try:
            spec.model_validate(block)
        except ValidationError as exc:
            message = format_errors(path, exc, spec, node, prefix=(key,))
            raise SpecError(
                message.replace(": invalid suite", ": invalid price sheet", 1)
            ) from None
        overrides += [f"{key}.{name}={json.dumps(value)}" for name, value in block.items()]
    return overrides
