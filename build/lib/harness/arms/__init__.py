"""Arms: one readable file each. ARMS maps the `arm:` name of a suite to its class."""

from __future__ import annotations

from .base import BaseArm
from .core import Arm, ArmError
from .few_shot import FewShotArm
from .full import FullArm
from .lora import LoraArm
from .qlora import QloraArm
from .rag import RagArm
from .retrieval_only import RetrievalOnlyArm

ARMS: dict[str, type[Arm]] = {
    a.kind: a for a in (BaseArm, FewShotArm, RagArm, RetrievalOnlyArm, LoraArm, FullArm, QloraArm)
}

__all__ = ["ARMS", "Arm", "ArmError"]
