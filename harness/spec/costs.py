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

from pydantic import BaseModel, ConfigDict, Field


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
