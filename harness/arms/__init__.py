"""Arms: one readable file each. ARMS maps the `arm:` name of a suite to its class."""

from __future__ import annotations

from .core import Arm, ArmError
from .few_shot import FewShotArm
from .full import FullArm
from .lora import LoraArm
from .oracle_context import OracleContextArm
from .qlora import QloraArm
from .rag import RagArm
from .retrieval_only import RetrievalOnlyArm
from .zero_shot import ZeroShotArm

# Adding an arm: its own file, and one entry here.
ARMS: dict[str, type[Arm]] = {
    a.kind: a
    for a in (
        ZeroShotArm,
        FewShotArm,
        RagArm,
        RetrievalOnlyArm,
        OracleContextArm,
        LoraArm,
        FullArm,
        QloraArm,
    )
}

__all__ = ["ARMS", "Arm", "ArmError"]
