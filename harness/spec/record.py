"""The run record and results.json, described once, as the typed objects every reader takes.

The runner writes these shapes; `harness.reports.runfiles` loads them (`load_results`,
`load_baseline`) into the models below, and the reports, the verdict, `compare`, `gate` and the
MLflow logging read their attributes: no reader indexes the raw JSON. Every field carries a
docstring, which `adaptbench schema` prints as the description in the JSON Schema. Optional
fields are absent (None) in some records (a failed run has no forgetting; records written
before a field existed lack it), and readers must not assume them. The models are open: a
newer writer may add fields, and an older reader keeps them without reading them.

The parts of the record that one section writes have their models beside this module: the
efficiency figures (record_efficiency), the cell's setup and backend (record_setup), costs and
learning curves (record_costs), the knowledge drills (record_knowledge), the judges
(record_judges); a samples file's rows are in harness.spec.samples. What stays a plain mapping
is open by nature (an arm's own parameters, an engine's settings).
"""

from __future__ import annotations

from typing import Any, Literal

from harness.spec.parts import MetricSummary, Part
from harness.spec.record_costs import CostSummary, LearningCurve
from harness.spec.record_efficiency import (
    Calibration,
    PhaseFigures,
    RetrievalFigures,
    ServerUsage,
    TrainingFigures,
)
from harness.spec.record_judges import Judges
from harness.spec.record_knowledge import TaskKnowledge
from harness.spec.record_setup import (
    BackendInfo,
    CellArm,
    CellModel,
    CellParams,
    TaskLeakage,
    TaskStyle,
)

# Version of the results.json layout. 1: before arm roles were recorded (loaded by migrating,
# harness.reports.runfiles); 2: each run carries its arm's `role`. A reader refuses a newer one.
SCHEMA_VERSION = 2
# Version of a cell's record layout (records/<id>.json and the cache); part of the scoring
# inputs, so a change re-scores every stored prediction.
RECORD_VERSION = 1

# The accuracy metrics a report, the verdict and `compare` rank arms by when a suite names
# none, in order of preference: the first one a run has is its primary metric.
PRIMARY_METRICS = ("exact_match", "choice_accuracy", "token_f1")

# What an arm is for in a comparison (the arm class's `role`): a contender can be deployed and
# recommended; a reference row explains a result but reads what a deployment cannot (the gold
# document); the baseline is the base model everything is paired against.
Role = Literal["contender", "reference", "baseline"]
Status = Literal["ok", "failed", "oom", "diverged"]


class CellSpec(Part):
    """Everything the cell was asked to do, as validated specs (see `harness.spec.config`)."""

    arm: CellArm = CellArm()
    """The suite's arm entry (ArmSpec): arm kind, name, params, retrieval, seed, variant."""
    params: CellParams = CellParams()
    """The arm's parameters after validation, defaults filled in."""
    task: dict[str, Any] = {}
    """The task spec (TaskSpec) with resolved data paths."""
    model: CellModel = CellModel()
    """The model spec plus `resolved_dtype` and `resolved_device`."""
    seed: int | None = None
    """The seed this cell ran with (the suite seed, or the arm's seed for a seed repetition)."""


class Environment(Part):
    """The software and machine a run used; written once per run and copied into each record."""

    adaptbench: str | None = None
    """adaptbench version."""
    python: str | None = None
    """Python version."""
    platform: str | None = None
    """Operating system and architecture."""
    processor: str | None = None
    """CPU model name."""
    cpu_threads: int | None = None
    """Threads torch uses on the CPU."""
    device: str | None = None
    """`cpu`, `cuda` or `mps`."""
    device_name: str | None = None
    """GPU name on CUDA, else the CPU name."""
    dtype: str | None = None
    """The resolved model dtype (float32, bfloat16, float16)."""
    seed: int | None = None
    """The suite seed."""
    packages: dict[str, str | None] = {}
    """Versions of the libraries that decide results; null if not installed."""
    git_sha: str | None = None
    """Commit of the adaptbench checkout; null outside a git checkout."""
    git_dirty: bool | None = None
    """Whether harness/ had uncommitted changes; null outside a git checkout."""
    model_load_seconds: float | None = None
    """Seconds spent loading the model (results.json only; null if it was not loaded)."""


class Efficiency(Part):
    """Cost of a cell: time, tokens, latency, memory and parameter counts (`harness.common.measure`).

    Trained arms add their training statistics (steps, losses, training seconds, MFU) under
    `training`, retrieving arms their index's figures under `retrieval`; other figures an arm
    adds are kept under their own keys.
    """

    items: int | None = None
    """Eval items predicted."""
    generated_tokens: int | None = None
    """New tokens generated over all items."""
    tokens_per_s: float | None = None
    """Generated tokens per second of the predict phase."""
    items_per_s: float | None = None
    """Items per second of the predict phase."""
    latency_p50_s: float | None = None
    """Median per-item latency in seconds (batched: the batch time shared by its items)."""
    latency_p95_s: float | None = None
    """95th percentile per-item latency in seconds."""
    retrieval_latency_p50_s: float | None = None
    """Median retrieval time per item; null for arms that do not retrieve."""
    retrieval_latency_p95_s: float | None = None
    """95th percentile retrieval time per item."""
    prompt_tokens_mean: float | None = None
    """Mean prompt length in tokens."""
    prompt_tokens_max: int | None = None
    """Longest prompt in tokens."""
    prompts_over_budget: int | None = None
    """Prompts whose context was cut to fit the model's window."""
    peak_memory_bytes: int | None = None
    """Highest memory use over the cell's phases."""
    memory_kind: str | None = None
    """What the peak measures: `cuda` (allocated GPU memory) or `rss` (process memory)."""
    params_total: int | None = None
    """Parameters of the model the arm predicts with."""
    params_trainable: int | None = None
    """Parameters the arm trained (0 for arms that do not train)."""
    server_usage: ServerUsage | None = None
    """Token usage as an endpoint reported it over the cell's requests (requests,
    prompt_tokens, completion_tokens, cached_responses: answers from the response cache, whose
    latency was measured when first sent); null for backends in this process."""
    calibration: Calibration | None = None
    """This machine's speed timed next to the predictions (harness.common.calibrate): `seconds`
    of a fixed workload (median), its `spread` over the repeats, the `repeats`, whether the
    cell's model was part of it. Efficiency gates divide latencies by it. Absent in records
    written before it."""
    phases: dict[str, PhaseFigures] = {}
    """Per phase (prepare, predict, retention): seconds and peak memory."""
    training: TrainingFigures | None = None
    """A trained arm's training statistics (steps, losses, seconds, tokens/s, MFU, the loss
    curves); null for arms that train nothing."""
    retrieval: RetrievalFigures | None = None
    """A retrieving arm's index figures (chunks, build seconds, size); null for arms that do
    not retrieve."""

    def phase_seconds(self, name: str) -> float | None:
        """Wall seconds of a phase (None: the phase was not timed)."""
        ph = self.phases.get(name)
        return ph.seconds if ph is not None else None


class Perplexity(Part):
    """Perplexity on held-out text before and after the arm."""

    base: float
    """Perplexity of the base model."""
    arm: float
    """Perplexity of the arm's model."""


class Forgetting(Part):
    """Retention probes: base score minus arm score on general-ability probes."""

    probes: dict[str, MetricSummary] = {}
    """Per probe: the paired difference with its interval, and the base and arm scores."""
    mean: MetricSummary | None = None
    """The mean difference over the probes (value, ci_low, ci_high, n)."""
    perplexity: Perplexity | None = None
    """Perplexity on held-out text, base and arm."""
    by_construction: bool = False
    """True when the arm leaves the weights unchanged, so it forgets nothing by construction."""
    note: str | None = None
    """Why the figures are what they are, for a reader of the report."""


class Placement(Part):
    """Where an executor other than this process ran a cell (`--executor ray`)."""

    executor: str
    """The executor's name."""
    attempts: int
    """How often the cell started: more than 1 when a worker died and the cell was retried."""
    where: str
    """Node address and process id of the attempt that finished."""
    seconds: float | None = None
    """Wall time of the attempt that finished, measured on its worker."""


class TrainingUnit(Part):
    """The training job a cell waited for under `--executor ray`."""

    status: str | None = None
    """`ok`, or how the training ended (then the cell failed with its reason)."""
    artifact: str | None = None
    """The artifact's cache key (`<cache>/artifacts/<key>`); cells with the same one share it."""
    reason: str | None = None
    """Why the training failed (absent when ok)."""
    cached: bool | None = None
    """True when the artifact was already in the cache (nothing was trained)."""
    seconds: float | None = None
    """Wall time of the training unit."""
    host: str | None = None
    """Host name of the worker that ran it."""
    pid: int | None = None
    """Its process id."""


class RunRecord(Part):
    """One (task x arm) cell: what ran, on what, how it ended, its metrics and its cost.

    Written last and atomically to records/<id>.json and the cache; a record on disk means a
    finished cell.
    """

    schema_version: int | None = None
    """Version of this record's layout (RECORD_VERSION)."""
    id: str | None = None
    """The cell's name, `<task>__<arm>`; also names its samples file."""
    task: str
    """The task's name in the suite."""
    arm: str
    """The arm's label: its suite name, with a seed or wording suffix for repetitions."""
    kind: str
    """The arm's registry key (base, few_shot, rag, lora, ...)."""
    role: Role = "contender"
    """What the arm is for in a comparison, from its class: `contender` (deployable, can be
    recommended), `reference` (explains a result, never recommended: it reads the gold
    document), `baseline` (the base model the others are paired against)."""
    family: str = ""
    """The suite arm a seed or wording repetition belongs to (its own label otherwise)."""
    variant: str | None = None
    """The prompt wording this cell used; null when the suite has one wording."""
    changes_weights: bool = False
    """Whether the arm changes the model's weights (so it needs retraining when the knowledge
    changes, and can forget); from the arm class."""
    content_hash: str | None = None
    """Hash of everything that decides the result; the cache key."""
    prediction_key: str | None = None
    """Hash of what decides the predictions alone; stored predictions under it are re-scored
    when only the scoring inputs changed. Absent in records written before it existed."""
    rescored: bool = False
    """True when the metrics were computed from stored predictions (nothing was generated)."""
    judges: Judges | None = None
    """The judges of judged metrics (harness.run.judging): `judge` (model, backend, rubric and
    its digest, repeats, each judged metric's repeat agreement, and `usage`: the judge's own
    prompts, tokens and seconds, apart from `efficiency`) and `grounding` (checkpoint, pairs,
    seconds). Absent when no metric is judged."""
    started: str | None = None
    """When the cell started (ISO 8601, UTC)."""
    finished: str | None = None
    """When the cell finished (ISO 8601, UTC)."""
    spec: CellSpec = CellSpec()
    """What the cell was asked to do."""
    environment: Environment = Environment()
    """The software and machine it ran on."""
    model_fingerprint: str | None = None
    """Hash of the base model's weight files."""
    status: Status = "ok"
    """`ok`, or why it stopped: `failed`, `oom` (out of memory), `diverged` (loss not finite)."""
    reason: str | None = None
    """What went wrong, with a hint; null when ok."""
    traceback: str | None = None
    """The last frames of the error, for a failed cell."""
    metrics: dict[str, MetricSummary] = {}
    """Per metric name: its summary; empty for a failed cell."""
    efficiency: Efficiency = Efficiency()
    """Cost of the cell."""
    forgetting: Forgetting | None = None
    """Retention probes, when the suite asks for them."""
    cached: bool = False
    """True when this run reused a finished cell instead of running it."""
    samples: str | None = None
    """Path of the per-item outputs and scores (JSON lines), relative to the run folder."""
    samples_sha256: str | None = None
    """sha256 of the samples file, checked before a cached cell is reused."""
    item_hashes: dict[str, str] | None = None
    """Per item id, its short item hash (older records; newer ones keep it in the samples)."""
    backend: BackendInfo | None = None
    """What produced the answers: `kind` (hf, vllm, openai), `model`, the engine and its
    version and settings; for an endpoint its `base_url`, what the server reports it serves
    (`served`), the *name* of the key's environment variable and how prompt tokens were counted
    (`token_counts`: tokenizer, server or estimate). Absent in records written before it."""
    placement: Placement | None = None
    """Where the executor ran the cell and in how many attempts (`--executor ray` only)."""
    training_unit: TrainingUnit | None = None
    """The training job this cell waited for (`--executor ray`, fine-tuning arms only)."""

    def model_post_init(self, _context: Any) -> None:
        if not self.family:
            self.family = self.arm

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def value(self, metric: str) -> float | None:
        """The run's value of a metric; `forgetting` is the mean over the retention probes."""
        if metric == "forgetting":
            mean = self.forgetting.mean if self.forgetting else None
            return mean.value if mean else None
        m = self.metrics.get(metric)
        return m.value if m else None

    def status_label(self) -> str:
        """The status as reports show it: how a finished cell came to be in this run (reused
        whole, or its stored predictions re-scored; nothing is said of a computed one)."""
        if self.cached:
            return f"{self.status} (cached)"
        if self.rescored:
            return f"{self.status} (re-scored)"
        return self.status

    def training_warning(self) -> str | None:
        """What reports say when training left train items out (their prompt filled
        max_seq_len before the answer); None when it kept them all."""
        t = self.efficiency.training
        if t is None or not t.examples_too_long:
            return None
        total = (t.examples or 0) + t.examples_too_long
        return (
            f"`{self.arm}` trained without {t.examples_too_long} of {total} train items: their "
            "prompt fills max_seq_len before the answer (raise it in the arm's params)"
        )

    def runs_on(self) -> str:
        """The model and backend that produced the answers, as reports show it."""
        b = self.backend
        if b is None or not b.given():
            return "–"  # a record written before backends were recorded
        model = str(b.model) if b.has("model") else "?"
        kind = b.kind
        return f"{model.rsplit('/', 1)[-1] if kind != 'openai' else model} ({kind})"

    def server_tokens(self) -> str | None:
        """An endpoint's reported prompt / completion tokens per request (None: no endpoint)."""
        u = self.efficiency.server_usage
        if u is None or not u.requests:
            return None
        n = u.requests
        cached = f", {u.cached_responses} from cache" if u.cached_responses else ""
        return f"{u.prompt_tokens / n:.0f} / {u.completion_tokens / n:.1f}{cached}"


class BaselineRun(RunRecord):
    """A finished run as a baseline file freezes it: the record's fields plus every item's
    scores, which a gate pairs with a new run's."""

    kind: str = "?"
    """The arm's registry key (base, few_shot, rag, lora, ...)."""
    item_scores: dict[str, dict[str, float]]
    """Per item id, its score under each per-item metric."""
    item_clusters: dict[str, str] | None = None
    """Per item id, its cluster (what the paired tests resample); items without one, and
    baselines written before clusters, have none."""


class ModelInfo(Part):
    """The base model every arm starts from."""

    name: str | None = None
    """The suite's model name: an embedded name, a local folder or a hub id."""
    source: str | None = None
    """Where the weights came from: embedded, local, hub or gguf."""
    fingerprint: str | None = None
    """Hash of the weight files."""


class MetricDefinition(Part):
    """What a metric measures, as the code that scored the run defines it."""

    higher_is_better: bool | None = None
    """Direction; null for a descriptive rate."""
    description: str = ""
    """What it measures and how, in words."""
    version: str | int | None = None
    """Version of the metric definitions; scores of different versions are not comparable."""


class Ceiling(Part):
    """What a perfect answer scores within the task's length limit."""

    max_new_tokens: int | None = None
    """The length limit each gold answer was cut to."""
    metrics: dict[str, MetricSummary] | None = None
    """Per metric: the cut gold answers' score."""


class TaskInfo(Part):
    """What a run knew about one task's data."""

    eval_items: int | None = None
    """Eval items the arms were scored on (after `--limit`)."""
    eval_items_total: int | None = None
    """Eval items in the task."""
    splits: dict[str, int] = {}
    """Items per split (train, dev, eval)."""
    leakage: TaskLeakage = TaskLeakage()
    """Eval questions that also appear in train or dev, by kind, with examples."""
    sources: Any = None
    """The files and sheets the task was built from, with content hashes."""
    split: dict[str, Any] | None = None
    """How one items file was split (data.items); null for separate split files."""
    style: TaskStyle | None = None
    """The answer style chosen for the task and why."""
    ceiling: Ceiling | None = None
    """What a perfect answer scores within the length limit; null unless generated."""


class Spread(Part):
    """One metric's spread over the cells of a repeated arm (seeds or wordings); each cell's
    value is under `per_seed` or `per_variant`."""

    mean: float
    """Mean over the cells."""
    std: float | None = None
    """Sample standard deviation over the cells; null for one cell."""
    min: float
    """Lowest value."""
    max: float
    """Highest value."""


class SpreadGroup(Part):
    """An arm run several times (seeds or wordings): each metric's spread over its cells."""

    task: str
    """The task's name."""
    arm: str
    """The suite arm repeated."""
    metrics: dict[str, Spread] = {}
    """Per metric: its spread."""
    forgetting_mean: Spread | None = None
    """The spread of the mean forgetting, when the cells measured it."""
    not_ok: dict[str, str] = {}
    """Cells that did not finish: seed or wording -> status."""


class Results(Part):
    """results.json: one run of a suite."""

    schema_version: int = SCHEMA_VERSION
    """Version of this file's layout (SCHEMA_VERSION)."""
    suite: str
    """The suite's name."""
    suite_path: str | None = None
    """The suite file the run read, if any."""
    created: str | None = None
    """When results.json was written (ISO 8601, UTC)."""
    limit: int | None = None
    """`--limit`: the seeded sample of eval items each arm saw; null for all."""
    suite_spec: dict[str, Any] = {}
    """The whole validated suite (SuiteSpec)."""
    environment: Environment
    """The software and machine of the run."""
    model: ModelInfo | None = None
    """The base model."""
    metric_definitions: dict[str, MetricDefinition] = {}
    """Every metric the code knows, with its direction and description."""
    tasks: dict[str, TaskInfo]
    """Per task name: what the run knew about its data."""
    runs: list[RunRecord]
    """One record per (task x arm) cell, failed ones included."""
    seed_groups: list[SpreadGroup] = []
    """Per arm run with several seeds: mean and spread of each metric over the seeds."""
    variant_groups: list[SpreadGroup] = []
    """Per arm run with several wordings: each metric's range over the wordings."""
    costs: CostSummary | None = None
    """Cost at the stated usage (harness.reports.costs): `prices`, `usage`, `priced` (false when
    every price is zero), the break-even `formula`, and per task each arm's measured inputs
    (training and index seconds, device time or tokens per query) and costs (one_off,
    per_query, per_1k_queries, per_update, monthly), and every fine-tuned arm's `break_even`
    against every retrieval arm with its inputs. Absent in runs written before it."""
    learning_curves: list[LearningCurve] | None = None
    """Per task with `train_fractions` arms: the decision metric at each share of the train
    split (training items, value, CI) and the flat values of arms that train nothing."""
    knowledge: dict[str, TaskKnowledge] | None = None
    """Per task, the knowledge drills when they ran (`knowledge:`, `run --knowledge`;
    harness/run/knowledge.py): `known` (SliCK labels per item and each arm's scores per
    category), `counterfactual` (swaps and each passage-reading arm's outcomes and rates),
    `update` (what changed and each arm's accuracy, stale-answer rate and cost); null when
    none ran."""

    def ok_runs(self, task: str | None = None) -> list[RunRecord]:
        """The runs that finished (status ok), of one task if given."""
        return ok_runs(self.runs, task)

    def section(self, name: str) -> dict[str, Any]:
        """A block of the suite as the run validated it (`decision`, `usage`, ...); empty when
        the suite had none."""
        return self.suite_spec.get(name) or {}


class Baseline(Results):
    """A baseline file (`adaptbench baseline`): results.json's shape, its finished runs only,
    each with every item's scores."""

    tasks: dict[str, TaskInfo] = {}
    """Per task name: what the run knew about its data."""
    runs: list[BaselineRun]
    """The finished runs, each with its per-item scores."""
    name: str | None = None
    """The baseline's name."""
    source_run: str | None = None
    """The run folder the baseline was frozen from."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of results.json, with the field docstrings as descriptions."""
    return Results.model_json_schema()


# --------------------------------------------------------------------------------------------
# accessors over several runs


def ok_runs(runs: list[RunRecord], task: str | None = None) -> list[RunRecord]:
    """The runs that finished (status ok), of one task if given."""
    return [r for r in runs if r.ok and (task is None or r.task == task)]


def metric_value(run: RunRecord | None, metric: str) -> float | None:
    """A run's value of a metric (None for no run); `forgetting` is the mean over the probes."""
    return None if run is None else run.value(metric)


def direction(
    metric: str, definitions: dict[str, MetricDefinition], runs: list[RunRecord] = ()
) -> bool | None:
    """Whether higher is better for a metric: from results.json's definitions, else from a
    run's own summary; None for a descriptive rate or a metric nobody defines."""
    if metric in definitions:
        return definitions[metric].higher_is_better
    for r in runs:
        m = r.metrics.get(metric)
        if m is not None and m.has("higher_is_better"):
            return m.higher_is_better
    return None


def primary_metric(metric_names: Any) -> str | None:
    """The first of PRIMARY_METRICS among the given names (a list, set or dict of metrics)."""
    return next((m for m in PRIMARY_METRICS if m in metric_names), None)
