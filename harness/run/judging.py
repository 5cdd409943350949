"""Judging a cell's predictions before they are scored: the model judge (`judge:`) and the
grounding checker (`grounding_model:`) of the task (its own, else the suite's).

They run only when the task scores a metric they decide (harness.metrics.judged), and only on
answers: stored predictions are judged as they are, never regenerated. What a judged score
depends on, the judge's model and settings, its rubric version and content, its repeats and the
judging code, is part of the cell's scoring inputs (`judge_inputs`), so changing any of them
re-scores the stored predictions and generates nothing. The judge's own tokens and time go to
the record's `judges` part, apart from the arm's efficiency.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness.common.log import log
from harness.data.tasks import Item, TaskData
from harness.engine.grounding import GroundingModel
from harness.engine.judges import (
    Judge,
    judge_correctness,
    judge_groundedness,
    load_rubric,
    passages_of,
)
from harness.engine.retrieval import embedder_key
from harness.metrics import JUDGE_KEY, Prediction
from harness.metrics.base import settled_by_abstention
from harness.metrics.judged import GROUNDING_METRICS, JUDGE_METRICS
from harness.models.resolve import pick_device, pick_dtype
from harness.run.context import RunContext
from harness.spec.config import SuiteSpec, TaskSpec
from harness.spec.judge import GroundingSpec, JudgeSpec, missing_judge

# The code a judged score depends on, beyond the metric modules the scoring scope covers.
_JUDGING_CODE = ("engine/judges.py", "engine/grounding.py", "run/judging.py", "common/agreement.py")
JUDGED_METRICS = JUDGE_METRICS + GROUNDING_METRICS
_CONTEXTS: dict[str, RunContext] = {}  # judge backends, loaded once per process and spec
_CHECKERS: dict[str, GroundingModel] = {}


class JudgeMissing(ValueError):
    """A judged metric in a task that names no judge (or no grounding checker)."""


def judge_of(suite: SuiteSpec, task: TaskSpec) -> JudgeSpec | None:
    return task.judge or suite.judge


def grounding_of(suite: SuiteSpec, task: TaskSpec) -> GroundingSpec | None:
    return task.grounding_model or suite.grounding_model


def needs(metric_names: list[str]) -> tuple[bool, bool]:
    """Whether the metrics need the model judge, and the grounding checker."""
    return (
        any(m in JUDGE_METRICS for m in metric_names),
        any(m in GROUNDING_METRICS for m in metric_names),
    )


def check_judges(suite: SuiteSpec, task: TaskSpec, metric_names: list[str]) -> None:
    """A judged metric without its judge is an error naming the task and metric (the suite's
    loading checks this first, with its line)."""
    problem = missing_judge(metric_names, judge_of(suite, task), grounding_of(suite, task))
    if problem:
        raise JudgeMissing(f"task {task.name!r}: {problem}")


def judge_inputs(suite: SuiteSpec, task: TaskData, metric_names: list[str]) -> dict:
    """What decides the judged scores (empty when nothing is judged, so that the keys of every
    other cell stay as they were)."""
    judged, grounded = needs(metric_names)
    out: dict = {}
    if judged and (spec := judge_of(suite, task.spec)) is not None:
        out["judge"] = spec.model_dump() | {
            "weights": embedder_key(spec.model) if spec.backend != "openai" else spec.model,
            "rubric_digest": load_rubric(spec.rubric).digest,
        }
    if grounded and (g := grounding_of(suite, task.spec)) is not None:
        out["grounding"] = g.model_dump(exclude={"batch_size", "device"}) | {
            "weights": embedder_key(g.path)
        }
    if out:
        out["code"] = _code_digest()
    return out


def _code_digest() -> str:
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for rel in _JUDGING_CODE:
        h.update(rel.encode() + (root / rel).read_bytes())
    return h.hexdigest()[:16]


def judge_backend(ctx: RunContext, spec: JudgeSpec):
    """The judge's backend: its own context, loaded once per process and judge spec (an arm's
    adapted weights never judge)."""
    model = spec.model_spec()
    key = model.model_dump_json()
    if key not in _CONTEXTS:
        device = pick_device(model.device) if model.in_process else ctx.device
        _CONTEXTS[key] = RunContext(
            suite=ctx.suite.model_copy(update={"model": model}),
            device=device,
            dtype=pick_dtype(model.dtype, device),
            progress=ctx.progress,
        )
    return _CONTEXTS[key].generator


def grounding_checker(spec: GroundingSpec) -> GroundingModel:
    key = spec.model_dump_json()
    if key not in _CHECKERS:
        _CHECKERS[key] = GroundingModel(spec, device=pick_device(spec.device))
    return _CHECKERS[key]


def annotate_judgments(
    ctx: RunContext, task: TaskData, items: list[Item], preds: list[Prediction], names: list[str]
) -> dict | None:
    """Run the task's judges over the predictions, leaving their verdicts on each prediction
    (JUDGE_KEY) for the judged metrics; the record's `judges` part, or None when none ran."""
    judged, grounded = needs(names)
    if not (judged or grounded):
        return None
    check_judges(ctx.suite, task.spec, names)
    return judge_predictions(
        ctx, judge_of(ctx.suite, task.spec), grounding_of(ctx.suite, task.spec), items, preds, names
    )


def judge_predictions(
    ctx: RunContext,
    judge: JudgeSpec | None,
    grounding: GroundingSpec | None,
    items: list[Item],
    preds: list[Prediction],
    names: list[str],
) -> dict:
    """Run the given judges for the judged metrics among `names` (those of a judge that is
    None are skipped); what they cost and how their repeats agreed."""
    judged, grounded = needs(names)
    for p in preds:
        p.extra[JUDGE_KEY] = {}
    part: dict = {}
    if judged and judge is not None:
        part["judge"] = _run_judge(ctx, judge, items, preds, names)
    if grounded and grounding is not None:
        part["grounding"] = _run_grounding(grounding, items, preds)
    return part


def _grounded_targets(items: list[Item], preds: list[Prediction]) -> list[int]:
    return [
        i
        for i, (it, p) in enumerate(zip(items, preds))
        if "retrieved" in p.extra and it.choices is None and not p.abstained
    ]


def _run_judge(ctx, spec: JudgeSpec, items, preds, names) -> dict:
    judge = Judge(
        judge_backend(ctx, spec),
        load_rubric(spec.rubric),
        spec.repeats,
        ctx.seed,
        spec.max_new_tokens,
    )
    part = {
        "model": spec.model,
        "backend": spec.backend,
        "rubric": spec.rubric,
        "rubric_digest": judge.rubric.digest,
        "repeats": spec.repeats,
    }
    if "answer_correctness" in names:
        idx = [
            i
            for i, (it, p) in enumerate(zip(items, preds))
            if it.choices is None and settled_by_abstention(it, p) is None
        ]
        log(f"judge {spec.model}: correctness of {len(idx)} answers x {spec.repeats} repeat(s)")
        out, agree = judge_correctness(
            judge,
            [items[i].question for i in idx],
            [list(items[i].answers) for i in idx],
            [preds[i].output for i in idx],
        )
        for i, v in zip(idx, out):
            preds[i].extra[JUDGE_KEY]["correctness"] = v
        part["answer_correctness"] = agree | {"items": len(idx)}
    if "groundedness" in names or "contradicted_share" in names:
        idx = _grounded_targets(items, preds)
        log(f"judge {spec.model}: groundedness of {len(idx)} answers x {spec.repeats} repeat(s)")
        out, agree = judge_groundedness(
            judge, [passages_of(preds[i]) for i in idx], [preds[i].output for i in idx]
        )
        for i, v in zip(idx, out):
            preds[i].extra[JUDGE_KEY]["groundedness"] = v
        part["groundedness"] = agree | {"items": len(idx)}
    part["usage"] = judge.usage.as_dict()
    return part


def _run_grounding(spec: GroundingSpec, items, preds) -> dict:
    checker = grounding_checker(spec)
    idx = _grounded_targets(items, preds)
    before_s, before_n = checker.seconds, checker.pairs
    scores = checker.score(
        [("\n".join(preds[i].extra.get("passages", [])), preds[i].output) for i in idx]
    )
    for i, s in zip(idx, scores):
        preds[i].extra[JUDGE_KEY]["grounding"] = {
            "value": s,
            "reason": f"grounding checker: support probability {s:.3f}",
        }
    return {
        "path": spec.path,
        "pairs": checker.pairs - before_n,
        "seconds": round(checker.seconds - before_s, 4),
    }
