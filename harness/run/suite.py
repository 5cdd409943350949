"""Loading a suite: the specs of `config` plus each arm's own parameter model.

This sits above the arms because checking `arms[i].params` needs the arm registry; `config`
itself stays below everything, so any layer can read specs.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from harness.arms import ARMS
from harness.engine.retrieval import RetrievalParams
from harness.spec.config import (
    SpecError,
    SuiteSpec,
    did_you_mean,
    format_errors,
    read_suite,
    resolve_paths,
    yaml_where,
)
from harness.spec.judge import missing_judge


def load_suite(path: str | Path, overrides: list[str] | None = None) -> SuiteSpec:
    """Read a suite YAML, apply `a.b=c` overrides, validate it and its arms' parameters.

    Relative data paths are resolved against the YAML file's folder.
    """
    path = Path(path)
    suite, node = read_suite(path, overrides)
    _validate_tasks(path, suite, node)
    _validate_arm_params(path, suite, node)
    return resolve_paths(path, suite)


def _validate_tasks(path: Path, suite: SuiteSpec, node: yaml.Node | None) -> None:
    """What one task's keys allow only together."""
    for i, task in enumerate(suite.tasks):
        judges = (task.judge or suite.judge, task.grounding_model or suite.grounding_model)
        if task.metrics and (problem := missing_judge(task.metrics, *judges)):
            raise SpecError(f"{yaml_where(path, node, ('tasks', i, 'metrics'))}: {problem}")
        if task.answer_style == "structured" and not task.output_fields:
            raise SpecError(
                f"{yaml_where(path, node, ('tasks', i, 'answer_style'))}: task '{task.name}' "
                "has answer_style: structured but no output_fields; list the fields each answer "
                "gives (`output_fields: [route, severity]`), or choose another answer_style"
            )


def _validate_arm_params(path: Path, suite: SuiteSpec, node: yaml.Node | None) -> None:
    for i, spec in enumerate(suite.arms):
        if spec.arm not in ARMS:
            loc = ("arms", i, "arm")
            raise SpecError(
                f"{yaml_where(path, node, loc)}: unknown arm {spec.arm!r}; known arms: "
                f"{', '.join(sorted(ARMS))}{did_you_mean(spec.arm, ARMS)}"
            )
        arm_cls = ARMS[spec.arm]
        if spec.train_fractions and not arm_cls.changes_weights:
            raise SpecError(
                f"{yaml_where(path, node, ('arms', i, 'train_fractions'))}: arm {spec.arm!r} "
                "trains nothing, so it has no learning curve; give `train_fractions` to lora, "
                "full or qlora"
            )
        try:
            arm_cls.Params.model_validate(spec.params)
        except ValidationError as exc:
            raise SpecError(
                format_errors(path, exc, arm_cls.Params, node, prefix=("arms", i, "params"))
            ) from None
        if spec.retrieval is not None:
            if issubclass(arm_cls.Params, RetrievalParams):
                raise SpecError(
                    f"{yaml_where(path, node, ('arms', i, 'retrieval'))}: arm {spec.arm!r} takes its retrieval "
                    "settings in `params`, not in a `retrieval:` block"
                )
            try:
                RetrievalParams.model_validate(spec.retrieval)
            except ValidationError as exc:
                raise SpecError(
                    format_errors(path, exc, RetrievalParams, node, prefix=("arms", i, "retrieval"))
                ) from None
