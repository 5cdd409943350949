"""Executors without a cluster: units and their order, the unit board, the local executor, option
checks, and a cell whose training unit failed (the Ray cluster tests: test_ray_executor.py)."""

from __future__ import annotations

import io

import pytest

from harness.common.board import DONE, RUNNING, Board
from harness.run.executors import ExecutorError, LocalExecutor, make_executor
from harness.run.units import CELL, TRAIN, Unit, in_dependency_order


def _add(a: int, b: int = 0) -> int:
    return a + b


def test_units_run_after_what_they_depend_on():
    units = [
        Unit("c1", "cell 1", CELL, _add, (1,), after=("t",)),
        Unit("c2", "cell 2", CELL, _add, (2,), after=("t",)),
        Unit("t", "training", TRAIN, _add, (10,)),
    ]
    assert [u.id for u in in_dependency_order(units)] == ["t", "c1", "c2"]
    done = dict((u.id, out) for u, out in LocalExecutor().run(units, Board(enabled=False)))
    assert done == {"t": 10, "c1": 11, "c2": 12}  # each cell got the training's result
    with pytest.raises(ValueError, match="not planned"):
        in_dependency_order([Unit("c", "cell", CELL, _add, (1,), after=("gone",))])
    circle = [
        Unit("a", "a", CELL, _add, (1,), after=("b",)),
        Unit("b", "b", CELL, _add, (1,), after=("a",)),
    ]
    with pytest.raises(ValueError, match="circle"):
        in_dependency_order(circle)


def test_the_board_writes_one_plain_line_per_change_off_a_terminal():
    stream = io.StringIO()
    now = [0.0]
    board = Board(stream=stream, clock=lambda: now[0])
    board.add("u", "qa / lora")
    board.update("u", RUNNING, where="10.0.0.2 pid 41", attempts=1)
    board.update("u", RUNNING, where="10.0.0.2 pid 41", attempts=1)  # no change: no line
    now[0] = 5.0
    board.update("u", RUNNING, where="10.0.0.3 pid 7", attempts=2)
    now[0] = 65.0
    board.update("u", DONE)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "[adaptbench] qa / lora: running on 10.0.0.2 pid 41, 0s",
        "[adaptbench] qa / lora: running on 10.0.0.3 pid 7, attempt 2 (retried), 0s",
        "[adaptbench] qa / lora: done, attempt 2 (retried), in 1m00s",
    ]
    assert board.counts() == {DONE: 1}


def test_executor_options_are_checked():
    with pytest.raises(ExecutorError, match="--address is for --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(ExecutorError, match="choose one of local, ray"):
        make_executor("slurm")
    with pytest.raises(ExecutorError, match="--cpus-per-unit"):
        make_executor("ray", cpus_per_unit=0)


@pytest.mark.parametrize(
    ("option", "kwargs"),
    [("--retries", {"retries": 0}), ("--cpus-per-unit", {"cpus_per_unit": 2.0})],
)
def test_ray_options_without_ray_are_refused_not_ignored(option, kwargs):
    with pytest.raises(ExecutorError, match=f"{option} is for --executor ray"):
        make_executor("local", **kwargs)
    assert isinstance(make_executor("local"), LocalExecutor)


def test_a_ray_address_where_nothing_listens_fails_fast_naming_it():
    import socket
    import time

    from harness.run.executors.ray_cluster import CONNECT_TIMEOUT_S, check_reachable

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(ExecutorError, match=f"--address {address}: cannot reach a Ray"):
            make_executor("ray", address=address).start()
    assert time.monotonic() - started < CONNECT_TIMEOUT_S
    check_reachable("auto")  # not a HOST:PORT: Ray's own to resolve


def test_a_ray_address_that_never_answers_times_out_with_the_stated_limit(monkeypatch):
    import socket

    from harness.run.executors import ray_cluster

    seen = {}

    def silent(address, timeout):
        seen["timeout"] = timeout
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", silent)
    with pytest.raises(ExecutorError, match="no answer within 15 s"):
        ray_cluster.check_reachable("10.0.0.9:6379")
    assert seen["timeout"] == ray_cluster.CONNECT_TIMEOUT_S == 15


def test_a_missing_ray_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorError, match=r'pip install "adaptbench\[ray\]"'):
        make_executor("ray").start()


def test_a_cell_whose_training_failed_fails_with_its_reason_without_training(tiny_suite, tmp_path):
    from harness.data.tasks import load_task
    from harness.models.resolve import resolve_model
    from harness.run.cell import Cell
    from harness.run.plan import RunSetup, run_cell_unit
    from harness.run.suite import load_suite

    suite = load_suite(tiny_suite)
    task = load_task(suite.tasks[0])
    model = resolve_model(suite.model, progress=False)
    cell = Cell(model, task, task.eval, suite.arms[0], suite.seed, "k", "pk")
    setup = RunSetup("run-x", suite, "cpu", "float32", False, False)
    record, rows = run_cell_unit(setup, cell, {"status": "oom", "reason": "no memory left"})
    assert (record["status"], record["reason"]) == ("oom", "training failed: no memory left")
    assert rows == [] and record["metrics"] == {}


def test_the_board_redraws_one_line_per_unit_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    board = Board(stream=stream, clock=lambda: 0.0)
    board.add("t", "qa / lora (training)")
    board.add("c", "qa / lora")
    board.update("t", RUNNING, where="node-a pid 3", attempts=1)
    board.update("t", DONE)
    frames = stream.getvalue().split("\x1b[2F")  # each redraw moves up over the 2 lines
    assert len(frames) == 2
    assert frames[-1] == "\x1b[2Kqa / lora (training): done, in 0s\n\x1b[2Kqa / lora: waiting\n"


def test_unit_resources_default_by_device_and_an_arm_overrides_only_what_it_sets():
    from harness.run.plan import _resources
    from harness.spec.config import ArmSpec

    def ask(device, cpus_per_unit=None, **resources):
        arm = ArmSpec(arm="lora", resources=resources or None)
        return _resources(arm, device, cpus_per_unit).as_dict()

    # On CUDA a unit holds one GPU and one core: a node's cores are shared by its GPUs' units.
    assert ask("cuda", 64.0) == {"CPU": 1.0, "GPU": 1.0}
    assert ask("cpu", 2.0) == {"CPU": 2.0, "GPU": 0.0}
    # Setting train_processes alone keeps the GPU of each process.
    assert ask("cuda", 64.0, train_processes=4) == {"CPU": 1.0, "GPU": 1.0}
    assert ask("cuda", None, cpus=8) == {"CPU": 8.0, "GPU": 1.0}
    assert ask("cpu", 2.0, gpus=0.5) == {"CPU": 2.0, "GPU": 0.5}
