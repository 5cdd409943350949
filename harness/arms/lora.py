"""Arm `lora`: low-rank adapters (peft) trained on the train split, merged for evaluation
(on backend vllm: applied unmerged, each adapter a request on the one loaded base).

Reads top to bottom: the base model gets LoRA adapters on its attention and MLP projections;
harness.engine.training trains them (packed, answer-only loss); the adapter is saved as safetensors and
merged into the weights for fast generation (merging gives the same outputs in fp32).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from harness.arms.trained import TrainedArm
from harness.engine.training import TrainParams

DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class LoraParams(TrainParams):
    learning_rate: float = Field(2e-4, gt=0, le=1)
    r: int = Field(16, ge=1, le=1024)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGETS))


def lora_config(p: LoraParams):
    from peft import LoraConfig

    return LoraConfig(
        r=p.r,
        lora_alpha=p.alpha,
        lora_dropout=p.dropout,
        target_modules=p.target_modules,
        task_type="CAUSAL_LM",
    )


class LoraArm(TrainedArm):
    kind = "lora"
    summary = "LoRA adapters trained on the train split (peft), merged for evaluation"
    Params = LoraParams

    def trainable_model(self, base_path: Path):
        from peft import get_peft_model
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(
            str(base_path), dtype="float32", use_safetensors=True
        )
        return get_peft_model(base, lora_config(self.params))

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(str(folder), safe_serialization=True)

    def load(self, base_path: Path, folder: Path):
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(
            str(base_path), dtype="float32", use_safetensors=True
        )
        return PeftModel.from_pretrained(base, str(folder)).to(self.ctx.device)

    def for_inference(self, model):
        return model.merge_and_unload()

    def on_engine(self, base_path: Path, folder: Path):
        return self.ctx.generator.with_adapter(folder, name=folder.name)
