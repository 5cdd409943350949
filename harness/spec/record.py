"""The run record and results.json, described once, with the accessors their readers share.

The runner writes these shapes; the reports, the verdict, `compare` and `gate` read them through
the accessors below instead of each re-deriving "the runs that finished" or "which way is
better". Every field carries a docstring, which `adaptbench schema` prints as the description
in the JSON Schema. Fields marked NotRequired are absent in some records (a failed run has no
forgetting; records written before a field existed lack it), and readers must not assume them.
The types are open: a newer writer may add fields, and an older reader ignores them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter
from typing_extensions import NotRequired, TypedDict

_DOCS = ConfigDict(use_attribute_docstrings=True)

# Version of the record and results.json layout; a reader refuses a newer one it cannot read.
SCHEMA_VERSION = 1

# The accuracy metrics a report, the verdict and `compare` rank arms by when a suite names
# none, in order of preference: the first one a run has is its primary metric.
PRIMARY_METRICS = ("exact_match", "choice_accuracy", "token_f1")

# Arm kinds that change the model's weights, for records written before `changes_weights`
# was recorded; newer records carry the arm class's own flag.
_WEIGHT_CHANGING_KINDS = ("lora", "full", "qlora")

Status = Literal["ok", "failed", "oom", "diverged"]


class MetricSummary(TypedDict):
    """One metric over the items it applies to, with its confidence interval."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    value: float | None
    """The mean score; null when the metric applies to no item (n = 0)."""
    ci_low: float | None
    """Lower end of the 95% interval (Wilson for 0/1 scores, else bootstrap)."""
    ci_high: float | None
    """Upper end of the 95% interval."""
    n: int
    """How many items the metric was scored on."""
    ci_method: NotRequired[str]
    """How the interval was computed: `wilson`, `bootstrap`; where items share a cluster
    `cluster_wilson` (Wilson over n / design effect items) or `cluster_bootstrap` (absent when
    n = 0)."""
    clusters: NotRequired[int]
    """Where items share a cluster: how many clusters (by default gold documents) they form."""
    design_effect: NotRequired[float]
    """Where items share a cluster: variance of the mean under clustering over the item-level one."""
    item_ci_low: NotRequired[float]
    """Where items share a cluster: the item-level interval (`item_ci_method`), for comparison."""
    item_ci_high: NotRequired[float]
    """Where items share a cluster: upper end of the item-level interval."""
    item_ci_method: NotRequired[str]
    """Where items share a cluster: how the item-level interval was computed."""
    higher_is_better: NotRequired[bool | None]
    """Direction of the metric; null for a descriptive rate with no better direction."""


class CellSpec(TypedDict):
    """Everything the cell was asked to do, as validated specs (see `harness.spec.config`)."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    arm: dict[str, Any]
    """The suite's arm entry (ArmSpec): arm kind, name, params, retrieval, seed, variant."""
    params: dict[str, Any]
    """The arm's parameters after validation, defaults filled in."""
    task: dict[str, Any]
    """The task spec (TaskSpec) with resolved data paths."""
    model: dict[str, Any]
    """The model spec plus `resolved_dtype` and `resolved_device`."""
    seed: int
    """The seed this cell ran with (the suite seed, or the arm's seed for a seed repetition)."""


class Environment(TypedDict):
    """The software and machine a run used; written once per run and copied into each record."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    adaptbench: str
    """adaptbench version."""
    python: str
    """Python version."""
    platform: str
    """Operating system and architecture."""
    processor: str
    """CPU model name."""
    cpu_threads: int
    """Threads torch uses on the CPU."""
    device: str
    """`cpu`, `cuda` or `mps`."""
    device_name: str
    """GPU name on CUDA, else the CPU name."""
    dtype: str
    """The resolved model dtype (float32, bfloat16, float16)."""
    seed: int
    """The suite seed."""
    packages: dict[str, str | None]
    """Versions of the libraries that decide results; null if not installed."""
    git_sha: str | None
    """Commit of the adaptbench checkout; null outside a git checkout."""
    git_dirty: bool | None
    """Whether harness/ had uncommitted changes; null outside a git checkout."""
    model_load_seconds: NotRequired[float | None]
    """Seconds spent loading the model (results.json only; null if it was not loaded)."""


class Efficiency(TypedDict, total=False):
    """Cost of a cell: time, tokens, latency, memory and parameter counts (`harness.base.measure`).

    Trained arms add their training statistics (steps, losses, training seconds, MFU) as further
    keys.
    """

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    items: int
    """Eval items predicted."""
    generated_tokens: int
    """New tokens generated over all items."""
    tokens_per_s: float | None
    """Generated tokens per second of the predict phase."""
    items_per_s: float | None
    """Items per second of the predict phase."""
    latency_p50_s: float | None
    """Median per-item latency in seconds (batched: the batch time shared by its items)."""
    latency_p95_s: float | None
    """95th percentile per-item latency in seconds."""
    retrieval_latency_p50_s: float | None
    """Median retrieval time per item; null for arms that do not retrieve."""
    retrieval_latency_p95_s: float | None
    """95th percentile retrieval time per item."""
    prompt_tokens_mean: float | None
    """Mean prompt length in tokens."""
    prompt_tokens_max: int | None
    """Longest prompt in tokens."""
    prompts_over_budget: int
    """Prompts whose context was cut to fit the model's window."""
    peak_memory_bytes: int | None
    """Highest memory use over the cell's phases."""
    memory_kind: str | None
    """What the peak measures: `cuda` (allocated GPU memory) or `rss` (process memory)."""
    params_total: int | None
    """Parameters of the model the arm predicts with."""
    params_trainable: int | None
    """Parameters the arm trained (0 for arms that do not train)."""
    server_usage: dict[str, int] | None
    """Token usage as an endpoint reported it over the cell's requests (requests,
    prompt_tokens, completion_tokens, cached_responses: answers from the response cache, whose
    latency was measured when first sent); null for backends in this process."""
    calibration: dict[str, Any] | None
    """This machine's speed timed next to the predictions (harness.base.calibrate): `seconds`
    of a fixed workload (median), its `spread` over the repeats, the `repeats`, whether the
    cell's model was part of it. Efficiency gates divide latencies by it. Absent in records
    written before it."""
    phases: dict[str, dict[str, Any]]
    """Per phase (prepare, predict, retention): seconds and peak memory."""


class Forgetting(TypedDict, total=False):
    """Retention probes: base score minus arm score on general-ability probes."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    probes: dict[str, dict[str, Any]]
    """Per probe: the paired difference with its interval, and the base and arm scores."""
    mean: dict[str, Any]
    """The mean difference over the probes (value, ci_low, ci_high, n)."""
    perplexity: dict[str, Any]
    """Perplexity on held-out text, base and arm."""
    by_construction: bool
    """True when the arm leaves the weights unchanged, so it forgets nothing by construction."""
    note: str
    """Why the figures are what they are, for a reader of the report."""


class Placement(TypedDict):
    """Where an executor other than this process ran a cell (`--executor ray`)."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    executor: str
    """The executor's name."""
    attempts: int
    """How often the cell started: more than 1 when a worker died and the cell was retried."""
    where: str
    """Node address and process id of the attempt that finished."""
    seconds: float | None
    """Wall time of the attempt that finished, measured on its worker."""


class TrainingUnit(TypedDict, total=False):
    """The training job a cell waited for under `--executor ray`."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    status: str
    """`ok`, or how the training ended (then the cell failed with its reason)."""
    artifact: str
    """The artifact's cache key (`<cache>/artifacts/<key>`); cells with the same one share it."""
    reason: str
    """Why the training failed (absent when ok)."""
    cached: bool
    """True when the artifact was already in the cache (nothing was trained)."""
    seconds: float
    """Wall time of the training unit."""
    host: str
    """Host name of the worker that ran it."""
    pid: int
    """Its process id."""


class RunRecord(TypedDict):
    """One (task x arm) cell: what ran, on what, how it ended, its metrics and its cost.

    Written last and atomically to records/<id>.json and the cache; a record on disk means a
    finished cell.
    """

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    schema_version: int
    """Version of this record's layout."""
    id: str
    """The cell's name, `<task>__<arm>`; also names its samples file."""
    task: str
    """The task's name in the suite."""
    arm: str
    """The arm's label: its suite name, with a seed or wording suffix for repetitions."""
    kind: str
    """The arm's registry key (base, few_shot, rag, lora, ...)."""
    family: str
    """The suite arm a seed or wording repetition belongs to (its own label otherwise)."""
    variant: str | None
    """The prompt wording this cell used; null when the suite has one wording."""
    changes_weights: NotRequired[bool]
    """Whether the arm changes the model's weights (so it needs retraining when the knowledge
    changes, and can forget); from the arm class. Absent in records written before it existed."""
    content_hash: str
    """Hash of everything that decides the result; the cache key."""
    prediction_key: NotRequired[str]
    """Hash of what decides the predictions alone; stored predictions under it are re-scored
    when only the scoring inputs changed. Absent in records written before it existed."""
    rescored: NotRequired[bool]
    """True when the metrics were computed from stored predictions (nothing was generated)."""
    judges: NotRequired[dict[str, Any]]
    """The judges of judged metrics (harness.run.judging): `judge` (model, backend, rubric and
    its digest, repeats, each judged metric's repeat agreement, and `usage`: the judge's own
    prompts, tokens and seconds, apart from `efficiency`) and `grounding` (checkpoint, pairs,
    seconds). Absent when no metric is judged."""
    started: str
    """When the cell started (ISO 8601, UTC)."""
    finished: NotRequired[str]
    """When the cell finished (ISO 8601, UTC)."""
    spec: CellSpec
    """What the cell was asked to do."""
    environment: Environment
    """The software and machine it ran on."""
    model_fingerprint: str
    """Hash of the base model's weight files."""
    status: Status
    """`ok`, or why it stopped: `failed`, `oom` (out of memory), `diverged` (loss not finite)."""
    reason: str | None
    """What went wrong, with a hint; null when ok."""
    traceback: NotRequired[str]
    """The last frames of the error, for a failed cell."""
    metrics: dict[str, MetricSummary]
    """Per metric name: its summary; empty for a failed cell."""
    efficiency: Efficiency
    """Cost of the cell."""
    forgetting: NotRequired[Forgetting]
    """Retention probes, when the suite asks for them."""
    cached: bool
    """True when this run reused a finished cell instead of running it."""
    samples: str
    """Path of the per-item outputs and scores (JSON lines), relative to the run folder."""
    samples_sha256: NotRequired[str]
    """sha256 of the samples file, checked before a cached cell is reused."""
    item_hashes: NotRequired[dict[str, str]]
    """Per item id, its short item hash (older records; newer ones keep it in the samples)."""
    backend: NotRequired[dict[str, Any]]
    """What produced the answers: `kind` (hf, vllm, openai), `model`, the engine and its
    version and settings; for an endpoint its `base_url`, what the server reports it serves
    (`served`), the *name* of the key's environment variable and how prompt tokens were counted
    (`token_counts`: tokenizer, server or estimate). Absent in records written before it."""
    placement: NotRequired[Placement]
    """Where the executor ran the cell and in how many attempts (`--executor ray` only)."""
    training_unit: NotRequired[TrainingUnit]
    """The training job this cell waited for (`--executor ray`, fine-tuning arms only)."""


class ModelInfo(TypedDict):
    """The base model every arm starts from."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    name: str
    """The suite's model name: an embedded name, a local folder or a hub id."""
    source: str
    """Where the weights came from: embedded, local, hub or gguf."""
    fingerprint: str
    """Hash of the weight files."""


class MetricDefinition(TypedDict):
    """What a metric measures, as the code that scored the run defines it."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    higher_is_better: bool | None
    """Direction; null for a descriptive rate."""
    description: str
    """What it measures and how, in words."""
    version: str
    """Version of the metric definitions; scores of different versions are not comparable."""


class TaskInfo(TypedDict):
    """What a run knew about one task's data."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    eval_items: int
    """Eval items the arms were scored on (after `--limit`)."""
    eval_items_total: int
    """Eval items in the task."""
    splits: dict[str, int]
    """Items per split (train, dev, eval)."""
    leakage: dict[str, Any]
    """Eval questions that also appear in train or dev, by kind, with examples."""
    sources: Any
    """The files and sheets the task was built from, with content hashes."""
    split: dict[str, Any] | None
    """How one items file was split (data.items); null for separate split files."""
    style: dict[str, Any] | None
    """The answer style chosen for the task and why."""
    ceiling: NotRequired[dict[str, Any] | None]
    """What a perfect answer scores within the length limit; null unless generated."""


class Results(TypedDict):
    """results.json: one run of a suite."""

    __pydantic_config__ = _DOCS  # type: ignore[misc]

    schema_version: int
    """Version of this file's layout."""
    suite: str
    """The suite's name."""
    suite_path: str | None
    """The suite file the run read, if any."""
    created: str
    """When results.json was written (ISO 8601, UTC)."""
    limit: int | None
    """`--limit`: the seeded sample of eval items each arm saw; null for all."""
    suite_spec: dict[str, Any]
    """The whole validated suite."""
    environment: Environment
    """The software and machine of the run."""
    model: ModelInfo
    """The base model."""
    metric_definitions: dict[str, MetricDefinition]
    """Every metric the code knows, with its direction and description."""
    tasks: dict[str, TaskInfo]
    """Per task name: what the run knew about its data."""
    runs: list[RunRecord]
    """One record per (task x arm) cell, failed ones included."""
    seed_groups: list[dict[str, Any]]
    """Per arm run with several seeds: mean and spread of each metric over the seeds."""
    variant_groups: list[dict[str, Any]]
    """Per arm run with several wordings: each metric's range over the wordings."""
    costs: NotRequired[dict[str, Any]]
    """Cost at the stated usage (harness.reports.costs): `prices`, `usage`, `priced` (false when
    every price is zero), the break-even `formula`, and per task each arm's measured inputs
    (training and index seconds, device time or tokens per query) and costs (one_off,
    per_query, per_1k_queries, per_update, monthly), and every fine-tuned arm's `break_even`
    against every retrieval arm with its inputs. Absent in runs written before it."""
    learning_curves: NotRequired[list[dict[str, Any]]]
    """Per task with `train_fractions` arms: the decision metric at each share of the train
    split (training items, value, CI) and the flat values of arms that train nothing."""
    knowledge: NotRequired[dict[str, Any] | None]
    """Per task, the knowledge drills when they ran (`knowledge:`, `run --knowledge`;
    harness/run/knowledge.py): `known` (SliCK labels per item and each arm's scores per
    category), `counterfactual` (swaps and each passage-reading arm's outcomes and rates),
    `update` (what changed and each arm's accuracy, stale-answer rate and cost); null when
    none ran."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of results.json, with the field docstrings as descriptions."""
    return TypeAdapter(Results).json_schema()


# --------------------------------------------------------------------------------------------
# accessors


def ok_runs(runs: list[RunRecord], task: str | None = None) -> list[RunRecord]:
    """The runs that finished (status ok), of one task if given."""
    return [r for r in runs if r["status"] == "ok" and (task is None or r["task"] == task)]


def metric_value(run: RunRecord | None, metric: str) -> float | None:
    """A run's value of a metric; `forgetting` is the mean over the retention probes."""
    if run is None:
        return None
    if metric == "forgetting":
        return ((run.get("forgetting") or {}).get("mean") or {}).get("value")
    return ((run.get("metrics") or {}).get(metric) or {}).get("value")


def direction(metric: str, definitions: dict[str, Any], runs: list[RunRecord] = ()) -> bool | None:
    """Whether higher is better for a metric: from results.json's definitions, else from a
    run's own summary; None for a descriptive rate or a metric nobody defines."""
    if metric in definitions:
        return definitions[metric].get("higher_is_better")
    for r in runs:
        m = (r.get("metrics") or {}).get(metric)
        if m and "higher_is_better" in m:
            return m["higher_is_better"]
    return None


def primary_metric(metric_names: Any) -> str | None:
    """The first of PRIMARY_METRICS among the given names (a list, set or dict of metrics)."""
    return next((m for m in PRIMARY_METRICS if m in metric_names), None)


def status_label(run: RunRecord) -> str:
    """The status as reports show it: how a finished cell came to be in this run (reused whole,
    or its stored predictions re-scored; nothing is said of a cell computed now)."""
    label = run.get("status", "?")
    if run.get("cached"):
        return f"{label} (cached)"
    if run.get("rescored"):
        return f"{label} (re-scored)"
    return label


def runs_on(run: RunRecord) -> str:
    """The model and backend that produced a run's answers, as reports show it."""
    b = run.get("backend")
    if not b:
        return "–"  # a record written before backends were recorded
    model = str(b.get("model", "?"))
    return f"{model.rsplit('/', 1)[-1] if b.get('kind') != 'openai' else model} ({b.get('kind')})"


def server_tokens(efficiency: dict) -> str | None:
    """An endpoint's reported prompt / completion tokens per request (None: no endpoint)."""
    u = efficiency.get("server_usage")
    if not u or not u.get("requests"):
        return None
    n = u["requests"]
    cached = f", {u['cached_responses']} from cache" if u.get("cached_responses") else ""
    return f"{u['prompt_tokens'] / n:.0f} / {u['completion_tokens'] / n:.1f}{cached}"


def changes_weights(run: RunRecord) -> bool:
    """Whether the run's arm changes the model's weights (it retrains when knowledge changes)."""
    if "changes_weights" in run:
        return bool(run["changes_weights"])
    return run["kind"] in _WEIGHT_CHANGING_KINDS
