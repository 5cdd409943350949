"""Concurrent runs on one cache: a lock per cell, released by the OS when its holder dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.common.locks import LockTimeout, file_lock

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock locks are POSIX-only")

HOLD = """
import sys, time
from pathlib import Path
from harness.common.locks import file_lock
with file_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""

# Runs the CLI with the base arm's predict slowed down: it notes its pid in a log, then waits
# until the test creates a "go" file, so the test decides when the first run finishes. The
# fake backend answers: the lock is under test, not the model.
SLOW_RUN = """
import os, sys, time
from pathlib import Path
from harness.arms import ARMS
from tests.fake_backend import FakeBackend, install
install(FakeBackend())
log, go = Path(sys.argv[1]), Path(sys.argv[2])
original = ARMS["base"].predict
def slow(self, task, items):
    with log.open("a") as fh:
        fh.write(f"{os.getpid()}\\n")
    deadline = time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return original(self, task, items)
ARMS["base"].predict = slow
from harness.cli import main
main(sys.argv[3:])
"""


def _env(cache: Path) -> dict:
    return os.environ | {"ADAPTBENCH_CACHE": str(cache), "PYTHONPATH": str(ROOT)}


def _wait_for(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_held_lock_blocks_and_a_killed_holder_releases_it(tmp_path, isolated_cache):
    lock = tmp_path / "locks" / "run-k.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(isolated_cache),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        waits = []
        with (
            pytest.raises(LockTimeout),
            file_lock(lock, on_wait=lambda: waits.append(1), timeout_s=0.5),
        ):
            pass
        assert waits == [1]
        holder.send_signal(signal.SIGKILL)  # a crash: no chance to release anything
        holder.wait(timeout=30)
        start = time.monotonic()
        with file_lock(lock, timeout_s=10):
            assert time.monotonic() - start < 5
    finally:
        holder.kill()
        holder.wait()


def test_a_second_identical_run_waits_for_the_first_and_reuses_its_cell(
    tiny_suite, tmp_path, isolated_cache
):
    calls, go = tmp_path / "predict-calls.log", tmp_path / "go"

    def start(out: Path, err: Path) -> subprocess.Popen:
        args = ["run", str(tiny_suite), "--arms", "base", "--out", str(out), "--no-progress"]
        return subprocess.Popen(
            [sys.executable, "-c", SLOW_RUN, str(calls), str(go), *args],
            stdout=subprocess.DEVNULL,
            stderr=err.open("w"),
            env=_env(isolated_cache),
            cwd=tmp_path,
        )

    first = start(tmp_path / "a", tmp_path / "a.err")
    second = None
    try:
        _wait_for(lambda: calls.is_file() and calls.read_text().strip(), "the first run's predict")
        second = start(tmp_path / "b", tmp_path / "b.err")
        _wait_for(lambda: "another run is computing" in (tmp_path / "b.err").read_text(), "wait")
        go.touch()  # let the first run finish its cell
        assert first.wait(timeout=300) == 0, (tmp_path / "a.err").read_text()
        assert second.wait(timeout=300) == 0, (tmp_path / "b.err").read_text()
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert len(calls.read_text().split()) == 1  # the work was done once
    (a,) = json.loads((tmp_path / "a" / "results.json").read_text())["runs"]
    (b,) = json.loads((tmp_path / "b" / "results.json").read_text())["runs"]
    assert not a["cached"] and b["cached"] and a["metrics"] == b["metrics"]
    assert a["efficiency"]["params_total"] == 72  # the fake's 8 x 8 layer: no model was loaded
    assert "unchanged, reusing" in (tmp_path / "b.err").read_text()
