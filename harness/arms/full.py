"""Arm `full`: every weight of the model fine-tuned on the train split.

The costliest contender: 6N FLOPs per token, optimizer state for every parameter, and a full
checkpoint (safetensors) per variant. Lower learning rate than LoRA by default.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from harness.arms.trained import TrainedArm
from harness.engine.training import TrainParams
from harness.models.vllm_engine import VLLMBackend


class FullParams(TrainParams):
    learning_rate: float = Field(5e-5, gt=0, le=1)


class FullArm(TrainedArm):
    kind = "full"
    summary = "full fine-tuning of every weight on the train split"
    Params = FullParams
    full_finetune = True

    def trainable_model(self, base_path: Path):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(
            str(base_path), dtype="float32", use_safetensors=True
        )

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(str(folder), safe_serialization=True)

    def load(self, base_path: Path, folder: Path):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(
            str(folder), dtype="float32", use_safetensors=True
        ).to(self.ctx.device)

    def on_engine(self, base_path: Path, folder: Path):
        """The checkpoint as its own model on the engine (the base engine is shut down first:
        one engine per process), read with the base model's tokenizer."""
        base, m = self.ctx.generator, self.ctx.suite.model
        return VLLMBackend(
            folder,
            device=base.device,
            dtype=base.dtype,
            batch_size=base.batch_size,
            chat_template="on" if base.use_chat else "off",
            system_prompt=base.system_prompt,
            trust_remote_code=m.trust_remote_code,
            settings=m.vllm,
            seed=self.seed,
            tokenizer_path=base_path,
            progress=base.progress,
        )
