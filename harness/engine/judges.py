"""Model judges: answer correctness against the gold answers, and claim-level groundedness
against the retrieved passages, asked of any backend with a versioned rubric.

Rules: decoding is greedy (every backend's `generate` is); a verdict is the first verdict word
of the reply's first line (correctness: CORRECT or INCORRECT; a claim: SUPPORTED,
CONTRADICTED or NOT_FOUND; a negated one, "not correct", "not supported", "unsupported", is the
negative verdict); a reply holding none is counted as unparsed and taken as the
negative verdict (INCORRECT, NOT_FOUND), so a judge that cannot follow the rubric scores low and
says so. Repeat r shows the rubric's solved examples in its own order (repeat 0 as shipped,
later ones shuffled with seed (suite seed, r)), which is what makes repeats differ under greedy
decoding; their agreement is Fleiss' kappa over the verdicts and the per-item spread of scores.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.common.agreement import fleiss_kappa
from harness.metrics import Prediction
from harness.metrics.claims import split_claims
from harness.spec import judge as judge_spec

KINDS = ("correctness", "groundedness")
VERDICTS = {
    "correctness": ("CORRECT", "INCORRECT"),
    "groundedness": ("SUPPORTED", "CONTRADICTED", "NOT_FOUND"),
}
# A negated verdict word is read as the negative verdict ("not correct", "not supported").
_WORD = {
    "correctness": re.compile(r"\b(incorrect|not correct|correct)\b", re.IGNORECASE),
    "groundedness": re.compile(
        r"\b(not[ _-]?supported|unsupported|supported|contradicted|not[ _-]?found)\b",
        re.IGNORECASE,
    ),
}
_NEGATED = {"NOT_CORRECT": "INCORRECT", "NOT_SUPPORTED": "NOT_FOUND", "UNSUPPORTED": "NOT_FOUND"}


class RubricError(ValueError):
    """A rubric folder that is missing a file or holds one that does not parse."""


@dataclass(frozen=True)
class Rubric:
    version: str
    templates: dict[str, str]  # kind -> prompt template
    examples: dict[str, list[dict]]  # kind -> solved examples
    digest: str  # content hash of the folder's files: part of a judged score's key


def load_rubric(version: str) -> Rubric:
    shipped = judge_spec.RUBRICS_DIR / version
    folder = shipped if shipped.is_dir() else Path(version)  # else the user's own folder
    h = hashlib.sha256()
    templates = {}
    for kind in KINDS:
        path = folder / f"{kind}.txt"
        try:
            templates[kind] = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RubricError(f"{path}: rubric file unreadable ({exc})") from None
        h.update(kind.encode() + templates[kind].encode())
    path = folder / "examples.json"
    try:
        text = path.read_text(encoding="utf-8")
        examples = json.loads(text)
    except (OSError, ValueError) as exc:
        raise RubricError(f"{path}: rubric examples unreadable ({exc})") from None
    h.update(text.encode())
    return Rubric(version, templates, examples, h.hexdigest()[:16])


@dataclass
class JudgeUsage:
    """What judging cost, apart from the arm's own generation."""

    prompts: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    unparsed: int = 0

    def as_dict(self) -> dict:
        return {
            "prompts": self.prompts,
            "prompt_tokens": self.prompt_tokens,
            "new_tokens": self.new_tokens,
            "seconds": round(self.seconds, 4),
            "unparsed": self.unparsed,
        }


@dataclass
class Judge:
    """One judge model on a backend, with its rubric, repeats and seed."""

    backend: object
    rubric: Rubric
    repeats: int = 1
    seed: int = 0
    max_new_tokens: int = 16
    usage: JudgeUsage = field(default_factory=JudgeUsage)

    def examples(self, kind: str, repeat: int) -> str:
        shots = list(self.rubric.examples.get(kind, []))
        if repeat > 0 and len(shots) > 1:
            order = np.random.default_rng([self.seed, repeat]).permutation(len(shots))
            shots = [shots[i] for i in order]
        template = self.rubric.templates[kind].split("{examples}", 1)[1]
        return "".join(
            template.format(**_example_fields(kind, s)).rstrip() + " " + s["verdict"] + "\n\n"
            for s in shots
        )

    def ask(self, kind: str, fields: list[dict], repeat: int) -> list[str]:
        """One verdict per prompt's fields (see the module's parsing rule)."""
        if not fields:
            return []
        shots = self.examples(kind, repeat)
        prompts = [
            self.backend.format_chat(
                [
                    {
                        "role": "user",
                        "content": self.rubric.templates[kind].format(examples=shots, **f),
                    }
                ]
            )
            for f in fields
        ]
        start = time.perf_counter()
        gens = self.backend.generate(prompts, self.max_new_tokens, ["\n"])
        self.usage.seconds += time.perf_counter() - start
        self.usage.prompts += len(prompts)
        self.usage.prompt_tokens += sum(g.prompt_tokens for g in gens)
        self.usage.new_tokens += sum(g.new_tokens for g in gens)
        verdicts = [parse_verdict(kind, g.text) for g in gens]
        self.usage.unparsed += sum(v is None for v in verdicts)
        negative = VERDICTS[kind][1] if kind == "correctness" else "NOT_FOUND"
        return [v or negative for v in verdicts]


def _example_fields(kind: str, shot: dict) -> dict:
    if kind == "correctness":
        return {"question": shot["question"], "gold": shot["gold"], "answer": shot["answer"]}
    return {"passages": shot["passages"], "claim": shot["claim"]}


def parse_verdict(kind: str, text: str) -> str | None:
    line = text.strip().splitlines()[0] if text.strip() else ""
    match = _WORD[kind].search(line)
    if match is None:
        return None
    word = match.group(1).upper().replace(" ", "_").replace("-", "_")
    if word.startswith("NOTFOUND") or word == "NOT_FOUND":
        return "NOT_FOUND"
    return _NEGATED.get(word.replace("NOTSUPPORTED", "NOT_SUPPORTED"), word)


def judge_correctness(
    judge: Judge, questions: list[str], golds: list[list[str]], answers: list[str]
) -> tuple[list[dict], dict]:
    """Per answer: its score (share of CORRECT over repeats) with a reason; and the repeats'
    agreement."""
    fields = [
        {"question": q, "gold": " | ".join(g) or "(none)", "answer": a}
        for q, g, a in zip(questions, golds, answers)
    ]
    per_repeat = [judge.ask("correctness", fields, r) for r in range(judge.repeats)]
    verdicts = [list(v) for v in zip(*per_repeat)] if fields else []
    scores = [[float(v == "CORRECT") for v in vs] for vs in verdicts]
    out = [
        {"value": float(np.mean(s)), "verdicts": vs, "reason": f"judge: {', '.join(vs)}"}
        for s, vs in zip(scores, verdicts)
    ]
    return out, agreement(verdicts, scores)


def judge_groundedness(
    judge: Judge, passages: list[str], answers: list[str]
) -> tuple[list[dict], dict]:
    """Per answer: the supported and contradicted shares of its claims (means over repeats);
    and the repeats' agreement over claim verdicts."""
    claims = [split_claims(a) for a in answers]
    fields = [{"passages": p, "claim": c} for p, cs in zip(passages, claims) for c in cs]
    per_repeat = [judge.ask("groundedness", fields, r) for r in range(judge.repeats)]
    claim_verdicts = [list(v) for v in zip(*per_repeat)] if fields else []
    out, item_scores, at = [], [], 0
    for cs in claims:
        mine, at = claim_verdicts[at : at + len(cs)], at + len(cs)
        if not cs:
            out.append(
                {
                    "supported": 0.0,
                    "contradicted": 0.0,
                    "claims": 0,
                    "reason": "no claim (no sentence with a content word)",
                }
            )
            item_scores.append([0.0] * judge.repeats)
            continue
        supported = [np.mean([v[r] == "SUPPORTED" for v in mine]) for r in range(judge.repeats)]
        contradicted = [
            np.mean([v[r] == "CONTRADICTED" for v in mine]) for r in range(judge.repeats)
        ]
        counts = {
            w: sum(v.count(w) for v in mine) / judge.repeats for w in VERDICTS["groundedness"]
        }
        out.append(
            {
                "supported": float(np.mean(supported)),
                "contradicted": float(np.mean(contradicted)),
                "claims": len(cs),
                "verdicts": mine,
                "reason": f"{len(cs)} claim(s): "
                + ", ".join(f"{k.lower()} {v:g}" for k, v in counts.items() if v),
            }
        )
        item_scores.append([float(s) for s in supported])
    return out, agreement(claim_verdicts, item_scores)


def agreement(verdicts: list[list[str]], item_scores: list[list[float]]) -> dict:
    """How far a judge's repeats agree: Fleiss' kappa over the verdicts, the mean and largest
    per-item spread (max - min over repeats) of the scores, and the share of unanimous verdicts."""
    repeats = len(verdicts[0]) if verdicts else 0
    if repeats < 2:
        return {"repeats": repeats, "fleiss_kappa": None, "spread_mean": None, "unanimous": None}
    spreads = [max(s) - min(s) for s in item_scores if s]
    return {
        "repeats": repeats,
        "fleiss_kappa": fleiss_kappa(verdicts),
        "spread_mean": float(np.mean(spreads)) if spreads else None,
        "spread_max": float(max(spreads)) if spreads else None,
        "unanimous": float(np.mean([len(set(v)) == 1 for v in verdicts])),
        "subjects": len(verdicts),
    }


def passages_of(pred: Prediction) -> str:
    """The passages an answer is checked against, numbered as the arm saw them."""
    return "\n".join(f"[{i}] {p}" for i, p in enumerate(pred.extra.get("passages", []), 1))
