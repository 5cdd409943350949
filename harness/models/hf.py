"""Transformers backend: continuous batching (or static length-sorted batches), greedy decoding,
per-row stops, log-likelihoods with each context computed once."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    StoppingCriteria,
    StoppingCriteriaList,
)

from harness.common.progress import Progress
from harness.models import continuous
from harness.models.backend import Generation, Message
from harness.models.chat import encode_prompts, render_chat, uses_chat, with_system

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class _StopOnStrings(StoppingCriteria):
    """Marks each row done once its generated text contains a stop string (rows stop independently)."""

    TAIL = 8  # tokens decoded per check; a stop string spans at most a few tokens

    def __init__(self, tokenizer, stops: list[str], prompt_len: int):
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.prompt_len = prompt_len
        self.tail = self.TAIL

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not self.stops:
            return done
        new = input_ids[:, self.prompt_len :]
        tails = self.tokenizer.batch_decode(new[:, -self.tail :], skip_special_tokens=True)
        for row, text in enumerate(tails):
            done[row] = any(s in text for s in self.stops)
        return done


class HFBackend:
    """A causal LM from a local safetensors folder, optionally with a PEFT adapter on top."""

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        dtype: str = "float32",
        batch_size: int = 32,
        chat_template: str = "auto",
        system_prompt: str | None = None,
        trust_remote_code: bool = False,
        model=None,
        tokenizer=None,
        progress: bool = True,
        scheduler: str = "continuous",
        reuse_prefix: bool = True,
    ):
        if scheduler not in ("continuous", "static"):
            raise ValueError(f"scheduler must be 'continuous' or 'static', not {scheduler!r}")
        self.name = str(path)
        self.scheduler = scheduler
        self.reuse_prefix = reuse_prefix
        self.last_stats: continuous.Stats | None = None  # the last continuous generation's
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        self.progress = progress
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(
            str(path), trust_remote_code=trust_remote_code
        )
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.use_chat = uses_chat(self.tokenizer, chat_template, str(path))
        if model is None:
            model = AutoModelForCausalLM.from_pretrained(
                str(path),
                dtype=DTYPES[dtype],
                use_safetensors=True,
                trust_remote_code=trust_remote_code,
            )
        elif getattr(model, "hf_quantizer", None) is None:
            # A model built elsewhere (a fine-tuned arm's, trained in fp32) is evaluated in the
            # dtype every other arm is: the same instrument for all. Quantised weights keep theirs.
            model = model.to(dtype=DTYPES[dtype])
        self.model = model.to(device).eval()
        gc = self.model.generation_config
        # Greedy decoding: clear sampling knobs a checkpoint may ship, so nothing warns or samples.
        gc.do_sample, gc.temperature, gc.top_p, gc.top_k = False, None, None, None
        self.eos_ids = _as_set(gc.eos_token_id) | _as_set(self.tokenizer.eos_token_id)

    def offload(self) -> None:
        """Move the weights to the CPU and free their GPU memory: on one GPU the vLLM engine
        takes its share of memory at start, so transformers copies make room for it. What
        still runs here (log-likelihoods, retention probes) then runs on the CPU."""
        if self.device == "cuda":
            self.model.to("cpu")
            self.device = "cpu"
            torch.cuda.empty_cache()

    # ---------------------------------------------------------------- prompts

    def format_chat(self, messages: list[Message]) -> str:
        return render_chat(self.tokenizer, self.use_chat, self.system_prompt, messages)

    def format_training(self, messages: list[Message], answer: str) -> str:
        """The conversation with the gold answer as the assistant's turn, ended as the model ends it."""
        if self.use_chat:
            full = [
                *with_system(messages, self.system_prompt),
                {"role": "assistant", "content": answer},
            ]
            return self.tokenizer.apply_chat_template(full, tokenize=False)
        return self.format_chat(messages) + answer + (self.tokenizer.eos_token or "")

    def encode(self, text: str, special: bool | None = None) -> list[int]:
        """Token ids; by default special tokens are added only for plain (non-chat) prompts."""
        add = (not self.use_chat) if special is None else special
        return self.tokenizer(text, add_special_tokens=add)["input_ids"]

    def count_tokens(self, prompt: str) -> int:
        return len(self._encode([prompt])[0])

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return encode_prompts(self.tokenizer, self.use_chat, texts)

    # ---------------------------------------------------------------- generation

    def generate(
        self, prompts: list[str], max_new_tokens: int, stop: list[str]
    ) -> list[Generation]:
        """Continuous batching where the model allows it (`continuous.supported`), else static
        length-sorted batches; both give `model.generate`'s greedy outputs."""
        encoded = self._encode(prompts)
        if self.scheduler == "continuous" and self.continuous_unsupported is None:
            return self._generate_continuous(encoded, max_new_tokens, stop)
        return self._generate_static(encoded, max_new_tokens, stop)

    @property
    def continuous_unsupported(self) -> str | None:
        """Why this model is generated in static batches (None: it is not)."""
        if not hasattr(self, "_continuous_reason"):
            self._continuous_reason = continuous.supported(self.model)
        return self._continuous_reason

    def _generate_continuous(
        self, encoded: list[list[int]], max_new_tokens: int, stop: list[str]
    ) -> list[Generation]:
        results: list[Generation | None] = [None] * len(encoded)
        stops = [s for s in stop if s]
        ends = self.eos_ids | {self.tokenizer.pad_token_id}
        tail = _StopOnStrings.TAIL

        def finished(tokens: list[int]) -> bool:
            # The rules of the static path: end-of-sequence (or padding, where `_finish` cuts),
            # the token limit, or a stop string in the last decoded tokens.
            if tokens[-1] in ends or len(tokens) >= max_new_tokens:
                return True
            if not stops:
                return False
            text = self.tokenizer.decode(tokens[-tail:], skip_special_tokens=True)
            return any(s in text for s in stops)

        with self._progress("generate", len(encoded)) as bar:

            def done(index: int, tokens: list[int], seconds: float) -> None:
                results[index] = self._finish(
                    tokens, len(encoded[index]), stop, seconds, max_new_tokens
                )
                bar.update(items=1)

            gen = continuous.ContinuousGenerator(self.model, self.tokenizer.pad_token_id,
                                                 self.batch_size, self.reuse_prefix)  # fmt: skip
            gen.run(encoded, finished, done, on_step=lambda n: bar.update(tokens=n))
        self.last_stats = gen.stats
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_static(
        self, encoded: list[list[int]], max_new_tokens: int, stop: list[str]
    ) -> list[Generation]:
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        results: list[Generation | None] = [None] * len(encoded)
        with self._progress("generate", len(encoded)) as bar:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                input_ids, attention = self._left_pad([encoded[i] for i in batch])
                t0 = time.perf_counter()
                out = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=attention,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id,
                    stopping_criteria=StoppingCriteriaList(
                        [_StopOnStrings(self.tokenizer, stop, input_ids.shape[1])]
                    ),
                )
                seconds = time.perf_counter() - t0
                new = out[:, input_ids.shape[1] :].tolist()
                for row, idx in enumerate(batch):
                    results[idx] = self._finish(
                        new[row], len(encoded[idx]), stop, seconds, max_new_tokens
                    )
                bar.update(items=len(batch), tokens=sum(results[i].new_tokens for i in batch))
        self.last_stats = None
        return results  # type: ignore[return-value]

    def _progress(self, what: str, total: int, unit: str = "items") -> Progress:
        return Progress(what, total, unit=unit, enabled=self.progress)

    def _finish(
        self, tokens: list[int], prompt_len: int, stop: list[str], seconds: float, limit: int
    ) -> Generation:
        """Cut a row at end-of-sequence, padding or the first stop string; count only real tokens.

        A row stopped by a stop string ends there (the static path pads it afterwards), so its
        real tokens end at the stop.
        """
        ends = self.eos_ids | {self.tokenizer.pad_token_id}
        n = next((i for i, t in enumerate(tokens) if t in ends), len(tokens))
        finish = "eos" if n < len(tokens) and tokens[n] in self.eos_ids else "length"
        n_counted = n + (finish == "eos")  # the end-of-sequence token was generated too
        text = self.tokenizer.decode(tokens[:n], skip_special_tokens=True)
        cut = min((text.find(s) for s in stop if s and s in text), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop"
        elif finish == "length" and n < limit:
            finish = (
                "stop"  # stopped by the criterion; the stop string fell outside the decoded text
            )
        return Generation(
            text=text.strip(),
            prompt_tokens=prompt_len,
            new_tokens=n_counted,
            batch_seconds=seconds,
            finish=finish,
        )

    def _left_pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return continuous.left_pad_ids(rows, self.tokenizer.pad_token_id, self.device)

    # ---------------------------------------------------------------- log-likelihood

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Each distinct context is computed once; its choices continue from its KV cache."""
        contexts = self._encode([c for c, _ in pairs])
        fulls = self._encode([c + x for c, x in pairs])
        rows: list[tuple[list[int], list[int]]] = []
        for (_, cont_text), ctx, full in zip(pairs, contexts, fulls):
            if full[: len(ctx)] == ctx and len(full) > len(ctx):
                rows.append((ctx, full[len(ctx) :]))
            else:  # the tokenizer merged across the boundary: encode the continuation alone
                cont = self.tokenizer(cont_text, add_special_tokens=False)["input_ids"]
                if not cont:
                    raise ValueError(f"empty continuation after tokenisation: {cont_text!r}")
                rows.append((ctx, cont))
        return [lp for lp, _ in self.loglikelihood_tokens(rows)]

    @torch.inference_mode()
    def loglikelihood_tokens(
        self, rows: list[tuple[list[int], list[int]]]
    ) -> list[tuple[float, bool]]:
        """(sum of log-probabilities, whether greedy decoding gives the continuation) per
        (context ids, continuation ids); contexts are batched by length, each computed once."""
        for ctx, cont in rows:
            if not ctx:
                raise ValueError("log-likelihood needs a non-empty context (e.g. a BOS token)")
            if not cont:
                raise ValueError("log-likelihood of an empty continuation")
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, _) in enumerate(rows):
            groups.setdefault(tuple(ctx), []).append(i)
        unique = sorted(groups, key=len, reverse=True)
        out: list[tuple[float, bool]] = [(0.0, False)] * len(rows)
        with self._progress("log-likelihood", len(rows)) as bar:
            for start in range(0, len(unique), self.batch_size):
                batch = unique[start : start + self.batch_size]
                ids, mask = self._left_pad([list(c) for c in batch])
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                cache = DynamicCache()
                res = continuous.forward(
                    self.model,
                    cache,
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=positions,
                    logits_to_keep=1,
                )
                first = torch.log_softmax(res.logits[:, -1].float(), dim=-1)
                members = [(r, i) for r, ctx in enumerate(batch) for i in groups[ctx]]
                for r, i in members:
                    cont = rows[i][1]
                    out[i] = (float(first[r, cont[0]]), int(first[r].argmax()) == cont[0])
                longer = sorted((m for m in members if len(rows[m[1]][1]) > 1),
                                key=lambda m: -len(rows[m[1]][1]))  # fmt: skip
                for s in range(0, len(longer), self.batch_size):
                    self._continue(longer[s : s + self.batch_size], rows, cache,
                                   mask, out)  # fmt: skip
                bar.update(items=len(members), tokens=int(mask.sum()))
        return out

    def _continue(self, chunk, rows, cache, mask, out) -> None:
        """Score continuation tokens after the first from the contexts' cache (right-padded)."""
        index = torch.tensor([r for r, _ in chunk], device=mask.device)
        conts = [rows[i][1] for _, i in chunk]
        width = max(len(c) for c in conts) - 1
        ids = torch.full((len(chunk), width), self.tokenizer.pad_token_id, dtype=torch.long)
        own = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, c in enumerate(conts):
            ids[j, : len(c) - 1] = torch.tensor(c[:-1])
            own[j, : len(c) - 1] = 1
        ids, own = ids.to(self.device), own.to(self.device)
        ctx_mask = mask[index]
        positions = ctx_mask.sum(-1, keepdim=True) + torch.arange(width, device=self.device)
        sub = continuous.cache_of([(k[index], v[index]) for k, v in continuous.layers_of(cache)])
        logits = continuous.forward(
            self.model,
            sub,
            input_ids=ids,
            attention_mask=torch.cat([ctx_mask, own], dim=1),
            position_ids=positions,
        ).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        for j, ((_, i), c) in enumerate(zip(chunk, conts)):
            target = torch.tensor(c[1:], device=logprobs.device)
            lp = logprobs[j, : len(c) - 1]
            greedy = out[i][1] and bool((lp.argmax(-1) == target).all())
            total = out[i][0] + float(lp.gather(-1, target[:, None]).double().sum())
            out[i] = (total, greedy)


def _as_set(value) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, (list, tuple, set)):
        return {int(v) for v in value}
    return {int(value)}
