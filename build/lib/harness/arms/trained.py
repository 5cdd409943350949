"""What the fine-tuning arms share: train once (or reuse the cached artifact), then evaluate.

The artifact (adapter or checkpoint, safetensors) is cached under a content hash of the base
model, the train/dev items, the task's prompt format, the arm's parameters, the seed and the
training code, so a rerun with a different --limit or new metrics reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import ClassVar

from ..backends.hf import HFBackend
from ..data import TaskData
from ..measure import count_parameters, phase
from ..models import cache_dir, resolve_model
from ..training import corpus_examples, make_rows, mfu, qa_examples, train
from .base import BaseArm


class TrainedArm(BaseArm):
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
        if not (folder / "training.json").is_file():
            self._train(task, self.ctx.backend, base_path)

    def prepare(self, task: TaskData) -> None:
        base = self.ctx.backend  # tokenizer, chat format, device
        base_path, folder = self.artifact(task)
        done = folder / "training.json"
        if done.is_file():
            model = self.load(base_path, folder)
            stats = json.loads(done.read_text()) | {"artifact_cached": True}
        else:
            model, stats = self._train(task, base, base_path)
            tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            self.save(model, tmp)
            stats["artifact_bytes"] = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
            (tmp / "training.json").write_text(json.dumps(stats))
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)  # training.json inside: its presence means a complete artifact
            stats["artifact_cached"] = False
        self.counts = count_parameters(model)
        stats["trainable_params"], stats["total_params"] = self.counts[1], self.counts[0]
        self.stats["training"] = stats
        self.trained = HFBackend(
            base_path,
            device=base.device,
            dtype=base.dtype,
            batch_size=base.batch_size,
            chat_template="on" if base.use_chat else "off",
            system_prompt=base.system_prompt,
            model=self.for_inference(model),
            tokenizer=base.tokenizer,
            progress=base.progress,
        )

    def _train(self, task: TaskData, base, base_path: Path):
        p = self.params
        items = task.train[: p.max_train_items] if p.max_train_items else task.train
        if not items:
            raise ValueError(f"{self.kind} needs a train split in task '{task.spec.name}'")
        examples = qa_examples(base, task, items, p.max_seq_len)
        if p.corpus_training:
            if not task.corpus:
                raise ValueError(f"corpus_training is on but task '{task.spec.name}' has no corpus")
            examples += corpus_examples(base, task.corpus, p.max_seq_len)
        pad = base.tokenizer.pad_token_id
        rows = make_rows(examples, p, pad)
        dev = task.splits.get("dev", [])
        dev_rows = make_rows(qa_examples(base, task, dev, p.max_seq_len), p, pad) if dev else []
        model = self.trainable_model(base_path).to(base.device)
        with phase("train") as ph:
            stats = train(model, rows, dev_rows, p, pad, base.device, self.seed, self.ctx.progress)
        total, _ = count_parameters(model)
        head = model.get_output_embeddings()
        stats |= {
            "examples": len(examples),
            "peak_memory_bytes": ph.peak_bytes,
            "memory_kind": ph.memory_kind,
            **mfu(
                stats,
                total,
                head.weight.numel() if head is not None else 0,
                self.full_finetune,
                base.device,
                bf16=stats["bf16_autocast"],
            ),
        }
        return model, stats

    def artifact_key(self, task: TaskData, model_fp: str) -> str:
        from ..runner import code_fingerprint

        h = hashlib.sha256()
        spec = task.spec.model_dump(
            include={"template", "instruction", "answer_template", "abstain_answer"}
        )
        parts = {
            "kind": self.kind,
            "params": self.params.model_dump(),
            "model": model_fp,
            "seed": self.seed,
        }
        parts |= {
            "task": spec,
            "code": code_fingerprint(),
            "model_spec": self.ctx.suite.model.model_dump(),
        }
        h.update(json.dumps(parts, sort_keys=True).encode())
        for split in ("train", "dev"):
            for it in task.splits.get(split, []):
                h.update(
                    repr(
                        (split, it.id, it.question, it.answers, it.answerable, it.choices, it.label)
                    ).encode()
                )
        if self.params.corpus_training and task.corpus:
            for d in task.corpus:
                h.update(repr((d.id, d.title, d.text)).encode())
        return h.hexdigest()[:20]

    def generator(self):
        return self.trained

    def parameter_counts(self) -> tuple[int, int]:
        return self.counts
