"""Generate the labelled hallucination set judges are measured on (`adaptbench judge-check`).

Built from the insurance-policy-qa suite: every answerable eval item with a gold document gives
four answers, each with that document as its passage and a label:

- right:              the gold answer as the suite's arms give it (a short answer);
- right_paraphrase:   the gold answer in a sentence of other words;
- swapped:            the short answer with its fact (amount, period, percentage, form, code or
                      name) replaced by a fact of the same kind from another item of the suite,
                      one the passage does not contain;
- swapped_paraphrase: the same sentence as right_paraphrase, with the swapped fact.

The first two are labelled `hallucinated: false`, the last two `true`. A right answer and its
swapped twin differ only in the fact, so a detector is measured on the fact, not the wording.
Outputs `policy-qa-labels.jsonl` next to this file. Deterministic (fixed seed, sorted inputs):
run from anywhere with  python3 suites/data/judge-labels/generate.py
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20261203
HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "insurance-policy-qa"
OUT = HERE / "policy-qa-labels.jsonl"
# Sentences that state a fact in other words than the handbook's ({v}: the fact).
PARAPHRASES = (
    "The answer is {v}.",
    "It is {v}, as the policy states.",
    "According to the handbook, {v}.",
    "That would be {v} under this policy.",
)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def fact_kind(value: str) -> str:
    """What kind of fact an answer is; only facts of one kind are swapped for each other."""
    if value.startswith("$"):
        return "amount"
    if value.endswith("%"):
        return "percentage"
    if re.fullmatch(r"\d+ [a-z ]+", value):
        return "period:" + re.sub(r"\d+ ", "", value)  # "days", "business days", "years"
    if value.startswith("Form "):
        return "form"
    if re.fullmatch(r"[A-Z]{2}-\d{4}", value):
        return "code"
    return "name"


def squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def swap_for(value: str, passage: str, pool: list[str], rng: random.Random) -> str:
    """Another fact of the same kind, absent from the passage (in any spelling)."""
    kind, text = fact_kind(value), squash(passage)
    options = sorted(
        {v for v in pool if fact_kind(v) == kind and squash(v) != squash(value)}
        - {v for v in pool if squash(v) in text}
    )
    if not options:
        raise SystemExit(f"no fact of kind {kind} to swap for {value!r}")
    return rng.choice(options)


def build() -> list[dict]:
    docs = {d["id"]: d["text"] for d in read_jsonl(SOURCE / "handbook.jsonl")}
    items = [
        i
        for i in read_jsonl(SOURCE / "eval.jsonl")
        if i.get("answerable", True) and i["answers"] and i.get("doc_id") in docs
    ]
    items.sort(key=lambda i: i["id"])
    pool = sorted({i["answers"][0] for i in items})
    rng = random.Random(SEED)
    rows = []
    for n, item in enumerate(items):
        gold, passage = item["answers"][0], docs[item["doc_id"]]
        wrong = swap_for(gold, passage, pool, rng)
        sentence = PARAPHRASES[n % len(PARAPHRASES)]
        answers = {
            "right": (gold, False),
            "right_paraphrase": (sentence.format(v=gold), False),
            "swapped": (wrong, True),
            "swapped_paraphrase": (sentence.format(v=wrong), True),
        }
        for kind, (answer, hallucinated) in answers.items():
            rows.append(
                {
                    "id": f"{item['id']}:{kind}",
                    "item": item["id"],
                    "kind": kind,
                    "question": item["question"],
                    "gold": item["answers"],
                    "passages": [passage],
                    "answer": answer,
                    "hallucinated": hallucinated,
                    "swapped": {"from": gold, "to": wrong} if hallucinated else None,
                }
            )
    return rows


def main() -> None:
    rows = build()
    OUT.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    # Self-check: every swapped fact is absent from its passage, every right one present.
    for r in rows:
        present = squash(r["answer"] if r["kind"] == "right" else "") in squash(r["passages"][0])
        assert r["kind"] != "right" or present, r["id"]
        if r["swapped"]:
            assert squash(r["swapped"]["to"]) not in squash(r["passages"][0]), r["id"]
    print(f"wrote {len(rows)} labelled answers ({len(rows) // 4} items x 4) to {OUT}")


if __name__ == "__main__":
    main()
