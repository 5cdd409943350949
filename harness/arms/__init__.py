"""Arms: one readable file each. ARMS maps the `arm:` name of a suite to its class."""

from __future__ import annotations

from harness.arms.core import Arm
from harness.arms.few_shot import FewShotArm
from harness.arms.full import FullArm
from harness.arms.lora import LoraArm
from harness.arms.oracle_context import OracleContextArm
from harness.arms.qlora import QloraArm
from harness.arms.rag import RagArm
from harness.arms.retrieval_only import RetrievalOnlyArm
from harness.arms.zero_shot import ZeroShotArm

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

__all__ = ["ARMS", "Arm"]
