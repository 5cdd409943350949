"""Continuous batching for greedy generation, over the model's own KV cache.

Static batching runs a batch until its longest row ends: finished rows keep being computed and
the next batch waits. Here a finished row leaves the batch at once and waiting prompts take the
free places, prefilled together in groups of similar length. The prefix that every prompt shares
(system prompt, instruction, shots that are the same for every item) is computed once and its
keys and values copied into each new row.

Why our own scheduler and not transformers' `generate_batch` (paged attention): it ends a
row only at end-of-sequence or `max_new_tokens`, with no stop strings, so a row whose answer
ended at its stop string (a newline, for short answers) would keep being computed, which is the
waste this module removes; and it runs its own thread and block allocator sized from device
memory, while here a plain `DynamicCache` works wherever the model's `generate` does.

Layout: every row of the cache is [shared prefix | left padding | own prompt | generated],
masked where padded, with explicit position ids, so a row's keys and values are the ones it
would have alone. Rows of different lengths are joined by padding on the left.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

MIN_SHARED_PREFIX = 16  # tokens; a shorter prefix saves less than its own extra forward costs

# Generation-config fields that add a logits processor to `model.generate`: this loop takes
# the plain argmax, so a model configured with any of them is generated the static way.
_PROCESSOR_FIELDS = {
    "repetition_penalty": (None, 1.0),
    "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
    "exponential_decay_length_penalty": (None,),
}


# Prompt tokens one prefill forward takes (at least one prompt): a CPU prefills long padded
# prompts faster in small groups than all at once (benchmarks/results/bench_generate.json).
PREFILL_TOKENS = 2048


def supported(model) -> str | None:
    """None where continuous batching gives `generate`'s greedy outputs, else the reason not."""
    if getattr(model.config, "is_encoder_decoder", False):
        return "encoder-decoder model"
    gc = model.generation_config
    for name, neutral in _PROCESSOR_FIELDS.items():
        value = getattr(gc, name, None)
        if value not in neutral and value != []:
            return f"generation_config.{name} is set"
    text_config = model.config.get_text_config(decoder=True)
    try:
        cache = DynamicCache(config=text_config)
    except Exception as exc:  # a config the default cache cannot describe
        return f"no default dynamic cache ({type(exc).__name__})"
    # Sliding-window layers count cache columns, and our rows hold padding columns mid-row.
    if any(type(layer) is not DynamicLayer for layer in cache.layers):
        return "the model's cache has non-full-attention layers"
    supports = getattr(model, "_supports_default_dynamic_cache", None)
    if callable(supports) and not supports():
        return "the model does not use a dynamic cache"
    return None


def shared_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Tokens every row starts with, leaving each row at least one own token (whose logits
    give its first answer token); 0 when shorter than `MIN_SHARED_PREFIX` or fewer than 2 rows."""
    if len(rows) < 2:
        return 0
    first = rows[0]
    n = min(len(r) for r in rows) - 1
    for row in rows[1:]:
        i = 0
        while i < n and row[i] == first[i]:
            i += 1
        n = i
        if n < MIN_SHARED_PREFIX:
            return 0
    return n if n >= MIN_SHARED_PREFIX else 0


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def prefix_sharing(rows: Sequence[Sequence[int]]) -> dict[str, int]:
    """Prompt tokens to compute three ways: every prompt whole (`tokens`), the prefix common to
    all computed once as `ContinuousGenerator` does (`common_prefix_cost`), and every shared
    prefix computed once, as a prefix tree (radix) cache would (`trie_tokens`). Each row keeps
    at least its last token (whose logits give its first answer token)."""
    total = sum(len(r) for r in rows)
    common = shared_prefix(rows)
    trie, previous = 0, ()
    for row in sorted(tuple(r) for r in rows):
        trie += len(row) - min(_common_length(row, previous), len(row) - 1)
        previous = row
    return {
        "prompts": len(rows),
        "tokens": total,
        "common_prefix": common,
        "common_prefix_cost": total - common * max(len(rows) - 1, 0),
        "trie_tokens": trie,
    }


def cache_kwarg(model) -> str:
    """The forward's name for the KV cache: `cache` in newer transformers 5 releases (which
    deprecate `past_key_values`), `past_key_values` before."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        params = inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def forward(model, cache: DynamicCache, **inputs):
    """One forward that reads and extends `cache` in place."""
    return model(**inputs, **{cache_kwarg(model): cache}, use_cache=True)


# Columns a cache layer allocates past what it holds. `DynamicLayer` appends a decode step's
# keys and values with `torch.cat`, a copy of the whole cache at every step of every layer.
# With spare columns a step writes one column in place, and the cache is copied only when it
# outgrows them (benchmarks/results/bench_kv_cache.json: decode 1.05-1.10x on a 2-core CPU).
SPARE_COLUMNS = 64


class GrowingLayer(DynamicLayer):
    """A `DynamicLayer` whose `keys` and `values` are views of buffers with spare rows and
    columns: a decode step writes its column in place, rows that join are written into spare
    rows, and rows that leave are replaced by moving only the rows behind them.

    Code that replaces `keys`/`values` itself needs no care: the next operation sees that they
    are no longer this layer's views and copies them into new buffers."""

    def __init__(self, reserve: int = 0, rows: int = 0):
        super().__init__()
        self.reserve = reserve  # columns to allocate at the first allocation, at least
        self.row_capacity = rows  # rows to allocate, at least
        self._buffers: tuple[torch.Tensor, torch.Tensor] | None = None
        self._views: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)
        self._start = 0  # buffer column of the views' first column

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        rows, held, new = key_states.shape[0], self.get_seq_length(), key_states.shape[-2]
        if not self._own() or self._start + held + new > self._buffers[0].shape[2]:
            self._reallocate(rows, held, key_states, value_states, extra=new)
        at = self._start + held
        for buffer, states in zip(self._buffers, (key_states, value_states)):
            buffer[:rows, :, at : at + new] = states
        self._set_views(rows, self._start, held + new)
        return self.keys, self.values

    def join(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Append rows, right-aligned with the held ones (zeros where either is shorter)."""
        rows, held, n = self.keys.shape[0], self.get_seq_length(), keys.shape[0]
        width = max(held, keys.shape[2])
        if not self._own() or held < width or rows + n > self._buffers[0].shape[0]:
            self._reallocate(rows + n, width, keys, values)
        end = self._start + width
        for buffer, states in zip(self._buffers, (keys, values)):
            buffer[rows : rows + n, :, self._start : end - states.shape[2]] = 0
            buffer[rows : rows + n, :, end - states.shape[2] : end] = states
        self._set_views(rows + n, self._start, width)

    def select(self, order: list[int], first: int) -> None:
        """Keep the rows `order` (new row j is old row order[j]) without their first `first`
        columns. A row that changes place must move into a dropped row's place (`compaction`)."""
        held = self.get_seq_length()
        if not self._own():
            self._reallocate(self.keys.shape[0], held, self.keys, self.values)
        moves = [(j, i) for j, i in enumerate(order) if i != j]
        lo, hi = self._start + first, self._start + held
        if moves:
            device = self._buffers[0].device
            to = torch.tensor([j for j, _ in moves], device=device)
            src = torch.tensor([i for _, i in moves], device=device)
            for buffer in self._buffers:
                buffer[to, :, lo:hi] = buffer[src, :, lo:hi]
        self._set_views(len(order), lo, held - first)

    def _own(self) -> bool:
        return (
            self._buffers is not None
            and self.keys is self._views[0]
            and self.values is self._views[1]
        )

    def _set_views(self, rows: int, start: int, columns: int) -> None:
        self._start = start
        self.keys = self._buffers[0][:rows, :, start : start + columns]
        self.values = self._buffers[1][:rows, :, start : start + columns]
        self._views = (self.keys, self.values)

    def _reallocate(self, rows: int, width: int, key_like, value_like, extra: int = 0) -> None:
        """New buffers for `rows` rows and `width + extra` columns plus spares; the held rows
        are copied in right-aligned at `width`, zeros on their left."""
        held = self.get_seq_length()
        have = self.keys.shape[0] if held else 0
        columns = max(self.reserve, width + extra + SPARE_COLUMNS)
        self.reserve = 0
        buffers = []
        for old, like in ((self.keys, key_like), (self.values, value_like)):
            shape = (max(self.row_capacity, rows), like.shape[1], columns, like.shape[3])
            buffer = like.new_empty(shape)
            if held:
                buffer[:have, :, : width - held] = 0
                buffer[:have, :, width - held : width] = old
            buffers.append(buffer)
        self._buffers = (buffers[0], buffers[1])
        self._set_views(have, 0, width if held else 0)


def compaction(keep: list[int]) -> list[int]:
    """The row order after dropping all rows but `keep` (ascending): a kept row already among
    the first len(keep) places stays, and each kept row beyond them moves into a dropped row's
    place, so only those are copied."""
    n = len(keep)
    kept = set(keep)
    holes = [j for j in range(n) if j not in kept]
    movers = [i for i in keep if i >= n]
    order = list(range(n))
    for hole, i in zip(holes, movers):
        order[hole] = i
    return order


class GrowingCache(DynamicCache):
    """A `DynamicCache` of `GrowingLayer`s, optionally filled with `layers` (keys, values), with
    room for `reserve` columns and `rows` rows per layer before its first copy."""

    def __init__(
        self,
        layers: Sequence[tuple[torch.Tensor, torch.Tensor]] = (),
        reserve: int = 0,
        rows: int = 0,
    ):
        super().__init__()
        self.layer_class_to_replicate = lambda: GrowingLayer(reserve, rows)
        for keys, values in layers:
            layer = GrowingLayer(reserve, rows)
            layer.update(keys, values)
            self.layers.append(layer)


def cache_of(layers: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> DynamicCache:
    return GrowingCache(layers)


def layers_of(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def left_pad_ids(
    rows: Sequence[Sequence[int]], pad_id: int, device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(list(r))
            mask[i, width - len(r) :] = 1
    return ids.to(device), mask.to(device)


@dataclass
class Stats:
    """Where a generation's work went, for the benchmark's time split (tokens are row-steps)."""

    prefill_seconds: float = 0.0
    prefill_tokens: int = 0  # prompt tokens computed (the shared prefix once)
    prefill_padding: int = 0  # padding positions computed in prefill
    prefix_tokens_saved: int = 0  # shared-prefix tokens not recomputed
    decode_seconds: float = 0.0
    decode_tokens: int = 0  # rows computed in decode steps (here every one is a live row)
    forwards: int = 0


@dataclass
class _Batch:
    """The running rows: their prompt index, tokens so far, admission time, cache and mask."""

    rows: list[int]
    tokens: list[list[int]]
    started: list[float]
    cache: DynamicCache  # its layers' tensors are replaced in place when rows join or leave
    mask: torch.Tensor  # [rows, cache width] 1 where the column holds a real token
    positions: torch.Tensor  # [rows] position id of each row's next input token
    stats: Stats = field(default_factory=Stats)

    def join(self, other: _Batch) -> None:
        width = max(self.mask.shape[1], other.mask.shape[1])
        for layer, new in zip(self.cache.layers, other.cache.layers):
            layer.join(new.keys, new.values)
        self.mask = torch.cat([_pad_left(self.mask, width), _pad_left(other.mask, width)])
        self.positions = torch.cat([self.positions, other.positions])
        self.rows += other.rows
        self.tokens += other.tokens
        self.started += other.started

    def keep(self, keep: list[int]) -> None:
        """Drop the other rows, and the leading columns that are padding in every kept row.
        The kept rows change order (`compaction`): only rows that move are copied."""
        order = compaction(keep)
        index = torch.tensor(order, device=self.mask.device)
        mask = self.mask[index]
        first = int(mask.any(0).to(torch.int8).argmax()) if keep else 0
        self.mask = mask[:, first:]
        for layer in self.cache.layers:
            layer.select(order, first)
        self.positions = self.positions[index]
        self.rows = [self.rows[i] for i in order]
        self.tokens = [self.tokens[i] for i in order]
        self.started = [self.started[i] for i in order]


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    """Zero columns on the left of dim 1 (a mask) or dim 2 (keys/values) up to `width`."""
    dim = 1 if t.dim() == 2 else 2
    missing = width - t.shape[dim]
    if missing == 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([t.new_zeros(shape), t], dim=dim)


Finished = Callable[[list[int]], bool]


class ContinuousGenerator:
    """Greedy generation of many prompts with at most `batch_size` rows running at once."""

    def __init__(
        self,
        model,
        pad_id: int,
        batch_size: int,
        reuse_prefix: bool = True,
        cache_class: type[GrowingCache] = GrowingCache,  # another only to measure against
    ):
        self.model = model
        self.pad_id = pad_id
        self.batch_size = batch_size
        self.reuse_prefix = reuse_prefix
        self.cache_class = cache_class
        self.device = model.device
        self.stats = Stats()

    @torch.inference_mode()
    def run(
        self,
        prompts: Sequence[Sequence[int]],
        finished: Finished,
        on_done: Callable[[int, list[int], float], None],
        on_step: Callable[[int], None] = lambda tokens: None,
    ) -> None:
        """Generate until `finished(tokens)` for each prompt; `on_done(index, tokens, seconds)`
        is called as each row ends (seconds: from its prefill to its last token)."""
        self.stats = Stats()
        if not prompts:
            return
        n_prefix = shared_prefix(prompts) if self.reuse_prefix else 0
        prefix = self._prefill_prefix(prompts[0][:n_prefix]) if n_prefix else None
        # Longest first, as the static path does: the largest cache is met at the start, and
        # consecutive prompts have similar lengths, so each prefill group pads little.
        waiting = deque(sorted(range(len(prompts)), key=lambda i: -len(prompts[i])))
        # A prefill is a forward of its own and a copy of the running cache when it joins, so
        # free places are refilled a quarter of the batch at a time, not one by one; each
        # prefill forward takes at most PREFILL_TOKENS prompt tokens (the rest wait their turn).
        refill_at = max(1, self.batch_size // 4)
        batch: _Batch | None = None
        while waiting or batch is not None:
            free = self.batch_size - (len(batch.rows) if batch else 0)
            if waiting and (batch is None or free >= refill_at):
                group = [waiting.popleft()]
                budget = PREFILL_TOKENS - len(prompts[group[0]])
                while waiting and len(group) < free and len(prompts[waiting[0]]) <= budget:
                    budget -= len(prompts[waiting[0]])
                    group.append(waiting.popleft())
                # The first group becomes the running batch: room for all its rows up front.
                rows = self.batch_size if batch is None else 0
                new = self._prefill(group, prompts, n_prefix, prefix, rows)
                on_step(len(group))
                if batch is None:
                    batch = new
                else:
                    batch.join(new)
            else:
                self._decode(batch)
                on_step(len(batch.rows))
            now = time.perf_counter()
            keep = []
            for i, toks in enumerate(batch.tokens):
                if finished(toks):
                    on_done(batch.rows[i], toks, now - batch.started[i])
                else:
                    keep.append(i)
            if not keep:
                batch = None
            elif len(keep) < len(batch.rows):
                batch.keep(keep)

    def _forward(self, ids, mask, positions, cache) -> tuple[torch.Tensor, DynamicCache]:
        out = forward(
            self.model,
            cache,
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            logits_to_keep=1,
        )
        self.stats.forwards += 1
        return out.logits[:, -1], cache

    def _prefill_prefix(self, prefix: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        t0 = time.perf_counter()
        ids = torch.tensor([list(prefix)], device=self.device)
        positions = torch.arange(len(prefix), device=self.device)[None]
        _, cache = self._forward(ids, torch.ones_like(ids), positions, DynamicCache())
        self.stats.prefill_seconds += time.perf_counter() - t0
        self.stats.prefill_tokens += len(prefix)
        self.stats.prefix_tokens_saved -= len(prefix)  # computed once, for all rows
        return layers_of(cache)

    def _prefill(self, group, prompts, n_prefix, prefix, rows: int) -> _Batch:
        t0 = time.perf_counter()
        own = [list(prompts[i][n_prefix:]) for i in group]
        ids, own_mask = left_pad_ids(own, self.pad_id, self.device)
        positions = n_prefix + (own_mask.cumsum(-1) - 1).clamp(min=0)
        k = len(group)
        if prefix is not None:
            cache = self.cache_class(
                [(pk.expand(k, -1, -1, -1), pv.expand(k, -1, -1, -1)) for pk, pv in prefix],
                reserve=n_prefix + ids.shape[1] + SPARE_COLUMNS,
                rows=rows,
            )
            mask = torch.cat([own_mask.new_ones((k, n_prefix)), own_mask], dim=1)
        else:
            cache, mask = self.cache_class(rows=rows), own_mask
        logits, cache = self._forward(ids, mask, positions, cache)
        first = logits.argmax(-1).tolist()
        real = int(own_mask.sum())
        self.stats.prefill_seconds += time.perf_counter() - t0
        self.stats.prefill_tokens += real
        self.stats.prefill_padding += own_mask.numel() - real
        self.stats.prefix_tokens_saved += n_prefix * k if prefix is not None else 0
        return _Batch(
            rows=list(group),
            tokens=[[t] for t in first],
            started=[t0] * k,
            cache=cache,
            mask=mask,
            positions=positions[:, -1] + 1,
        )

    def _decode(self, batch: _Batch) -> None:
        t0 = time.perf_counter()
        ids = torch.tensor([[toks[-1]] for toks in batch.tokens], device=self.device)
        batch.mask = torch.cat([batch.mask, batch.mask.new_ones((len(batch.rows), 1))], dim=1)
        logits, batch.cache = self._forward(ids, batch.mask, batch.positions[:, None], batch.cache)
        batch.positions = batch.positions + 1
        for toks, t in zip(batch.tokens, logits.argmax(-1).tolist()):
            toks.append(t)
        self.stats.decode_seconds += time.perf_counter() - t0
        self.stats.decode_tokens += len(batch.rows)
