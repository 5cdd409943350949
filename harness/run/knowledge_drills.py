"""The two drills that change passages: counterfactual passages and the knowledge update.

Counterfactual: for a seeded sample of answerable items with a gold document, the gold chunk
with the gold answer span swapped (harness.engine.counterfactual) is put first among the arm's
passages; any other passage that holds the original answer is left out, so an original answer
can only come from the weights (or the shots). Each arm that reads passages answers; its
outputs are sorted into context-following, parametric override and other
(harness.engine.knowledge.passage_outcome), paired against `rag` on the base model.

Update: the same swaps applied to the corpus and to the golds of the items whose fact changed
(or edited documents and items from files). Every arm answers the changed items and a sample of
unchanged ones in the updated world: retrieval arms re-index the changed corpus (the index
build is the measured cost), weight-changing arms answer with their old weights (stale) and,
with `retrain: true`, retrained on the updated train items (the training is the cost).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path

from harness.arms import ARMS
from harness.common.log import log
from harness.common.stats import paired_test, summarize
from harness.data.tasks import Document, Item, TaskData
from harness.engine.counterfactual import (
    Swap,
    apply_to_documents,
    apply_to_items,
    plan_swaps,
    swap_spans,
)
from harness.engine.knowledge import CONTEXT, OTHER, PARAMETRIC, is_right, passage_outcome
from harness.engine.retrieval import Hit, same_document
from harness.run.cell import Cell
from harness.run.context import RunContext
from harness.run.evaluate import build_arm, seed_everything
from harness.run.knowledge_cache import cached_part, items_key
from harness.spec.samples import SampleRow

REFERENCE_ARM = "rag"  # counterfactual rates are paired against rag on the base model


def _all_items(task: TaskData) -> list[Item]:
    return [i for split in task.splits.values() for i in split]


def _readers(ctx: RunContext, cells: list[Cell]) -> list[Cell]:
    """Cells whose arm shows passages to a generator (rag, oracle_context, any arm with a
    `retrieval:` block)."""
    out = []
    for cell in cells:
        kind = ARMS[cell.arm.arm]
        if kind.uses_generator and build_arm(ctx, cell.arm).retrieval is not None:
            out.append(cell)
    return out


# --------------------------------------------------------------------------------------------
# counterfactual passages


def counterfactual_part(
    ctx: RunContext, task: TaskData, items: list[Item], cells: list[Cell], records, out_dir: Path
) -> dict:
    spec = ctx.suite.knowledge.counterfactual
    if not task.corpus:
        return {"skipped": "the task has no corpus: no gold passage to edit"}
    seed = ctx.seed if spec.seed is None else spec.seed
    swaps = plan_swaps(items, _all_items(task), task.corpus, spec.items, seed)
    if not swaps:
        return {"skipped": "no answerable item has a gold answer span in its gold document"}
    by_item = {s.item_id: s for s in swaps}
    chosen = [i for i in items if i.id in by_item]
    docs = {d.id: d for d in task.corpus}
    arms, failed = {}, {}
    readers = _readers(ctx, cells)
    for cell in readers:
        inputs = {
            "cell": cell.prediction_key,
            "swaps": [s.as_dict() | {"new": s.new_answers} for s in swaps],
            "items": items_key(chosen),
        }
        try:
            arms[cell.arm.label] = cached_part(
                "counterfactual",
                inputs,
                lambda cell=cell: _answer_counterfactuals(ctx, cell, chosen, by_item, docs),
            )
        except Exception as exc:  # one arm that fails leaves the others' rows
            failed[cell.arm.label] = _failed(cell.label, exc)
    reference = _reference(readers, arms)
    for arm, part in arms.items():
        part["rates"] = _rates(part["outcomes"], ctx.seed)
        if reference is not None and arm != reference:
            part["versus_rag"] = _paired(arms[reference]["outcomes"], part["outcomes"], ctx.seed)
    return {
        "n": len(chosen),
        "seed": seed,
        "reference": reference,
        "swaps": [s.as_dict() for s in swaps],
        "arms": arms,
        "failed": failed,
    }


def _reference(readers: list[Cell], answered: dict) -> str | None:
    """The arm the others are paired against: `rag` on the base model, else its first variant
    (`rag~plain` where the suite has prompt variants)."""
    plain = [
        c.arm.label
        for c in readers
        if c.arm.arm == REFERENCE_ARM and c.arm.model is None and c.arm.label in answered
    ]
    return REFERENCE_ARM if REFERENCE_ARM in plain else next(iter(plain), None)


def _answer_counterfactuals(ctx, cell: Cell, items, by_item: dict[str, Swap], docs) -> dict:
    cctx = ctx.for_model(ctx.suite.model_for(cell.arm))
    seed_everything(cell.seed)
    arm = build_arm(cctx, cell.arm)
    arm.setup(cell.task)  # a trained arm loads its cached artifact
    arm.rewrite_passages = counterfactual_passages(arm, by_item, docs)
    preds = arm.predict(cell.task, items)
    return {
        "outcomes": {
            i.id: passage_outcome(p.output, p.abstained, by_item[i.id].new_answers, i.answers)
            for i, p in zip(items, preds)
        },
        "outputs": {i.id: p.output for i, p in zip(items, preds)},
    }


def counterfactual_passages(arm, by_item: dict[str, Swap], docs: dict[str, Document]):
    """The passage editor the arm applies before prompting: the edited gold chunk first, then
    the arm's other passages that do not hold the original answer (as many as it had)."""

    def rewrite(items: list[Item], hits: list[list[Hit]]) -> list[list[Hit]]:
        out = []
        for item, item_hits in zip(items, hits):
            swap = by_item.get(item.id)
            if swap is None:
                out.append(item_hits)
                continue
            gold = _gold_chunk(arm, swap, item_hits, docs)
            edited = replace(gold, text=swap_spans(gold.text, swap.original, swap.replacement)[0])
            others = [
                h
                for h in item_hits
                if h.chunk_id != gold.chunk_id and not swap_spans(h.text, swap.original, "")[1]
            ]
            kept = [edited, *others][: max(1, len(item_hits))]
            out.append([replace(h, rank=rank) for rank, h in enumerate(kept, 1)])
        return out

    return rewrite


def _gold_chunk(arm, swap: Swap, hits: list[Hit], docs: dict[str, Document]) -> Hit:
    """The passage that holds the gold span: a retrieved chunk of the gold document, else the
    first such chunk of the arm's index, else the whole gold document."""

    def holds(doc_id: str, text: str) -> bool:
        return same_document(doc_id, swap.doc_id) and bool(swap_spans(text, swap.original, "")[1])

    found = next((h for h in hits if holds(h.doc_id, h.text)), None)
    if found is not None:
        return found
    for c in getattr(arm.retriever, "chunks", []):
        if holds(c.doc_id, c.text):
            return Hit(c.id, c.doc_id, c.title, c.text, 1.0, 1)
    doc = docs[swap.doc_id]
    return Hit(f"{doc.id}#whole", doc.id, doc.title, doc.text, 1.0, 1)


def _rates(outcomes: dict[str, str], seed: int) -> dict:
    values = list(outcomes.values())
    return {
        name: summarize([float(v == name) for v in values], seed)
        for name in (CONTEXT, PARAMETRIC, OTHER)
    }


def _paired(reference: dict[str, str], arm: dict[str, str], seed: int) -> dict:
    ids = [i for i in arm if i in reference]
    return {
        name: paired_test(
            [float(reference[i] == name) for i in ids], [float(arm[i] == name) for i in ids], seed
        )
        for name in (CONTEXT, PARAMETRIC)
    }


# --------------------------------------------------------------------------------------------
# knowledge update


def updated_task(ctx: RunContext, task: TaskData, items: list[Item]) -> tuple[TaskData, dict]:
    """The task after the update, and what changed: {item id: (old answers, new answers)} for
    every split, the edited document ids, and the swaps (when made from the suite)."""
    spec = ctx.suite.knowledge.update
    if spec.counterfactual is not None:
        if not task.corpus:
            raise ValueError("update: {counterfactual: N} needs a task with a corpus")
        swaps = plan_swaps(items, _all_items(task), task.corpus, spec.counterfactual, ctx.seed)
        corpus = apply_to_documents(task.corpus, swaps)
        splits = {name: apply_to_items(split, swaps)[0] for name, split in task.splits.items()}
        described = [s.as_dict() for s in swaps]
    else:
        corpus, splits = _from_files(ctx, task)
        described = []
    old = {i.id: i for i in _all_items(task)}
    changed = {
        i.id: (list(old[i.id].answers), list(i.answers))
        for split in splits.values()
        for i in split
        if i.id in old and i.answers != old[i.id].answers
    }
    edited = [d.id for d, o in zip(corpus or [], task.corpus or []) if d.text != o.text]
    new = replace(task, splits=splits, corpus=corpus)
    return new, {"changed": changed, "documents": edited, "swaps": described}


def _from_files(ctx: RunContext, task: TaskData):
    spec = ctx.suite.knowledge.update
    # Relative to the suite file (run_knowledge resolves them), else to the working folder.
    docs_path, items_path = Path(spec.documents), Path(spec.items)
    edits = {r["id"]: r for r in _read_jsonl(docs_path, ("id", "text"))}
    answers = {r["id"]: tuple(r["answers"]) for r in _read_jsonl(items_path, ("id", "answers"))}
    unknown = sorted(set(edits) - {d.id for d in task.corpus or []})
    if unknown:
        raise ValueError(f"{docs_path}: document id(s) {unknown[:5]} are not in the corpus")
    corpus = [
        replace(d, text=edits[d.id]["text"], title=edits[d.id].get("title", d.title))
        if d.id in edits
        else d
        for d in task.corpus or []
    ]
    splits = {
        name: [replace(i, answers=answers[i.id]) if i.id in answers else i for i in split]
        for name, split in task.splits.items()
    }
    return corpus, splits


def _read_jsonl(path: Path, keys: tuple[str, ...]) -> list[dict]:
    if not path.is_file():
        raise ValueError(f"update: file not found: {path}")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: not JSON ({exc})") from None
        missing = [k for k in keys if k not in row]
        if missing:
            raise ValueError(f"{path}:{n}: missing key(s) {missing}")
        rows.append(row)
    return rows


def update_part(
    ctx: RunContext, task: TaskData, items: list[Item], cells: list[Cell], records, out_dir: Path
) -> dict:
    spec = ctx.suite.knowledge.update
    new_task, change = updated_task(ctx, task, items)
    eval_changed = [i for i in new_task.eval if i.id in change["changed"]]
    ids = {i.id for i in items}
    changed = [i for i in eval_changed if i.id in ids] or eval_changed
    rest = [i for i in items if i.id not in change["changed"] and i.answerable]
    unchanged = sorted(
        random.Random(ctx.seed).sample(rest, min(spec.unchanged, len(rest))),
        key=lambda i: items.index(i),
    )
    if not changed:
        return {"skipped": "the update changed no eval item's gold answer"}
    drill_items = changed + unchanged
    old_answers = {i: tuple(a[0]) for i, a in change["changed"].items()}
    arms, failed = {}, {}
    for cell in cells:
        modes = _modes(cell, spec.retrain)
        for mode in modes:
            label = cell.arm.label if len(modes) == 1 else f"{cell.arm.label} ({mode})"
            inputs = {
                "cell": cell.prediction_key,
                "mode": mode,
                "change": change,
                "items": items_key(drill_items),
            }
            try:
                part = cached_part(
                    "update",
                    inputs,
                    lambda cell=cell, mode=mode: _absorb(
                        ctx,
                        cell,
                        task,
                        new_task,
                        drill_items,
                        mode,
                        out_dir / records[cell.name]["samples"],
                    ),
                )
            except Exception as exc:  # one arm that fails leaves the others' rows
                failed[label] = _failed(cell.label, exc)
                continue
            arms[label] = part | _update_scores(part, changed, unchanged, old_answers, ctx.seed)
            arms[label]["mode"] = mode
    return {
        "changed_items": len(changed),
        "unchanged_items": len(unchanged),
        "documents": change["documents"],
        "swaps": change["swaps"],
        "changed_train_items": sum(1 for i in new_task.train if i.id in change["changed"]),
        "arms": arms,
        "failed": failed,
    }


def _failed(label: str, exc: Exception) -> str:
    reason = f"{type(exc).__name__}: {exc}"
    log(f"knowledge drill, {label}: failed: {reason}")
    return reason


def _modes(cell: Cell, retrain: bool) -> list[str]:
    """updated: the arm as it absorbs the update without training (prompting and retrieval
    arms); stale: trained weights kept; retrained: trained again on the updated train split."""
    if not ARMS[cell.arm.arm].changes_weights:
        return ["updated"]
    return ["stale", "retrained"] if retrain else ["stale"]


def _absorb(
    ctx, cell: Cell, old: TaskData, new: TaskData, items: list[Item], mode: str, samples: Path
) -> dict:
    """One arm in the updated world: what it answers, and what absorbing the update cost. With
    the weights of its cell (every mode but retrained), a prompt the update left unchanged gets
    the answer the cell gave it (its samples file), not a second generation."""
    cctx = ctx.for_model(ctx.suite.model_for(cell.arm))
    seed_everything(cell.seed)
    arm = build_arm(cctx, cell.arm)
    started = time.perf_counter()
    if mode == "stale":  # the weights trained before the update; passages from the new corpus
        if arm.retrieves_before_prepare:
            arm.build_retriever(old)
        arm.prepare(old)
        arm.retriever = None
        arm.build_retriever(new)
    else:
        arm.setup(new)
    seconds = time.perf_counter() - started
    # The cell's answers hold for these weights only if they are the cell's: stale weights
    # loaded from the cache, not trained again here (a GPU need not repeat them bit for bit).
    training = arm.stats.get("training") or {}
    if mode == "updated" or (mode == "stale" and training.get("artifact_cached")):
        arm.remembered = remembered_answers(samples)
    preds = arm.predict(new, items)
    cost = _cost(arm, mode, seconds)
    return {
        "outputs": {i.id: p.output for i, p in zip(items, preds)},
        "abstained": {i.id: p.abstained for i, p in zip(items, preds)},
        "cost": cost,
        "reused_answers": sum(1 for p in preds if p.extra.get("reused")),
    }


def remembered_answers(samples: Path) -> dict[str, str]:
    """prompt -> the answer generated for it, from a cell's samples file (the raw text where
    the answer was read as a label); {} where the file cannot be read (then every prompt is
    answered again)."""
    out = {}
    try:
        for line in samples.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = SampleRow.model_validate(json.loads(line))
            if row.prompt and row.output is not None and row.choice is None:
                out[row.prompt] = row.extras().get("raw_output", row.output)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        log(f"knowledge update: {samples.name} unreadable ({exc}); answering every prompt again")
        return {}
    return out


def _cost(arm, mode: str, seconds: float) -> dict:
    """The measured cost of absorbing the update: the index build for a retriever (as built,
    also when a later run loads it from the cache), the training for a retrained arm."""
    retrieval = (arm.retriever.stats if arm.retriever is not None else {}) or {}
    training = arm.stats.get("training") or {}
    if mode == "retrained":
        return {
            "kind": "retraining",
            "seconds": training.get("seconds", round(seconds, 3)),
            "cached": bool(training.get("artifact_cached")),
        }
    if mode == "stale":
        return {"kind": "none (weights not updated)", "seconds": 0.0}
    if retrieval:
        return {
            "kind": "re-index",
            "seconds": retrieval.get("build_seconds"),
            "cached": bool(retrieval.get("index_cached")),
        }
    if arm.kind == "few_shot":
        return {"kind": "none (reads the updated train examples when it answers)", "seconds": 0.0}
    return {"kind": "none (closed-book: nothing it reads changed)", "seconds": 0.0}


def _update_scores(part: dict, changed, unchanged, old_answers: dict, seed: int) -> dict:
    outputs, abstained = part["outputs"], part["abstained"]

    def right(item: Item, answers) -> float:
        return float(is_right(outputs[item.id], abstained[item.id], answers))

    return {
        "changed_accuracy": summarize([right(i, i.answers) for i in changed], seed),
        "stale_answer_rate": summarize(
            [right(i, old_answers[i.id]) * (1 - right(i, i.answers)) for i in changed], seed
        ),
        "unchanged_accuracy": summarize([right(i, i.answers) for i in unchanged], seed),
    }
