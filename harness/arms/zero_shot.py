"""Arm `base`: the model as it is, zero-shot, with the task's instruction and template."""

from __future__ import annotations

from harness.arms.core import Arm
from harness.spec.config import Strict


class ZeroShotArm(Arm):
    kind = "base"
    role = "baseline"
    summary = "zero-shot: the task's instruction and template, nothing else"

    class Params(Strict):
        pass
