"""`costs:` and `usage:` in a suite: what compute and tokens cost, and how much the system is used.

    costs: {currency: USD, gpu_hour: 2.5, cpu_hour: 0.1,
            input_per_million: 0.15, output_per_million: 0.6}
    usage: {queries_per_month: 100000, knowledge_updates_per_month: 4}

Every price defaults to zero, and the report then says that no price was given. A price sheet
(a YAML file with the same two blocks) can replace the suite's prices without editing it:
`adaptbench run SUITE --costs prices.yaml`, key by key, before any `--set`. The arithmetic that
turns the measured times and tokens into money is in harness/reports/costs.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Strict(BaseModel):
    # The same rules as harness.spec.config.Strict (which imports this module): no unknown
    # keys, no silent coercion.
    model_config = ConfigDict(extra="forbid", strict=True)


class CostsSpec(_Strict):
    """Prices: an hour of the device a cell ran on, and tokens of an endpoint model."""

    currency: str = Field("USD", pattern=r"^[A-Za-z$€£¥]{1,8}$", description="label only")
    gpu_hour: float = Field(0.0, ge=0, description="one GPU for one hour (CUDA or MPS cells)")
    cpu_hour: float = Field(0.0, ge=0, description="the CPU machine for one hour (CPU cells)")
    input_per_million: float = Field(
        0.0, ge=0, description="an endpoint model's price per million prompt tokens"
    )
    output_per_million: float = Field(
        0.0, ge=0, description="an endpoint model's price per million generated tokens"
    )

    @property
    def priced(self) -> bool:
        """Whether any price was given (all zero: every cost is 0 and the report says so)."""
        return any((self.gpu_hour, self.cpu_hour, self.input_per_million, self.output_per_million))


class UsageSpec(_Strict):
    """How much the deployed system is used: what the monthly cost and break-even assume."""

    queries_per_month: float = Field(0.0, ge=0)
    knowledge_updates_per_month: float = Field(
        0.0, ge=0, description="re-index (retrieval arms) or retrain (fine-tuned arms) this often"
    )
    amortize_months: float = Field(
        12.0, gt=0, description="months over which one-off costs (training, indexing) are spread"
    )


SHEET_KEYS = {"costs": CostsSpec, "usage": UsageSpec}


def price_sheet_overrides(path: str | Path) -> list[str]:
    """A price sheet as `key.path=value` overrides (the form `--set` takes), checked first
    against the specs so that an error names the sheet's file, line and key."""
    from harness.spec.config import SpecError, format_errors, yaml_where

    path = Path(path)
    if not path.is_file():
        raise SpecError(f"--costs {path}: file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
        raw = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: not a readable YAML price sheet ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise SpecError(f"{path}: a price sheet is a mapping with `costs:` and/or `usage:`")
    overrides = []
    for key, block in raw.items():
        spec = SHEET_KEYS.get(key)
        if spec is None:
            raise SpecError(
                f"{yaml_where(path, node, (key,))}: unknown key {key!r} in a price sheet "
                "(it takes `costs:` and `usage:`)"
            )
        try:
            spec.model_validate(block)
        except ValidationError as exc:
            message = format_errors(path, exc, spec, node, prefix=(key,))
            raise SpecError(
                message.replace(": invalid suite", ": invalid price sheet", 1)
            ) from None
        overrides += [f"{key}.{name}={json.dumps(value)}" for name, value in block.items()]
    return overrides
