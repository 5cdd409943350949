"""Transformers backend: length-sorted batches, left padding, greedy decoding, per-row stops."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList

from .base import Generation, Message

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class _StopOnStrings(StoppingCriteria):
    """Marks each row done once its generated text contains a stop string (rows stop independently)."""

    def __init__(self, tokenizer, stops: list[str], prompt_len: int):
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.prompt_len = prompt_len
        self.tail = 8  # tokens decoded per check; a stop string spans at most a few tokens

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
    ):
        self.name = str(path)
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        self.progress = progress and sys.stderr.isatty()
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(
            str(path), trust_remote_code=trust_remote_code
        )
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if chat_template == "on" and not has_template:
            raise ValueError(
                f"{path}: model.chat_template is 'on' but the tokenizer has no chat template"
            )
        self.use_chat = has_template if chat_template == "auto" else chat_template == "on"
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

    # ---------------------------------------------------------------- prompts

    def format_chat(self, messages: list[Message]) -> str:
        if self.use_chat:
            if self.system_prompt and messages[0]["role"] != "system":
                messages = [{"role": "system", "content": self.system_prompt}, *messages]
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        parts = [m["content"] for m in messages if m["role"] != "system" or m["content"]]
        if self.system_prompt:
            parts.insert(0, self.system_prompt)
        return "\n\n".join(parts) + ("\n" if messages[-1]["role"] == "user" else "")

    def format_training(self, messages: list[Message], answer: str) -> str:
        """The conversation with the gold answer as the assistant's turn, ended as the model ends it."""
        if self.use_chat:
            if self.system_prompt and messages[0]["role"] != "system":
                messages = [{"role": "system", "content": self.system_prompt}, *messages]
            full = [*messages, {"role": "assistant", "content": answer}]
            return self.tokenizer.apply_chat_template(full, tokenize=False)
        return self.format_chat(messages) + answer + (self.tokenizer.eos_token or "")

    def encode(self, text: str, special: bool | None = None) -> list[int]:
        """Token ids; by default special tokens are added only for plain (non-chat) prompts."""
        add = (not self.use_chat) if special is None else special
        return self.tokenizer(text, add_special_tokens=add)["input_ids"]

    def count_tokens(self, prompt: str) -> int:
        return len(self._encode([prompt])[0])

    def _encode(self, texts: list[str]) -> list[list[int]]:
        # A chat template already writes its special tokens; plain prompts get the tokenizer's own.
        return self.tokenizer(texts, add_special_tokens=not self.use_chat)["input_ids"]

    # ---------------------------------------------------------------- generation

    @torch.inference_mode()
    def generate(
        self, prompts: list[str], max_new_tokens: int, stop: list[str]
    ) -> list[Generation]:
        encoded = self._encode(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        results: list[Generation | None] = [None] * len(prompts)
        bar = tqdm(
            total=len(prompts), desc="generate", unit="item", disable=not self.progress, leave=False
        )
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
            bar.update(len(batch))
        bar.close()
        return results  # type: ignore[return-value]

    def _finish(
        self, tokens: list[int], prompt_len: int, stop: list[str], seconds: float, limit: int
    ) -> Generation:
        """Cut a row at end-of-sequence, padding or the first stop string; count only real tokens.

        A row stopped by `_StopOnStrings` is padded afterwards, so its real tokens end at the stop.
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
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            if r:
                ids[i, width - len(r) :] = torch.tensor(r)
                mask[i, width - len(r) :] = 1
        return ids.to(self.device), mask.to(self.device)

    # ---------------------------------------------------------------- log-likelihood

    @torch.inference_mode()
    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Left-padded batches; logits are computed only for the continuation positions."""
        contexts = self._encode([c for c, _ in pairs])
        fulls = self._encode([c + x for c, x in pairs])
        rows: list[tuple[list[int], int]] = []
        for (_, cont_text), ctx, full in zip(pairs, contexts, fulls):
            if full[: len(ctx)] == ctx and len(full) > len(ctx):
                rows.append((full, len(full) - len(ctx)))
            else:  # the tokenizer merged across the boundary: encode the continuation alone
                cont = self.tokenizer(cont_text, add_special_tokens=False)["input_ids"]
                if not cont:
                    raise ValueError(f"empty continuation after tokenisation: {cont_text!r}")
                rows.append((ctx + cont, len(cont)))
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i][0]))
        out = [0.0] * len(rows)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            ids, mask = self._left_pad([rows[i][0] for i in batch])
            keep = max(rows[i][1] for i in batch) + 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep
            ).logits.float()
            logprobs = torch.log_softmax(logits, dim=-1)
            for row, idx in enumerate(batch):
                tokens, n_cont = rows[idx]
                target = torch.tensor(tokens[-n_cont:], device=logprobs.device)
                lp = logprobs[row, -(n_cont + 1) : -1].gather(-1, target[:, None]).sum()
                out[idx] = float(lp)
        return out


def _as_set(value) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, (list, tuple, set)):
        return {int(v) for v in value}
    return {int(value)}
