"""`train_fractions` on a trained arm: a learning curve, one cell per nested share of the split.

    arms:
      - arm: lora
        train_fractions: [0.25, 0.5, 1.0]

The arm itself is the 1.0 point (its cell and cache entry are those of the arm without the
list); each smaller fraction f is a cell `<label>@frac<f>` whose params carry
`train_fraction: f`, so it trains (and caches) its own artifact on a nested subset of the
train split (harness.data.fractions). Those cells are points of the curve, never recommended.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

# The mark of a curve point's label; user names cannot hold `@`, so only expansion makes it.
CURVE_MARK = "@frac"


def _distinct(values: list[float]) -> list[float]:
    if len(set(values)) != len(values):
        raise ValueError(f"`train_fractions` repeats a value: {values}")
    return sorted(values)


TrainFractions = Annotated[
    list[Annotated[float, Field(gt=0, le=1)]],
    Field(min_length=1),
    AfterValidator(_distinct),
]


def is_curve_label(label: str) -> bool:
    return CURVE_MARK in label


def fraction_cells(cells: list[Any]) -> list[Any]:
    """Each cell (an ArmSpec) as it is, plus one cell per fraction below 1 of its
    `train_fractions`; every cell leaves with `train_fractions` unset."""
    out = []
    for cell in cells:
        fractions = cell.train_fractions or []
        plain = cell.model_copy(update={"train_fractions": None})
        out.append(plain)
        out += [
            plain.model_copy(
                update={
                    "name": f"{plain.label}{CURVE_MARK}{f:g}",
                    "params": {**plain.params, "train_fraction": f},
                }
            )
            for f in fractions
            if f < 1
        ]
    return out
