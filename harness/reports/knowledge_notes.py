"""The knowledge drills in the report: three tables, and the sentences the decision quotes.

Reads `knowledge` in results.json (written by harness/run/knowledge.py): per task, `known`
(SliCK categories and each arm's scores in them), `counterfactual` (what arms answer when the
passage contradicts the weights) and `update` (how arms absorb changed facts). Pure functions
of the payload.
"""

from __future__ import annotations

from typing import Any

KNOWN_CATEGORIES = ("HighlyKnown", "MaybeKnown")  # facts the base model knew
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


def _ci(m: dict | None, digits: int = 2) -> str:
    if not m or m.get("value") is None:
        return "–"
    return f"{m['value']:.{digits}f} [{m['ci_low']:.{digits}f}, {m['ci_high']:.{digits}f}]"


def _delta(c: dict | None) -> str:
    if not c:
        return "–"
    return f"{c['delta']:+.2f} [{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]"


def _parts(payload: dict, task: str) -> dict:
    return ((payload.get("knowledge") or {}).get(task)) or {}


def tables(payload: dict, task: str) -> list[dict]:
    """The drills' tables of one task: {title, intro, header, rows, notes}; intro and notes
    use markdown's ** and ` (html strips them)."""
    parts = _parts(payload, task)
    builders = (
        ("known", "Known and unknown items", _known_table),
        ("counterfactual", "Passages that contradict the weights", _counterfactual_table),
        ("update", "Knowledge-update drill", _update_table),
    )
    out = []
    for key, title, build in builders:
        part = parts.get(key)
        if part is None:
            continue
        problem = _problem(part)
        table = {"intro": f"Not measured: {problem}.", "header": [], "rows": [], "notes": []}
        table = table if problem else build(part)
        table["notes"] = table["notes"] + [
            f"`{arm}`: not measured: {why}" for arm, why in (part.get("failed") or {}).items()
        ]
        out.append({"title": title} | table)
    return out


def markdown_lines(payload: dict) -> list[str]:
    """The three tables of every task that ran the drills (nothing when none did)."""
    lines: list[str] = []
    for task in payload.get("knowledge") or {}:
        found = tables(payload, task)
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


def html_tables(payload: dict, task: str) -> list[dict]:
    """The same tables for report.html, as plain text (the template escapes it)."""
    return [
        {
            "title": t["title"],
            "intro": _plain(t["intro"]),
            "header": [_plain(h) for h in t["header"]],
            "rows": [[_plain(c) for c in row] for row in t["rows"]],
            "notes": [_plain(n) for n in t["notes"]],
        }
        for t in tables(payload, task)
    ]


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")


def _problem(part: dict) -> str | None:
    if "error" in part:
        return f"the drill failed: {part['error']}"
    return part.get("skipped")


def _known_table(part: dict) -> dict:
    s, metric = part["settings"], part["metric"]
    counts = ", ".join(f"{c} {n}" for c, n in part["counts"].items())
    rows = [
        [f"`{arm}`", cat, str(e["n"]), _ci(e[metric]), _ci(e["false_answer_rate"]),
         _delta(e.get("versus_base"))]
        for arm, cats in part["arms"].items()
        for cat, e in cats.items()
        if e["n"]
    ]  # fmt: skip
    return {
        "intro": f"{DEFINITIONS} Here: {s['draws']} greedy answers (each under {s['shots']} "
        f"random solved train examples) and {s['samples']} samples at temperature "
        f"{s['temperature']}. Answerable items by category: {counts}.",
        "header": ["arm", "category", "n", metric, "false_answer_rate",
                   f"{metric} change vs `{part.get('base_arm') or 'base'}` (paired)"],
        "rows": rows,
        "notes": known_sentences(part),
    }  # fmt: skip


def known_sentences(part: dict) -> list[str]:
    """'`lora` gained 0.31 on Unknown items and lost 0.08 on HighlyKnown ones (CI ...)'."""
    out = []
    for arm, cats in part.get("arms", {}).items():
        moves = [(cat, e["versus_base"], e["n"]) for cat, e in cats.items() if e.get("versus_base")]
        if not moves:
            continue
        said = [
            f"{'gained' if c['delta'] >= 0 else 'lost'} {abs(c['delta']):.2f} on {cat} items "
            f"(n={n}, 95% CI {c['ci_low']:+.2f} to {c['ci_high']:+.2f})"
            for cat, c, n in moves
        ]
        out.append(f"`{arm}` against the base model: " + ", ".join(said))
    return out


def _counterfactual_table(part: dict) -> dict:
    example = part["swaps"][0]
    rows = []
    for arm, e in part["arms"].items():
        r = e["rates"]
        paired = (e.get("versus_rag") or {}).get("context")
        rows.append(
            [f"`{arm}`", str(r["context"]["n"]), _ci(r["context"]), _ci(r["parametric"]),
             _ci(r["other"]), _delta(paired)]
        )  # fmt: skip
    return {
        "intro": f"{part['n']} answerable items: the gold passage with its answer swapped for "
        f"another answer of the same kind from the suite (e.g. {example['original']!r} → "
        f"{example['replacement']!r}), all else unchanged. **Context-following**: the arm gives "
        "the passage's answer; **parametric override**: it gives the original answer, which the "
        "passage no longer holds (from its weights); **other**: neither. Paired against "
        f"`{part.get('reference') or 'rag'}` on the same items.",
        "header": ["arm", "n", "context-following", "parametric override", "other",
                   "context-following vs rag (paired)"],
        "rows": rows,
        "notes": [],
    }  # fmt: skip


def _update_table(part: dict) -> dict:
    rows = []
    for arm, e in part["arms"].items():
        cost = e.get("cost") or {}
        seconds = cost.get("seconds")
        spent = f"{cost.get('kind')}" + (f", {seconds:.1f} s" if seconds else "")
        rows.append(
            [f"`{arm}`", e["mode"], _ci(e["changed_accuracy"]), _ci(e["stale_answer_rate"]),
             _ci(e["unchanged_accuracy"]), spent]
        )  # fmt: skip
    return {
        "intro": f"{len(part['documents'])} document(s) edited; {part['changed_items']} eval "
        f"items whose gold answer changed, {part['unchanged_items']} unchanged ones scored "
        f"alongside, {part['changed_train_items']} train items changed. **Stale-answer rate**: "
        "the old answer given after the update. Cost: what absorbing the update took, measured.",
        "header": ["arm", "absorbs by", "accuracy on changed", "stale-answer rate",
                   "accuracy on unchanged", "cost"],
        "rows": rows,
        "notes": [],
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# the decision


def annotate(payload: dict, task: str, verdict: dict) -> dict:
    """The verdict with the drills' measurements that bear on it, each with its CI, as reasons,
    and what would flip it."""
    parts = _parts(payload, task)
    pick = verdict.get("recommended")
    if not parts or not pick:
        return verdict
    family = _family(payload, task, pick)
    notes = _known_notes(parts.get("known"), family)
    notes += _counterfactual_notes(parts.get("counterfactual"), family)
    update_notes, flips = _update_notes(parts.get("update"), family)
    notes += update_notes
    verdict["reasons"] = list(verdict.get("reasons") or []) + notes
    verdict["would_change"] = list(verdict.get("would_change") or []) + flips
    return verdict


def _family(payload: dict, task: str, arm: str) -> str:
    run = next((r for r in payload["runs"] if r["task"] == task and r["arm"] == arm), {})
    return run.get("family") or arm


def _known_notes(part: dict | None, pick: str) -> list[str]:
    if not part or _problem(part):
        return []
    out = []
    for arm, cats in part["arms"].items():
        for cat in KNOWN_CATEGORIES:
            c = (cats.get(cat) or {}).get("versus_base")
            if c and c["ci_high"] < 0:
                who = "the recommended arm" if arm == pick else "it"
                out.append(
                    f"`{arm}` loses facts the base model knew: {c['delta']:+.2f} on {cat} items "
                    f"(n={cats[cat]['n']}, 95% CI {c['ci_low']:+.2f} to {c['ci_high']:+.2f}); "
                    f"{who} answers them worse than the untouched model"
                )
    return out


def _counterfactual_notes(part: dict | None, pick: str) -> list[str]:
    if not part or _problem(part):
        return []
    out = []
    ref = part.get("reference")
    for arm, e in part["arms"].items():
        ctx, over = e["rates"]["context"], e["rates"]["parametric"]
        paired = (e.get("versus_rag") or {}).get("context")
        if arm == pick or (paired and paired["ci_high"] < 0):
            text = (
                f"`{arm}` follows a passage that contradicts its weights on {_ci(ctx)} of "
                f"{ctx['n']} items and overrides it with the original answer on {_ci(over)}"
            )
            if paired:
                text += f" ({_delta(paired)} against `{ref}`)"
            out.append(text)
    return out


def _update_notes(part: dict | None, pick: str) -> tuple[list[str], list[str]]:
    if not part or _problem(part):
        return [], []
    notes, flips = [], []
    for arm, e in part["arms"].items():
        stale = e["stale_answer_rate"]
        if e["mode"] == "stale" and stale.get("value") is not None and stale["ci_low"] > 0:
            notes.append(
                f"`{arm}` goes stale: after the update it still gives the old answer on "
                f"{_ci(stale)} of {stale['n']} changed items until it is retrained"
            )
            if arm.split(" ")[0] == pick:
                flips.append(
                    f"knowledge that changes between retrainings (`{arm}` stale on {_ci(stale)} "
                    "of changed facts in the update drill) favours an arm that re-indexes"
                )
        if arm == pick and e["mode"] == "updated":
            notes.append(
                f"`{arm}` after the update: {_ci(e['changed_accuracy'])} right on the changed "
                f"items, cost {(e.get('cost') or {}).get('kind')}"
            )
    return notes, flips


def tie_break_spec(payload: dict, spec: dict) -> dict:
    """`decision.knowledge_changes_often` from measurement: when the suite states knowledge
    updates per month and the update drill ran, facts change often enough to matter exactly
    when some weight-changing arm measurably goes stale (its stale-answer rate's CI above 0)."""
    usage = (payload.get("suite_spec") or {}).get("usage") or {}
    if not usage.get("knowledge_updates_per_month"):
        return spec
    measured: list[Any] = []
    for parts in (payload.get("knowledge") or {}).values():
        arms = ((parts or {}).get("update") or {}).get("arms") or {}
        measured += [e for e in arms.values() if e.get("mode") == "stale"]
    if not measured:
        return spec
    stale = any((e["stale_answer_rate"].get("ci_low") or 0) > 0 for e in measured)
    return dict(spec) | {"knowledge_changes_often": stale, "knowledge_measured": True}
