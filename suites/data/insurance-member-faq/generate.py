"""Writes the member-FAQ task: questions whose gold answers are whole handbook paragraphs.

The long-answer counterpart of insurance-policy-qa, shaped like a real FAQ: train holds one
canonical question per handbook section (the FAQ's own question), dev and eval hold paraphrases
of it (how members really ask), and the gold answer is the section's text. Deterministic: rerun
it to regenerate the committed files from ../insurance-policy-qa/handbook.jsonl.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
HANDBOOK = HERE.parent / "insurance-policy-qa" / "handbook.jsonl"

# (canonical question, paraphrase, paraphrase, paraphrase) per kind of product section.
SECTION_QUESTIONS = {
    "overview": (
        "What is {p}?",
        "Can you give me an overview of {p}?",
        "What kind of insurance is {p}, and who is it meant for?",
        "Tell me about the {p} policy.",
    ),
    "cover": (
        "What are the cover limits and the deductible of {p}?",
        "How much will {p} pay out at most, and how much do I pay myself?",
        "What does {p} cover, and up to what amounts?",
        "Is there an excess or a waiting period on {p}?",
    ),
    "exclusions": (
        "What is not covered by {p}?",
        "What does {p} exclude?",
        "Which situations will {p} not pay for?",
        "Are there things my {p} policy will never cover?",
    ),
    "claims": (
        "How do I make a claim under {p}?",
        "What is the claims process for {p}?",
        "I need to claim on my {p} policy: what do I have to do?",
        "How and by when do I report a claim on {p}?",
    ),
    "premiums": (
        "How do premiums, discounts and cancelling work for {p}?",
        "Can I get a discount on {p}, and how do I cancel it?",
        "How is {p} priced, and what happens if I cancel?",
        "What will {p} cost me, and can I get money back if I stop it?",
    ),
}
GENERAL_QUESTIONS = {
    "bm-about": (
        "What is Brindlecombe Mutual?",
        "Who owns Brindlecombe Mutual, and what happens to its surplus?",
        "How is this handbook organised?",
        "What sort of company is Brindlecombe Mutual?",
    ),
    "bm-paying-premiums": (
        "How can I pay my premiums?",
        "Which payment methods does Brindlecombe Mutual accept for premiums?",
        "What happens if I miss a premium payment?",
        "Can I pay monthly instead of yearly?",
    ),
    "bm-complaints": (
        "How do I make a complaint?",
        "I am unhappy with how my claim was handled: who do I complain to?",
        "What is the complaints procedure, and how long does it take?",
        "Where can I escalate a complaint?",
    ),
    "bm-fraud": (
        "What happens if a claim is fraudulent?",
        "What does Brindlecombe Mutual do about false or exaggerated claims?",
        "Can my policy be cancelled if I lie on a claim?",
        "How are fraudulent claims treated?",
    ),
    "bm-glossary": (
        "What do the terms used in the handbook mean?",
        "Can you explain the handbook's terms, such as deductible?",
        "Where are the words used in the policies defined?",
        "What is meant by the terms in this handbook?",
    ),
    "bm-changes-and-renewals": (
        "How do changes and renewals work?",
        "Can I change my policy in the middle of the year?",
        "What happens when my policy comes up for renewal?",
        "How do I update my details or renew my cover?",
    ),
}


def product_and_kind(doc: dict) -> tuple[str, str]:
    kind = doc["id"].rsplit("-", 1)[1]
    title = doc["title"]
    product = title.split(" at a glance")[0] if kind == "overview" else title.split(":")[0]
    return product, kind


def main() -> None:
    docs = [json.loads(line) for line in HANDBOOK.read_text(encoding="utf-8").splitlines()]
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "eval": []}
    for doc in docs:
        if doc["id"] in GENERAL_QUESTIONS:
            questions = GENERAL_QUESTIONS[doc["id"]]
        else:
            product, kind = product_and_kind(doc)
            questions = tuple(q.format(p=product) for q in SECTION_QUESTIONS[kind])
        for split, question, n in (
            ("train", questions[0], 0),
            ("dev", questions[1], 1),
            ("eval", questions[2], 2),
            ("eval", questions[3], 3),
        ):
            splits[split].append(
                {
                    "id": f"faq-{split}-{doc['id'][3:]}-{n}",
                    "question": question,
                    "answers": [doc["text"]],
                    "doc_id": doc["id"],
                }
            )
    for split, rows in splits.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (HERE / f"{split}.jsonl").write_text(text, encoding="utf-8")
        print(f"{split}: {len(rows)} items")


if __name__ == "__main__":
    main()
