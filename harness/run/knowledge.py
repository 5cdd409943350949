"""The knowledge drills of a run (`knowledge:` in a suite, or `run --knowledge`), after its cells.

1. known: each answerable eval item sorted into SliCK's categories by the base model's
   closed-book answers (harness.engine.knowledge), and every arm's decision metric and
   false-answer rate per category, with the paired change of weight-changing arms against
   `base` on the same items.
2. counterfactual: passages whose gold span is swapped (harness.engine.counterfactual) shown to
   every arm that reads passages (harness.run.knowledge_drills).
3. update: the same swaps applied to the corpus and golds; arms re-index, stay stale, or
   retrain (harness.run.knowledge_drills).

Every part is cached under `<cache>/knowledge/` by a hash of what decides it (the cells'
prediction keys, the swaps, the settings, this code), so a rerun recomputes only the parts an
edit touched; each part says whether it was reused. A drill that fails is reported as such in
its part and the run goes on.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from harness.arms.prompting import conversation, is_abstention, wording_for
from harness.common.files import write_json_atomic
from harness.common.itemhash import item_hash
from harness.common.log import log
from harness.common.stats import paired_test, summarize
from harness.data.tasks import Item, TaskData
from harness.engine.knowledge import CATEGORIES, is_right, sample_generate, slick_category
from harness.run.cell import Cell
from harness.run.context import RunContext
from harness.run.keys import LABELS_TASK_EXCLUDED
from harness.run.knowledge_cache import cached_part, items_key, part_path
from harness.spec.knowledge import KnownSpec

# --------------------------------------------------------------------------------------------
# known and unknown items (SliCK)


def label_items(
    ctx: RunContext, task: TaskData, items: list[Item], spec: KnownSpec, model_fp: str
) -> dict:
    """SliCK's category of each answerable item, from the base model's closed-book answers:
    `draws` greedy answers, each under its own `shots` random solved train examples, and
    `samples` answers sampled at `temperature`. Cached per model, settings and item content:
    an item already labelled is not asked again."""
    todo = [i for i in items if i.answerable and i.choices is None and i.answers]
    inputs = {
        "model": ctx.suite.model.model_dump(),
        "fingerprint": model_fp,
        "spec": spec.model_dump(),
        "task": task.spec.model_dump(exclude=set(LABELS_TASK_EXCLUDED)),
        "train": items_key(task.train),
        "seed": ctx.seed,
    }
    store = cached_part("known", inputs | {"items": []}, dict)  # this setting's label store
    path = part_path("known", store["key"])
    labels = {k: v for k, v in store.items() if k not in ("key", "reused")}
    missing = [i for i in todo if item_hash(i) not in labels]
    if missing:
        log(f"knowledge: labelling {len(missing)} item(s) by the base model's closed-book answers")
        labels |= _closed_book_labels(ctx, task, missing, spec)
        write_json_atomic(path, labels)
    reused = len(todo) - len(missing)
    return {
        "labels": {i.id: labels[item_hash(i)] for i in todo},
        "reused_items": reused,
        "labelled_items": len(missing),
        "settings": spec.model_dump(),
    }


def _closed_book_labels(ctx: RunContext, task: TaskData, items: list[Item], spec: KnownSpec):
    generator = ctx.generator
    gen = task.spec.generation
    wording = wording_for(task)
    pool = [t for t in task.train if t.answerable and t.choices is None]
    prompts_by_draw = []
    for draw in range(spec.draws):
        shots = random.Random(ctx.seed + draw).sample(pool, min(spec.shots, len(pool)))
        prompts_by_draw.append(
            [generator.format_chat(conversation(task.spec, wording, i, shots)) for i in items]
        )
    greedy = [[] for _ in items]
    for prompts in prompts_by_draw:
        for n, out in enumerate(generator.generate(prompts, gen.max_new_tokens, gen.stop)):
            greedy[n].append(_right(task, items[n], out.text))
    sampled: list[list[bool]] = [[] for _ in items]
    can_sample = True
    for s in range(spec.samples):
        outs = sample_generate(
            generator,
            prompts_by_draw[s % spec.draws],
            gen.max_new_tokens,
            gen.stop,
            spec.temperature,
            ctx.seed + 1000 + s,
        )
        if outs is None:
            can_sample = False
            break
        for n, out in enumerate(outs):
            sampled[n].append(_right(task, items[n], out.text))
    return {
        item_hash(item): {
            "category": slick_category(greedy[n], sampled[n]),
            "greedy_right": sum(greedy[n]),
            "greedy": len(greedy[n]),
            "sampled_right": sum(sampled[n]),
            "sampled": len(sampled[n]),
            "sampling": can_sample,
        }
        for n, item in enumerate(items)
    }


def _right(task: TaskData, item: Item, text: str) -> bool:
    return is_right(text, is_abstention(text, task.spec.abstain_patterns), item.answers)


def per_category(
    labels: dict[str, dict], rows_by_arm: dict[str, dict[str, dict]], kinds: dict, metric: str,
    seed: int,
) -> dict:  # fmt: skip
    """Each arm's `metric` and false-answer rate per SliCK category (the items its samples
    score), and for weight-changing arms the paired change against `base` per category."""
    base = next((a for a, k in kinds.items() if k["kind"] == "base"), None)
    arms = {}
    for arm, rows in rows_by_arm.items():
        cats = {}
        for cat in CATEGORIES:
            ids = [i for i, lab in labels.items() if lab["category"] == cat and i in rows]
            entry = {
                "n": len(ids),
                metric: summarize([_score(rows[i], metric) for i in ids], seed),
                "false_answer_rate": summarize(
                    [_score(rows[i], "false_answer_rate") for i in ids], seed
                ),
            }
            if kinds[arm]["changes_weights"] and base is not None and base != arm:
                both = [i for i in ids if i in rows_by_arm[base]]
                if both:
                    entry["versus_base"] = paired_test(
                        [_score(rows_by_arm[base][i], metric) for i in both],
                        [_score(rows[i], metric) for i in both],
                        seed,
                    )
            cats[cat] = entry
        arms[arm] = cats
    counts = {c: sum(1 for lab in labels.values() if lab["category"] == c) for c in CATEGORIES}
    return {"metric": metric, "base_arm": base, "counts": counts, "arms": arms}


def _score(row: dict, metric: str) -> float:
    value = (row.get("scores") or {}).get(metric, {}).get("value")
    return float(value) if value is not None else 0.0


def read_rows(out_dir: Path, record: dict) -> dict[str, dict]:
    """A finished cell's per-item rows by item id (its samples file in the run folder)."""
    path = out_dir / record["samples"]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {r["id"]: r for r in rows}


# --------------------------------------------------------------------------------------------
# the run's entry point


def run_knowledge(
    ctx: RunContext,
    cells: list[Cell],
    records: dict[str, dict | None],
    out_dir: Path,
    suite_path: str | None = None,
) -> dict | None:
    """Every drill the suite asks for, per task: what results.json keeps under `knowledge`."""
    from harness.run import knowledge_drills as drills

    spec = ctx.suite.knowledge
    if spec is None or not cells:
        return None
    ctx = ctx.for_model(ctx.suite.model)  # the base model answers closed-book
    update = spec.update
    if update is not None and update.documents and suite_path:  # relative to the suite file
        folder = Path(suite_path).resolve().parent
        update.documents = str(folder / update.documents)
        update.items = str(folder / (update.items or ""))
    out: dict[str, dict] = {}
    for task_name in dict.fromkeys(c.task.spec.name for c in cells):
        mine = [c for c in cells if c.task.spec.name == task_name]
        ok = [c for c in mine if (records.get(c.name) or {}).get("status") == "ok"]
        task, items = mine[0].task, mine[0].items
        entry: dict[str, dict] = {}
        parts = [
            ("known", spec.known, _known_part),
            ("counterfactual", spec.counterfactual, drills.counterfactual_part),
            ("update", spec.update, drills.update_part),
        ]
        for name, wanted, compute in parts:
            if wanted is None:
                continue
            try:
                entry[name] = compute(ctx, task, items, ok, records, out_dir)
            except Exception as exc:  # a drill that fails is reported; the run's cells stand
                log(f"knowledge {task_name} / {name}: failed: {type(exc).__name__}: {exc}")
                entry[name] = {"error": f"{type(exc).__name__}: {exc}"}
        out[task_name] = entry
    return out


def _known_part(ctx, task, items, ok_cells, records, out_dir) -> dict:
    spec = ctx.suite.knowledge.known
    if task.spec.scoring != "generate":
        return {"skipped": "SliCK labels need generated answers (scoring: generate)"}
    model_fp = next((c.model.fingerprint for c in ok_cells if c.arm.model is None), None)
    labelled = label_items(ctx, task, items, spec, model_fp)
    metric = decision_metric(ctx, task)
    rows = {c.arm.label: read_rows(out_dir, records[c.name]) for c in ok_cells}
    kinds = {
        c.arm.label: {
            "kind": c.arm.arm,
            "changes_weights": bool(records[c.name].get("changes_weights")),
        }
        for c in ok_cells
    }
    table = per_category(labelled["labels"], rows, kinds, metric, ctx.seed)
    return labelled | table


def decision_metric(ctx: RunContext, task: TaskData) -> str:
    """The suite's decision metric, else the first accuracy metric the task scores."""
    chosen = ctx.suite.decision.metric
    if chosen:
        return chosen
    names = task.spec.metrics or []
    for name in ("exact_match", "token_f1", "choice_accuracy"):
        if name in names:
            return name
    return "exact_match"
