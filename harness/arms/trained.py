"""What the fine-tuning arms share: train once (or reuse the cached artifact), then evaluate.

The artifact (adapter or checkpoint, safetensors) is cached under a content hash of the base
model, the train/dev items, the task's prompt format, the arm's parameters, the seed and the
training code, so a rerun with a different --limit or new metrics reuses it.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from contextlib import nullcontext
from dataclasses import asdict, replace
from pathlib import Path
from typing import ClassVar

from harness.arms.core import Arm
from harness.arms.prompting import conversation, gold_answer, wording_for
from harness.arms.train_share import share_stats, training_items
from harness.common import distributed
from harness.common.cache_entry import CacheEntry
from harness.common.fingerprint import code_fingerprint
from harness.common.itemhash import item_hash
from harness.common.locks import lock_path
from harness.common.measure import count_parameters, phase
from harness.data.fractions import nested_subset
from harness.data.tasks import Item, TaskData
from harness.engine.retrieval import Hit, embedder_key, same_document
from harness.engine.training import corpus_examples, make_rows, mfu, qa_examples, train
from harness.models.hf import HFBackend
from harness.models.resolve import cache_dir, resolve_model
from harness.spec.model import SERVING_FIELDS


class TrainedArm(Arm):
    changes_weights = True
    full_finetune: ClassVar[bool] = False  # 6N FLOPs per token when True, else 4N (adapters)

    # ---- what each arm defines
    def trainable_model(self, base_path: Path):
        raise NotImplementedError

    def save(self, model, folder: Path) -> None:
        raise NotImplementedError

    def load(self, base_path: Path, folder: Path):
        raise NotImplementedError

    def for_inference(self, model):
        return model

    @property
    def retrieves_before_prepare(self) -> bool:  # RAFT training shows passages
        return bool(self.params.train_with_retrieval)

    # ---- shared flow
    def artifact(self, task: TaskData) -> tuple[Path, Path]:
        """(base model folder, artifact folder); the artifact is complete when it holds training.json."""
        resolved = resolve_model(self.ctx.suite.model, progress=False)
        return resolved.path, cache_dir() / "artifacts" / self.artifact_key(
            task, resolved.fingerprint
        )

    def join_training(self, task: TaskData) -> None:
        """A helper process of a multi-GPU run (rank > 0): train alongside rank 0, save nothing."""
        base_path, folder = self.artifact(task)
        if _finished_stats(folder) is None:
            self._train(task, self.ctx.backend, base_path)
            distributed.barrier()  # until rank 0 saved it: the next arm may share this artifact

    def ensure_artifact(self, task: TaskData) -> dict:
        """Train and save the artifact unless a whole one is cached (a training unit of the Ray
        executor: the cells that need it load it afterwards). Returns its training stats."""
        base_path, folder = self.artifact(task)
        with _artifact_lock(folder):
            stats = _finished_stats(folder)
            if stats is not None:  # nothing to do: the base model is not even loaded
                return stats | {"artifact_cached": True}
            _, stats = self._load_or_train(task, self.ctx.backend, base_path, folder)
        return stats

    def finished_stats(self, task: TaskData) -> dict | None:
        """The training stats of this arm's artifact when a whole one is cached, else None."""
        return _finished_stats(self.artifact(task)[1])

    def prepare(self, task: TaskData) -> None:
        base = self.ctx.backend  # tokenizer, chat format, device
        base_path, folder = self.artifact(task)
        with _artifact_lock(folder):
            model, stats = self._load_or_train(task, base, base_path, folder)
        self.counts = count_parameters(model)
        stats["trainable_params"], stats["total_params"] = self.counts[1], self.counts[0]
        self.stats["training"] = stats
        self.trained = HFBackend(
            base_path,
            device=self.ctx.device,
            dtype=base.dtype,
            batch_size=base.batch_size,
            chat_template="on" if base.use_chat else "off",
            system_prompt=base.system_prompt,
            model=self.for_inference(model),
            tokenizer=base.tokenizer,
            progress=base.progress,
        )
        self.serving = None
        if self.ctx.suite.model.backend == "vllm":
            self.trained.offload()  # the engine's memory first (HFBackend.offload)
            base.offload()
            self.serving = self.on_engine(base_path, folder)
            self.serving.scorer = lambda: self.trained

    def on_engine(self, base_path: Path, folder: Path):
        """The trained weights on the vLLM engine (backend vllm): an adapter on the loaded base,
        or a checkpoint loaded as its own model."""
        raise NotImplementedError(f"{self.kind} has no vLLM path")

    def _load_or_train(self, task: TaskData, base, base_path: Path, folder: Path):
        """The cached artifact when it is whole, else a fresh training saved as one cache entry
        (harness.common.cache_entry: training.json written last)."""
        entry = _entry(folder)
        if not distributed.active():  # this process holds the artifact's lock
            entry.remove_orphans()  # left by a killed run
        stats = _finished_stats(folder)
        if stats is not None:
            return self.load(base_path, folder), stats | {"artifact_cached": True}
        model, stats = self._train(task, base, base_path)

        def fill(tmp: Path) -> None:
            self.save(model, tmp)
            stats["artifact_bytes"] = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
            (tmp / "training.json").write_text(json.dumps(stats))

        entry.write(fill)
        # The other ranks wait here for the save, so that an arm after this one that shares the
        # artifact (lora with and without a retrieval block) finds it on every rank at once.
        distributed.barrier()
        return model, stats | {"artifact_cached": False}

    def _train(self, task: TaskData, base, base_path: Path):
        p = self.params
        items = training_items(task, p.max_train_items, self.seed)  # arms.train_share
        items = nested_subset(items, p.train_fraction, self.seed)  # learning curve points
        if not items:
            raise ValueError(f"{self.kind} needs a train split in task '{task.spec.name}'")
        if p.train_with_retrieval and self.retriever is None:
            raise ValueError(
                f"{self.kind}: train_with_retrieval needs a `retrieval:` block on the arm "
                "(the passages it trains with are the ones it is evaluated with)"
            )
        conversations = self.training_conversations(task, items)
        examples = qa_examples(base, conversations, p.max_seq_len)
        too_long = len(conversations) - len(examples)
        if too_long:
            _too_long(self.kind, base, conversations, too_long, p.max_seq_len)
        if p.corpus_training:
            if not task.corpus:
                raise ValueError(f"corpus_training is on but task '{task.spec.name}' has no corpus")
            examples += corpus_examples(base, task.corpus, p.max_seq_len)
        pad = base.tokenizer.pad_token_id
        rows = make_rows(examples, p, pad)
        dev = task.splits.get("dev", [])
        dev_rows = (
            make_rows(
                qa_examples(base, self.training_conversations(task, dev), p.max_seq_len), p, pad
            )
            if dev
            else []
        )
        model = self.trainable_model(base_path).to(self.ctx.device)
        with phase("train") as ph:
            stats = train(
                model, rows, dev_rows, p, pad, self.ctx.device, self.seed, self.ctx.progress
            )
        total, _ = count_parameters(model)
        head = model.get_output_embeddings()
        stats |= share_stats(self, task, items) | {
            "examples": len(examples),
            "examples_too_long": too_long,
            "peak_memory_bytes": ph.peak_bytes,
            "memory_kind": ph.memory_kind,
            **mfu(
                stats,
                total,
                head.weight.numel() if head is not None else 0,
                self.full_finetune,
                self.ctx.device,
                bf16=stats["bf16_autocast"],
            ),
        }
        return model, stats

    def training_conversations(self, task: TaskData, items: list[Item]) -> list[tuple[list, str]]:
        """(conversation, gold answer) per item, worded as the arm asks at evaluation.

        With `train_with_retrieval` (RAFT, Zhang et al. 2024) each question shows k passages:
        with probability `raft_gold_probability` the best chunk of its gold document and k-1
        retrieved distractors, otherwise k distractors; the draw is seeded per item.
        """
        wording = wording_for(task, self.variant, self.retrieval)
        passages: list[list[Hit] | None] = [None] * len(items)
        if self.params.train_with_retrieval and self.retriever is not None:
            passages = self.raft_passages(items)
        return [
            (
                conversation(task.spec, wording, item, passages=hits, retrieval=self.retrieval),
                gold_answer(task.spec, item),
            )
            for item, hits in zip(items, passages)
        ]

    def raft_passages(self, items: list[Item]) -> list[list[Hit]]:
        k = self.retrieval.k
        found, _ = self.retriever.search(
            [i.question for i in items], min(2 * k, len(self.retriever.chunks))
        )
        out, with_gold = [], 0
        for item, hits in zip(items, found):
            distractors = [
                h for h in hits if not any(same_document(h.doc_id, d) for d in item.doc_ids)
            ]
            gold = self.retriever.gold_hits(item.question, item.doc_ids, 1) if item.doc_ids else []
            digest = hashlib.sha256(f"raft:{self.seed}:{item.id}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            if gold and rng.random() < self.params.raft_gold_probability:
                chosen = distractors[: k - 1]
                chosen.insert(rng.randrange(len(chosen) + 1), gold[0])
                with_gold += 1
            else:
                chosen = distractors[:k]
            out.append([replace(h, rank=r) for r, h in enumerate(chosen, 1)])
        self.stats["raft"] = {"items": len(items), "with_gold_passage": with_gold}
        return out

    def artifact_key(self, task: TaskData, model_fp: str) -> str:

        h = hashlib.sha256()
        spec = task.spec.model_dump(
            include={
                "template",
                "instruction",
                "answer_template",
                "abstain_answer",
                "style_instruction",
            }
        )
        parts = {
            "kind": self.kind,
            "params": self.params.model_dump(),
            "model": model_fp,
            "seed": self.seed,
            "wording": self._trained_wording(task),
            # The embedder by content where it is a local folder (engine.retrieval.embedder_key).
            "retrieval": self.retrieval.model_dump()
            | {"embedder": embedder_key(self.retrieval.embedder)}
            if self.params.train_with_retrieval and self.retrieval
            else None,
        }
        parts |= {
            "task": spec,
            "code": code_fingerprint("training"),
            # How the model is served is not how it is trained: one adapter for every backend.
            "model_spec": self.ctx.suite.model.model_dump(exclude=SERVING_FIELDS),
        }
        h.update(json.dumps(parts, sort_keys=True).encode())
        for split in ("train", "dev"):
            for it in task.splits.get(split, []):
                h.update(f"{split}:{item_hash(it)}".encode())  # the whole item as loaded
        if (self.params.corpus_training or self.params.train_with_retrieval) and task.corpus:
            for d in task.corpus:
                h.update(item_hash(d).encode())
        return h.hexdigest()[:20]

    def _trained_wording(self, task: TaskData) -> dict:
        """The wording training shows. The grounding sentence goes with passages only, so an arm
        that retrieves at evaluation but trains without passages (`lora` + `retrieval:`)
        trains, and shares, the same artifact as the plain arm."""
        wording = wording_for(task, self.variant, self.retrieval)
        if self.params.train_with_retrieval and self.retrieval is not None:
            return asdict(wording)
        return asdict(wording) | {"grounding": None}

    def generator(self):
        return self.serving or self.trained

    def probe_backend(self):
        return self.trained

    def parameter_counts(self) -> tuple[int, int]:
        return self.counts


def _too_long(kind: str, base, conversations, dropped: int, max_len: int) -> None:
    """Train items whose prompt fills max_seq_len before the answer teach nothing and are
    left out: said in the log and the record, and an error when they are most of the split (a
    model trained on a few survivors is not the arm the user asked for)."""
    longest = max(len(base.encode(base.format_chat(m))) for m, _ in conversations)
    need = -(-(longest + 32) // 64) * 64  # the longest prompt plus room for its answer
    said = (
        f"{kind}: {dropped} of {len(conversations)} train examples are longer than max_seq_len "
        f"({max_len} tokens) before their answer (the longest prompt has {longest} tokens)"
    )
    if dropped * 2 > len(conversations):
        raise ValueError(f"{said}; set `max_seq_len: {need}` in the arm's params")
    _warn(f"{said}; they are left out (max_seq_len: {need} keeps them)")


def _entry(folder: Path) -> CacheEntry:
    """An artifact's cache entry: whole when it holds training.json."""
    return CacheEntry(folder, "training.json", lock_path(cache_dir(), "artifact", folder.name))


def _artifact_lock(folder: Path):
    """One process trains a given artifact; another that needs it waits, then loads it. Not in
    a multi-process run: its helper ranks decide on their own whether to train."""
    if distributed.active():
        return nullcontext()
    return _entry(folder).lock(
        on_wait=lambda: _warn(f"another run is training {folder}; waiting for it")
    )


def _warn(msg: str) -> None:
    print(f"[adaptbench] warning: {msg}", file=sys.stderr, flush=True)


def _finished_stats(folder: Path) -> dict | None:
    """The training stats of a complete cached artifact; None when absent or damaged (reported)."""

    def parse(folder: Path) -> dict:
        stats = json.loads((folder / "training.json").read_text(encoding="utf-8"))
        if not isinstance(stats, dict):
            raise ValueError(f"a JSON {type(stats).__name__}, not an object")
        return stats

    def on_damage(exc: Exception) -> None:
        _warn(f"damaged cached artifact {folder / 'training.json'} ({exc}); training again")

    return _entry(folder).read(parse, on_damage)
