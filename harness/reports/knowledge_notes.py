"""The knowledge drills in the report: three tables, and the sentences the decision quotes.

Reads `knowledge` in results.json (written by harness/run/knowledge.py): per task, `known`
(SliCK categories and each arm's scores in them), `counterfactual` (what arms answer when the
passage contradicts the weights) and `update` (how arms absorb changed facts). Pure functions
of the results (harness.spec.record_knowledge).
"""

from __future__ import annotations

from harness.reports.verdict import Verdict
from harness.spec.config import DecisionSpec
from harness.spec.costs import UsageSpec
from harness.spec.record import MetricSummary, Results
from harness.spec.record_knowledge import (
    CounterfactualPart,
    KnownPart,
    PairedChange,
    TaskKnowledge,
    UpdateArm,
    UpdateCost,
    UpdatePart,
)

KNOWN_CATEGORIES = ("HighlyKnown", "MaybeKnown")  # facts the base model knew
# Below this many known items a paired change has a 95% interval wider than ±0.3 even with no
# noise in the arms: the report says the known-item comparison needs other material.
FEW_KNOWN = 10
DEFINITIONS = (
    "SliCK categories (Gekhman et al. 2024), from the base model's closed-book answers: "
    "**HighlyKnown** = the greedy answer is right under every few-shot prompt; **MaybeKnown** = "
    "right under some, not all; **WeaklyKnown** = the greedy answer is never right but a sampled "
    "one sometimes is; **Unknown** = no greedy and no sampled answer is right."
)

# What `adaptbench ls metrics` says about the knowledge drills (`--knowledge`).
DRILL_DEFINITIONS = (
    'Knowledge drills (`knowledge:` or `run --knowledge`; README "What each choice does to '
    'knowledge"):\n'
    f"- {DEFINITIONS.replace('**', '')} Right = as false_answer_rate counts it.\n"
    "- context-following / parametric override: on a gold passage whose answer span is swapped "
    "for another answer of the same kind, the share of answers giving the passage's answer / the "
    "original answer (which only the weights can give); the rest is other.\n"
    "- stale-answer rate: after a knowledge update, the share of changed items answered with the "
    "old answer; also accuracy on changed and on unchanged items, and the measured cost of "
    "absorbing the update (re-index or retraining)."
)


def _ci(m: MetricSummary | None, digits: int = 2) -> str:
    if m is None or m.value is None:
        return "–"
    return f"{m.value:.{digits}f} [{m.ci_low:.{digits}f}, {m.ci_high:.{digits}f}]"


def _delta(c: PairedChange | None) -> str:
    if c is None:
        return "–"
    return f"{c.delta:+.2f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}]"


def _parts(results: Results, task: str) -> TaskKnowledge:
    """The task's drills (none ran: every part None)."""
    knowledge = results.knowledge or {}
    return knowledge[task] if task in knowledge else TaskKnowledge()


def tables(results: Results, task: str) -> list[dict]:
    """The drills' tables of one task: {title, intro, header, rows, notes}; intro and notes
    use markdown's ** and ` (html strips them)."""
    parts = _parts(results, task)
    builders = (
        (parts.known, "Known and unknown items", _known_table),
        (parts.counterfactual, "Passages that contradict the weights", _counterfactual_table),
        (parts.update, "Knowledge-update drill", _update_table),
    )
    out = []
    for part, title, build in builders:
        if part is None:
            continue
        problem = _problem(part)
        table = {"intro": f"Not measured: {problem}.", "header": [], "rows": [], "notes": []}
        table = table if problem else build(part)
        table["notes"] = table["notes"] + [
            f"`{arm}`: not measured: {why}" for arm, why in part.failed.items()
        ]
        out.append({"title": title} | table)
    return out


def markdown_lines(results: Results) -> list[str]:
    """The three tables of every task that ran the drills (nothing when none did)."""
    lines: list[str] = []
    for task in results.knowledge or {}:
        found = tables(results, task)
        if not found:
            continue
        lines += ["", f"## What each arm does to knowledge: `{task}`"]
        for t in found:
            lines += ["", f"### {t['title']}", "", t["intro"]]
            if t["header"]:
                lines += [
                    "",
                    "| " + " | ".join(t["header"]) + " |",
                    "|---" * len(t["header"]) + "|",
                ]
                lines += ["| " + " | ".join(row) + " |" for row in t["rows"]]
            lines += [f"- {n}" for n in t["notes"]]
    return lines


def html_tables(results: Results, task: str) -> list[dict]:
    """The same tables for report.html, as plain text (the template escapes it)."""
    return [
        {
            "title": t["title"],
            "intro": _plain(t["intro"]),
            "header": [_plain(h) for h in t["header"]],
            "rows": [[_plain(c) for c in row] for row in t["rows"]],
            "notes": [_plain(n) for n in t["notes"]],
        }
        for t in tables(results, task)
    ]


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")


def _problem(part: KnownPart | CounterfactualPart | UpdatePart) -> str | None:
    if part.has("error"):
        return f"the drill failed: {part.error}"
    return part.skipped


def _known_table(part: KnownPart) -> dict:
    s, metric = part.settings, part.metric
    counts = ", ".join(f"{c} {n}" for c, n in part.counts.items())
    rows = [
        [f"`{arm}`", cat, str(e.n), _ci(e.score(metric)), _ci(e.false_answer_rate),
         _delta(e.versus_base)]
        for arm, cats in part.arms.items()
        for cat, e in cats.items()
        if e.n
    ]  # fmt: skip
    return {
        "intro": f"{DEFINITIONS} Here: {s.draws} greedy answers (each under {s.shots} "
        f"random solved train examples) and {s.samples} samples at temperature "
        f"{s.temperature}. Answerable items by category: {counts}.",
        "header": ["arm", "category", "n", metric, "false_answer_rate",
                   f"{metric} change vs `{part.base_arm or 'base'}` (paired)"],
        "rows": rows,
        "notes": known_sentences(part) + _known_reading(part),
    }  # fmt: skip


def _known_reading(part: KnownPart) -> list[str]:
    """What the counts allow a reader to conclude."""
    known = sum(part.counts.get(c, 0) for c in KNOWN_CATEGORIES)
    total = sum(part.counts.values())
    if not total:
        return []
    if known >= FEW_KNOWN:
        return [
            "Read: an arm that gains on Unknown items but loses on HighlyKnown or MaybeKnown "
            "ones traded facts the model knew for new ones (Gekhman et al. 2024 saw fine-tuning "
            "on unknown facts raise hallucination on known ones)."
        ]
    return [
        f"Read: the base model knew {known} of {total} answerable facts (HighlyKnown or "
        f"MaybeKnown), fewer than {FEW_KNOWN}: too few to tell whether adapting costs facts it "
        "knew; the Unknown rows say how each arm does on facts the base model did not know."
    ]


def known_sentences(part: KnownPart) -> list[str]:
    """'`lora` gained 0.31 on Unknown items and lost 0.08 on HighlyKnown ones (CI ...)'."""
    out = []
    for arm, cats in part.arms.items():
        moves = [(cat, e.versus_base, e.n) for cat, e in cats.items() if e.versus_base]
        if not moves:
            continue
        said = [
            f"{_moved(c.delta)} on {cat} items (n={n}, 95% CI {c.ci_low:+.2f} to {c.ci_high:+.2f})"
            for cat, c, n in moves
        ]
        out.append(f"`{arm}` against the base model: " + ", ".join(said))
    return out


def _moved(delta: float) -> str:
    if round(delta, 2) == 0:  # the interval says how little that proves
        return "changed by +0.00"
    return f"{'gained' if delta > 0 else 'lost'} {abs(delta):.2f}"


def _counterfactual_table(part: CounterfactualPart) -> dict:
    example = part.swaps[0]
    rows = []
    for arm, e in part.arms.items():
        r = e.rates
        paired = e.versus_rag.context if e.versus_rag else None
        rows.append(
            [f"`{arm}`", str(r.context.n), _ci(r.context), _ci(r.parametric),
             _ci(r.other), _delta(paired)]
        )  # fmt: skip
    return {
        "intro": f"{part.n} answerable items: the gold passage with its answer swapped for "
        f"another answer of the same kind from the suite (e.g. {example.original!r} → "
        f"{example.replacement!r}), all else unchanged. **Context-following**: the arm gives "
        "the passage's answer; **parametric override**: it gives the original answer, which the "
        "passage no longer holds (from its weights); **other**: neither. "
        + (
            f"Paired against `{part.reference}` on the same items."
            if part.reference
            else "No `rag` arm on the base model ran: nothing is paired."
        ),
        "header": ["arm", "n", "context-following", "parametric override", "other",
                   f"context-following vs `{part.reference or 'rag'}` (paired)"],
        "rows": rows,
        "notes": counterfactual_sentences(part),
    }  # fmt: skip


def counterfactual_sentences(part: CounterfactualPart) -> list[str]:
    """Each arm's outcomes in words, and how it differs from the reference where measurably."""
    out = []
    for arm, e in part.arms.items():
        r = e.rates
        text = (
            f"`{arm}` gave the edited passage's answer on {_ci(r.context)} of {r.context.n} "
            f"items, the answer the passage no longer holds on {_ci(r.parametric)}, something "
            f"else on {_ci(r.other)}"
        )
        paired = e.versus_rag.context if e.versus_rag else None
        if paired and (paired.ci_high < 0 or paired.ci_low > 0):
            text += (
                f"; it follows such passages {'less' if paired.delta < 0 else 'more'} often "
                f"than `{part.reference}` ({_delta(paired)})"
            )
        out.append(text + ".")
    out.append(
        "Read: context-following is what an arm must do for edited documents to change its "
        "answers; a parametric override means it answers from its weights whatever the "
        "passage says; *other* is neither answer (an abstention, something else, or both)."
    )
    return out


def _update_table(part: UpdatePart) -> dict:
    rows = []
    for arm, e in part.arms.items():
        rows.append(
            [f"`{arm}`", e.mode, _ci(e.changed_accuracy), _ci(e.stale_answer_rate),
             _ci(e.unchanged_accuracy), _spent(e.cost)]
        )  # fmt: skip
    return {
        "intro": f"{len(part.documents)} document(s) edited; {part.changed_items} eval "
        f"items whose gold answer changed, {part.unchanged_items} unchanged ones scored "
        f"alongside, {part.changed_train_items} train items changed. An answer is right as "
        "`false_answer_rate` counts it (a gold answer, not an abstention). **Stale-answer "
        "rate**: the old answer given after the update. Cost: what absorbing the update took, "
        "measured.",
        "header": ["arm", "absorbs by", "accuracy on changed", "stale-answer rate",
                   "accuracy on unchanged", "cost"],
        "rows": rows,
        "notes": update_sentences(part),
    }  # fmt: skip


def update_sentences(part: UpdatePart) -> list[str]:
    """How each arm absorbs the update, in words: the highest accuracy on the changed facts,
    what stale weights still say, and what retraining bought at its measured cost."""
    scored = {
        a: e
        for a, e in part.arms.items()
        if e.changed_accuracy is not None and e.changed_accuracy.value is not None
    }
    if not scored:
        return []
    top = max(e.changed_accuracy.value for e in scored.values())
    if top > 0:
        best = [a for a, e in scored.items() if e.changed_accuracy.value == top]
        first = scored[best[0]]
        near = [
            a
            for a, e in scored.items()
            if a not in best
            and (e.changed_accuracy.ci_high or 0) >= (first.changed_accuracy.ci_low or 0)
        ]
        text = (
            "Highest accuracy on the changed facts after the update: "
            + ", ".join(f"`{a}` ({_spent(scored[a].cost)})" for a in best)
            + f", {_ci(first.changed_accuracy)} of {first.changed_accuracy.n}"
        )
        if near:
            text += "; the intervals of " + ", ".join(f"`{a}`" for a in near) + " overlap it"
        out = [text + "."]
    else:
        out = ["No arm answered a changed fact right after the update."]
    for arm, e in scored.items():
        if e.mode == "stale":
            out.append(
                f"`{arm}` keeps its trained weights: it still gives the old answer on "
                f"{_ci(e.stale_answer_rate)} of the changed facts and the new one on "
                f"{_ci(e.changed_accuracy)}."
            )
        elif e.mode == "retrained":
            out.append(
                f"`{arm}` retrained on the updated train split ({_spent(e.cost)}): "
                f"{_ci(e.changed_accuracy)} right on the changed facts, old answer on "
                f"{_ci(e.stale_answer_rate)}."
            )
    return out


def _spent(cost: UpdateCost | None) -> str:
    cost = cost or UpdateCost()
    return f"{cost.kind}" + (f", {cost.seconds:.1f} s" if cost.seconds else "")


# --------------------------------------------------------------------------------------------
# the decision


def annotate(results: Results, task: str, verdict: Verdict) -> Verdict:
    """The verdict with the drills' measurements that bear on it, each with its CI, as reasons,
    and what would flip it."""
    parts = _parts(results, task)
    pick = verdict.recommended
    if not (parts.known or parts.counterfactual or parts.update) or not pick:
        return verdict
    family = _family(results, task, pick)
    notes = _known_notes(parts.known, family)
    notes += _counterfactual_notes(parts.counterfactual, family)
    update_notes, flips = _update_notes(parts.update, family)
    notes += update_notes
    verdict.reasons = [*verdict.reasons, *notes]
    verdict.would_change = [*verdict.would_change, *flips]
    return verdict


def _family(results: Results, task: str, arm: str) -> str:
    run = next((r for r in results.runs if r.task == task and r.arm == arm), None)
    return (run.family if run else None) or arm


def _known_notes(part: KnownPart | None, pick: str) -> list[str]:
    if part is None or _problem(part):
        return []
    out = []
    for arm, cats in part.arms.items():
        for cat in KNOWN_CATEGORIES:
            c = cats[cat].versus_base if cat in cats else None
            if c and c.ci_high < 0:
                who = "the recommended arm" if arm == pick else "it"
                out.append(
                    f"`{arm}` loses facts the base model knew: {c.delta:+.2f} on {cat} items "
                    f"(n={cats[cat].n}, 95% CI {c.ci_low:+.2f} to {c.ci_high:+.2f}); "
                    f"{who} answers them worse than the untouched model"
                )
    return out


def _counterfactual_notes(part: CounterfactualPart | None, pick: str) -> list[str]:
    if part is None or _problem(part):
        return []
    out = []
    ref = part.reference
    for arm, e in part.arms.items():
        ctx, over = e.rates.context, e.rates.parametric
        paired = e.versus_rag.context if e.versus_rag else None
        if arm == pick or (paired and paired.ci_high < 0):
            text = (
                f"`{arm}` follows a passage that contradicts its weights on {_ci(ctx)} of "
                f"{ctx.n} items and overrides it with the original answer on {_ci(over)}"
            )
            if paired:
                text += f" ({_delta(paired)} against `{ref}`)"
            out.append(text)
    return out


def _update_notes(part: UpdatePart | None, pick: str) -> tuple[list[str], list[str]]:
    if part is None or _problem(part):
        return [], []
    notes, flips = [], []
    for arm, e in part.arms.items():
        stale = e.stale_answer_rate
        if e.mode == "stale" and stale.value is not None and stale.ci_low > 0:
            notes.append(
                f"`{arm}` goes stale: after the update it still gives the old answer on "
                f"{_ci(stale)} of {stale.n} changed items until it is retrained"
            )
            if arm.split(" ")[0] == pick:
                flips.append(
                    f"knowledge that changes between retrainings (`{arm}` stale on {_ci(stale)} "
                    "of changed facts in the update drill) favours an arm that re-indexes"
                )
        if arm == pick and e.mode == "updated":
            notes.append(
                f"`{arm}` after the update: {_ci(e.changed_accuracy)} right on the changed "
                f"items, cost {e.cost.kind if e.cost else None}"
            )
    return notes, flips


def tie_break_spec(results: Results, spec: DecisionSpec) -> tuple[DecisionSpec, bool]:
    """`decision.knowledge_changes_often` from measurement: when the suite states knowledge
    updates per month and the update drill ran, facts change often enough to matter exactly
    when some weight-changing arm measurably goes stale (its stale-answer rate's CI above 0).
    The spec to decide under, and whether that setting was measured (else the suite's)."""
    usage = UsageSpec.model_validate(results.section("usage"))
    if not usage.knowledge_updates_per_month:
        return spec, False
    measured: list[UpdateArm] = []
    for parts in (results.knowledge or {}).values():
        arms = parts.update.arms if parts and parts.update else {}
        measured += [e for e in arms.values() if e.mode == "stale"]
    if not measured:
        return spec, False
    stale = any((e.stale_answer_rate.ci_low or 0) > 0 for e in measured)
    return spec.model_copy(update={"knowledge_changes_often": stale}), True
