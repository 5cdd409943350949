"""Arm `qlora`: LoRA adapters over a base model loaded in 4-bit NF4 (bitsandbytes).

The base weights stay quantised (about a quarter of the fp16 memory); only the adapters train.
bitsandbytes 0.50+ runs 4-bit on CPU as well as CUDA. The adapter is not merged for evaluation
(merging into 4-bit weights would re-quantise them): generation runs through the adapter.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from harness.arms.lora import LoraParams, lora_config
from harness.arms.trained import TrainedArm


class QloraParams(LoraParams):
    compute_dtype: str = Field("auto", pattern="^(auto|float32|bfloat16)$")


class QloraArm(TrainedArm):
    kind = "qlora"
    summary = "LoRA over a 4-bit NF4 base (bitsandbytes); works on CPU and CUDA"
    Params = QloraParams

    def _quantised_base(self, base_path: Path):
        import torch
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        dtype = self.params.compute_dtype
        if dtype == "auto":
            dtype = "bfloat16" if self.ctx.device == "cuda" else "float32"
        config = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, dtype),
        )
        return AutoModelForCausalLM.from_pretrained(
            str(base_path),
            quantization_config=config,
            device_map={"": self.ctx.device},
            use_safetensors=True,
        )

    def trainable_model(self, base_path: Path):
        from peft import get_peft_model, prepare_model_for_kbit_training

        base = prepare_model_for_kbit_training(
            self._quantised_base(base_path),
            use_gradient_checkpointing=self.params.gradient_checkpointing,
        )
        return get_peft_model(base, lora_config(self.params))

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(str(folder), safe_serialization=True)

    def load(self, base_path: Path, folder: Path):
        from peft import PeftModel

        return PeftModel.from_pretrained(self._quantised_base(base_path), str(folder))
