"""A backend that loads no model: canned answers, word counts for tokens, fixed likelihoods.

Runner, report, cache and gate tests use it (fixture `fake_backend` in conftest.py) where what
the model says does not matter, only what the harness does with it: score, cache, record and
report. It implements the Backend protocol of harness/backends/base.py and is deterministic, so
the metrics of a run on it are known in advance. Arms that train or probe retention need a real
model (its weights and tokenizer) and keep the tiny in-process Llama.
"""

from __future__ import annotations

import pytest
import torch

from harness.models.backend import Generation, Message
from harness.run.context import RunContext

USER = "<user>\n"

# The tiny suite's questions (conftest.QA_ROWS) by a word of each, and what the fake says.
TINY_ANSWERS = {
    "Hearthward": "$640",  # right
    "Pawsmith": "19 days",  # right
    "Molar": "I don't know.",  # abstains on an answerable question
    "Roadwright": "RX-9999",  # wrong
    "reinstating": "$50",  # answers an unanswerable question
}


class FakeBackend:
    """Answers each prompt by the first key of `answers` found in its last user message."""

    name = "fake"
    device = "cpu"

    def __init__(self, answers: dict[str, str] | None = None, default: str = "I don't know."):
        self.answers = dict(TINY_ANSWERS if answers is None else answers)
        self.default = default
        self.model = torch.nn.Linear(8, 8)  # what parameter counts read: 72 parameters
        self.calls = {"generate": 0, "loglikelihood": 0}

    def format_chat(self, messages: list[Message]) -> str:
        return "".join(f"<{m['role']}>\n{m['content']}\n" for m in messages) + "<assistant>\n"

    def count_tokens(self, prompt: str) -> int:
        return len(prompt.split())

    def answer_for(self, prompt: str) -> str:
        question = prompt.rsplit(USER, 1)[-1]  # shots before it hold other questions
        return next((a for key, a in self.answers.items() if key in question), self.default)

    def generate(
        self, prompts: list[str], max_new_tokens: int, stop: list[str]
    ) -> list[Generation]:
        self.calls["generate"] += 1
        out = []
        for prompt in prompts:
            text, finish = self.answer_for(prompt), "eos"
            for s in stop:
                if s and s in text:
                    text, finish = text[: text.index(s)], "stop"
            words = text.split()
            if len(words) > max_new_tokens:
                words, finish = words[:max_new_tokens], "length"
            out.append(
                Generation(
                    text=" ".join(words).strip(),
                    prompt_tokens=self.count_tokens(prompt),
                    new_tokens=len(words) + (finish != "length"),
                    batch_seconds=0.001 * len(prompts),
                    finish=finish,
                )
            )
        return out

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        """0 for a continuation holding the canned answer, else minus its length in words."""
        self.calls["loglikelihood"] += 1
        return [
            0.0 if self.answer_for(ctx) in cont else -float(len(cont.split()) + 1)
            for ctx, cont in pairs
        ]


def install(fake: FakeBackend, monkeypatch: pytest.MonkeyPatch | None = None) -> None:
    """Every run context of this process answers with `fake` instead of loading its model."""
    prop = property(lambda self: fake)
    if monkeypatch is None:
        RunContext.backend = prop  # a subprocess of a test: patched for its whole life
    else:
        monkeypatch.setattr(RunContext, "backend", prop)
