"""Shot selection `fixed`: one set of shots per task, never an item's own question."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.arms.core import ArmError
from harness.arms.few_shot import FewShotArm, ShotPicker
from harness.arms.rag import RagParams
from harness.data.tasks import Item


def _task(n: int = 12) -> SimpleNamespace:
    train = [Item(f"t{i}", f"Train question number {i}?", (f"a{i}",)) for i in range(n)]
    return SimpleNamespace(train=train, spec=SimpleNamespace(name="policy-qa"))


def test_fixed_shots_are_the_same_for_every_item_and_seeded_per_task():
    task = _task()
    items = [Item(f"e{i}", f"Eval question {i}?", ("x",)) for i in range(5)]
    picker = ShotPicker(task, 3, "fixed", seed=7)
    chosen = picker.choose(items)
    ids = [[s.id for s in shots] for shots in chosen]
    assert all(row == ids[0] for row in ids) and len(set(ids[0])) == 3
    assert ShotPicker(task, 3, "fixed", seed=7).choose(items[:1])[0] == chosen[0]  # reproducible
    others = {tuple(s.id for s in ShotPicker(task, 3, "fixed", seed=s).choose(items)[0])
              for s in range(8)}  # fmt: skip
    assert len(others) > 1  # the draw follows the seed, not the pool's order


def test_fixed_shots_never_show_an_item_its_own_question():
    task = _task()
    picker = ShotPicker(task, 3, "fixed", seed=7)
    usual = [s.id for s in picker.choose([Item("e0", "Eval question?", ("x",))])[0]]
    own = task.train[int(usual[1][1:])]
    reworded = Item("e1", own.question.upper() + "  ", ("x",))  # normalises to the same text
    shots = [s.id for s in picker.choose([own, reworded])[0]]
    assert own.id not in shots and len(shots) == 3
    assert shots[:1] == usual[:1] and shots[1:] == [usual[2], shots[2]]  # the next draw fills in
    assert [s.id for s in picker.choose([reworded])[0]] == shots


def test_fixed_is_a_parameter_of_few_shot_and_rag():
    assert FewShotArm.Params.model_validate({"selection": "fixed"}).selection == "fixed"
    assert RagParams.model_validate({"shot_selection": "fixed"}).shot_selection == "fixed"
    with pytest.raises(ValueError, match="selection"):
        FewShotArm.Params.model_validate({"selection": "same"})
    with pytest.raises(ArmError, match="more than k=3"):
        ShotPicker(_task(3), 3, "fixed", seed=0)
