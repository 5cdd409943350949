"""Arm `base`: the model as it is, zero-shot, with the task's instruction and template."""

from __future__ import annotations

from ..config import Strict
from .core import Arm


class ZeroShotArm(Arm):
    kind = "base"
    summary = "zero-shot: the task's instruction and template, nothing else"

    class Params(Strict):
        pass
