"""lm-eval's HF model with adaptbench's log-likelihood scoring underneath.

lm-eval runs every (context, choice) pair as its own sequence, so a 4-choice question computes
its context 4 times. `SharedContextHFLM` keeps lm-eval's tokenisation (`_encode_pair`, BOS and
empty-context handling, left truncation to `max_length`) and hands the token ids to
`HFBackend.loglikelihood_tokens`, which computes each distinct context once.
"""

from __future__ import annotations

from lm_eval.models.huggingface import HFLM


class SharedContextHFLM(HFLM):
    def __init__(self, *args, scorer, **kwargs):
        super().__init__(*args, **kwargs)
        self.scorer = scorer  # an HFBackend (loglikelihood_tokens)

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        rows = []
        for _, ctx, cont in requests:
            keep = self.max_length + 1 - len(cont)  # lm-eval keeps the last max_length + 1 ids
            rows.append((list(ctx)[-keep:] if len(ctx) > keep else list(ctx), list(cont)))
        answers = self.scorer.loglikelihood_tokens(rows)
        for (request, _, _), answer in zip(requests, answers):
            if request is not None:
                self.cache_hook.add_partial("loglikelihood", request, answer)
        return answers
