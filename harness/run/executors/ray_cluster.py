"""The Ray executor: a run's units as Ray tasks, placed by Ray where their resources are free.

Shared state (the choice, README "Scaling out"): the cache folder (`ADAPTBENCH_CACHE`) must be
one folder that every node reads and writes at the same path. Trained artifacts are too big to
send through Ray's object store, and a cell that runs on another node than its training must
find the adapter there; cached cells are reused across runs the same way. It is checked at
start: a probe file written by the driver must be readable on every node, and the model must
resolve to the same weights there. A cell's record and per-item rows travel back through Ray
and the driver writes the output folder, which therefore needs to exist on the driver only.

Faults: a worker that dies (process killed, node lost) has its unit retried by Ray, at most
`retries` times; an arm that fails on its own (OOM, divergence, a bad parameter) returns a
failed record and is never retried. A unit no node can host (a GPU asked of a cluster without
one) is refused before anything starts, instead of waiting forever.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.common.board import FINAL, RUNNING, Board
from harness.common.log import log
from harness.common.progress import is_terminal
from harness.models.resolve import cache_dir, pick_device
from harness.run.units import ExecutorError, Lost, Resources, Unit, in_dependency_order

INSTALL_HINT = 'pip install "adaptbench[ray]" (in a clone: .venv/bin/pip install -e ".[ray]")'
POLL_S = 1.0  # how often the driver refreshes the board while units run
# How long `--address HOST:PORT` may take to answer. Ray itself retries an address where
# nothing listens for minutes, so the driver first opens a plain TCP connection to it.
CONNECT_TIMEOUT_S = 15.0


def check_reachable(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail within `timeout` seconds, naming the address, when nothing listens at a
    `HOST:PORT` or `ray://HOST:PORT` address. Other forms (`auto`, `local`, none) are Ray's
    own to resolve and are not probed."""
    host_port = _host_port(address)
    if host_port is None:
        return
    try:
        with socket.create_connection(host_port, timeout=timeout):
            pass
    except OSError as exc:
        why = f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else exc
        raise ExecutorError(
            f"--address {address}: cannot reach a Ray cluster there ({why}). Is it running "
            "(`ray start --head` on that machine) and is the port open? A ray:// address is the "
            "client port (10001 by default), a plain HOST:PORT the head's GCS port (6379)"
        ) from None


def _host_port(address: str | None) -> tuple[str, int] | None:
    """(host, port) of a `HOST:PORT` / `ray://HOST:PORT` / `[v6]:PORT` address, else None."""
    if not address:
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in host or not port.isdigit():
        return None  # not HOST:PORT (another scheme is Ray's to judge)
    return host.strip("[]"), int(port)


def _env_vars() -> dict[str, str]:
    """What every worker must share with the driver: the cache folder, and no hub access.
    Library progress bars are off there (their carriage returns pile up in forwarded logs);
    adaptbench's own progress writes plain lines off a terminal."""
    return {
        "ADAPTBENCH_CACHE": str(cache_dir().resolve()),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TQDM_DISABLE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }


def _run_unit(attempts, unit_id: str, threads: int, unit: Unit, *dependencies: Any) -> Any:
    """A unit on a Ray worker: say where it runs (the board counts attempts), then run it."""
    import ray
    import torch

    where = f"{ray.util.get_node_ip_address()} pid {os.getpid()}"
    attempts.started.remote(unit_id, where, os.getpid())
    torch.set_num_threads(max(1, threads))
    started = time.perf_counter()
    out = unit.call(*dependencies)
    # Bookkeeping only: a lost attempts actor must not turn a finished unit into a lost one.
    with contextlib.suppress(ray.exceptions.RayError):
        ray.get(attempts.finished.remote(unit_id, time.perf_counter() - started), timeout=60)
    return out


def _probe_node(probe: str, token: str, model_spec: Any) -> dict:
    """On one node: can it read the driver's cache folder, and which weights does the model
    resolve to there?"""
    import ray

    from harness.models.resolve import resolve_model

    out: dict[str, Any] = {"node": ray.util.get_node_ip_address(), "cache": str(cache_dir())}
    try:
        out["sees_cache"] = Path(probe).read_text(encoding="utf-8") == token
    except OSError as exc:
        out["sees_cache"], out["error"] = False, str(exc)
        return out
    try:
        out["model"] = resolve_model(model_spec, progress=False).fingerprint
    except Exception as exc:  # reported to the driver as this node's problem
        out["model_error"] = f"{type(exc).__name__}: {exc}"
    return out


class _Attempts:
    """A Ray actor: how often each unit started, and where its latest attempt runs."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[int, str, int]] = {}
        self.seconds: dict[str, float] = {}  # of the attempt that finished

    def started(self, unit_id: str, where: str, pid: int) -> None:
        n = self.seen.get(unit_id, (0, "", 0))[0] + 1
        self.seen[unit_id] = (n, where, pid)

    def finished(self, unit_id: str, seconds: float) -> None:
        self.seconds[unit_id] = seconds

    def snapshot(self) -> tuple[dict[str, tuple[int, str, int]], dict[str, float]]:
        return dict(self.seen), dict(self.seconds)


class RayExecutor:
    name = "ray"
    plans_training = True  # cells on other workers wait for one training, never race to it

    def __init__(
        self, address: str | None = None, retries: int = 2, cpus_per_unit: float | None = None
    ) -> None:
        if retries < 0:
            raise ExecutorError(f"--retries {retries}: must be 0 or more")
        if cpus_per_unit is not None and cpus_per_unit <= 0:
            raise ExecutorError(f"--cpus-per-unit {cpus_per_unit}: must be more than 0")
        self.address, self.retries = address, retries
        # CPUs (and torch threads) of a unit that needs no GPU; None: decided at start (below).
        self.cpus_per_unit: float | None = cpus_per_unit
        self.ray: Any = None
        self.attempts: Any = None  # the _Attempts actor of this run
        self.attempts_name = f"adaptbench-attempts-{secrets.token_hex(4)}"
        self._started_ray = False
        self.seen: dict[str, tuple[int, str, int]] = {}  # unit id: (attempts, where, pid)
        self.seconds: dict[str, float] = {}  # unit id: wall time of the attempt that finished

    # ---- start and checks
    def start(self) -> None:
        try:
            import ray
        except ImportError:
            raise ExecutorError(
                f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}"
            ) from None
        self.ray = ray
        if not ray.is_initialized():  # else a caller (a test, a notebook) started it
            check_reachable(self.address)
            try:
                ray.init(
                    address=self.address,
                    include_dashboard=False,
                    logging_level="warning",
                    # On a terminal the live board owns the screen; worker output stays in Ray's
                    # session logs. Elsewhere it is forwarded, each line prefixed with its worker.
                    log_to_driver=not is_terminal(sys.stderr),
                    runtime_env={"env_vars": _env_vars()},
                )
            except Exception as exc:  # unreachable address, version mismatch, bad URL
                where = self.address or "a new local Ray instance"
                raise ExecutorError(
                    f"--executor ray: cannot start or reach {where}: {exc}"
                ) from exc
            self._started_ray = True
        if self.cpus_per_unit is None:
            # A whole node's cores, as a local run uses: the same torch thread count gives the
            # same floating-point sums, so the numbers match the local executor's. Fewer CPUs
            # per unit pack more units on a node, at float-level differences in the results.
            cores = [n["Resources"].get("CPU", 0) for n in self._alive_nodes()]
            self.cpus_per_unit = float(max(1, int(min(cores, default=1))))
        resources = ray.cluster_resources()
        log(
            f"Ray cluster: {len(self._alive_nodes())} node(s), {resources.get('CPU', 0):g} CPU, "
            f"{resources.get('GPU', 0):g} GPU"
        )

    def device(self, requested: str) -> str:
        """The device units run on, decided from the cluster, not from the driver's machine."""
        gpus = self.ray.cluster_resources().get("GPU", 0)
        if requested == "auto":
            return "cuda" if gpus else "cpu"
        if requested == "cuda" and not gpus:
            raise ExecutorError(
                "model.device is 'cuda' but no node of the Ray cluster has a GPU "
                "(set model.device: cpu, or add GPU nodes)"
            )
        if requested not in ("cuda", "cpu"):
            return pick_device(requested)
        return requested

    def _alive_nodes(self) -> list[dict]:
        return [n for n in self.ray.nodes() if n.get("Alive")]

    def check(self, units: list[Unit], model_spec: Any = None, model_fp: str = "") -> None:
        """Before anything runs: every unit fits on some node, and every node sees the cache
        folder and the same model weights."""
        nodes = self._alive_nodes()
        total = self.ray.cluster_resources()
        for unit in units:
            need = unit.resources.as_dict()
            if not any(
                all(n["Resources"].get(k, 0) >= v for k, v in need.items() if v) for n in nodes
            ):
                have = "; ".join(
                    f"{n.get('NodeManagerAddress', '?')}: {n['Resources'].get('CPU', 0):g} CPU, "
                    f"{n['Resources'].get('GPU', 0):g} GPU"
                    for n in nodes
                )
                raise ExecutorError(
                    f"{unit.label} asks for {unit.resources}, and no node of the Ray cluster has "
                    f"that ({have}); lower the arm's `resources:` or --cpus-per-unit, or add nodes"
                )
            if unit.processes > 1 and any(
                total.get(k, 0) < v * unit.processes for k, v in need.items() if v
            ):
                raise ExecutorError(
                    f"{unit.label} trains with {unit.processes} processes of {unit.resources} "
                    f"each, more than the whole Ray cluster has ({total.get('CPU', 0):g} CPU, "
                    f"{total.get('GPU', 0):g} GPU); lower the arm's resources.train_processes"
                )
        if units:
            self._check_nodes(nodes, model_spec, model_fp)

    def _check_nodes(self, nodes: list[dict], model_spec: Any, model_fp: str) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self.ray
        token = secrets.token_hex(16)
        probe = cache_dir().resolve() / "ray-probes" / f"{token}.txt"
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text(token, encoding="utf-8")
        remote = ray.remote(_probe_node)
        try:
            refs = [
                remote.options(
                    num_cpus=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
                    runtime_env={"env_vars": _env_vars()},
                ).remote(str(probe), token, model_spec)
                for n in nodes
            ]
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=300)
            if len(ready) < len(refs):
                raise ExecutorError(
                    "--executor ray: some nodes did not answer the start-up check within 300 s"
                )
            answers = ray.get(refs)
        except ray.exceptions.RayError as exc:  # a node without adaptbench, a node that died
            first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            raise ExecutorError(
                f"--executor ray: the start-up check failed on a node: {first}"
            ) from exc
        finally:
            probe.unlink(missing_ok=True)
        for a in answers:
            if not a["sees_cache"]:
                raise ExecutorError(
                    f"node {a['node']} cannot read the cache folder {probe.parent.parent} "
                    f"({a.get('error', 'it sees other content there')}): set ADAPTBENCH_CACHE "
                    "to a folder on storage that every node mounts at the same path"
                )
            if "model_error" in a:
                raise ExecutorError(f"node {a['node']} cannot load the model: {a['model_error']}")
            if model_fp and a.get("model") != model_fp:
                raise ExecutorError(
                    f"node {a['node']} resolves the model to other weights ({a.get('model')}, "
                    f"here {model_fp}): install the same model files on every node"
                )

    # ---- running
    def run(self, units: list[Unit], board: Board) -> Iterator[tuple[Unit, Any]]:
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # On the driver's node (it lives as long as the driver); restarted if it dies.
        here = ray.get_runtime_context().get_node_id()
        self.attempts = (
            ray.remote(_Attempts)
            .options(
                name=self.attempts_name,
                num_cpus=0,
                max_restarts=-1,
                scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True),
            )
            .remote()
        )
        remote = ray.remote(_run_unit)
        # A GPU unit gets a fresh worker process: a reused one would keep its loaded model in
        # GPU memory Ray counts as free, and CUDA stays on the device it started on.
        remote_gpu = ray.remote(max_calls=1)(_run_unit)
        refs: dict[str, Any] = {}
        pending: dict[Any, Unit] = {}
        for unit in in_dependency_order(units):
            deps = [refs[d] for d in unit.after]
            # A unit of several processes coordinates them and holds nothing itself: Ray Train
            # asks for each process's resources.
            own = unit.resources if unit.processes == 1 else Resources(cpus=0.0, gpus=0.0)
            ref = (
                (remote_gpu if own.gpus else remote)
                .options(
                    num_cpus=own.cpus,
                    num_gpus=own.gpus,
                    max_retries=self.retries,
                    retry_exceptions=False,  # an arm's own failure is a record, never retried
                    name=unit.label,
                    runtime_env={"env_vars": _env_vars()},
                )
                .remote(self.attempts, unit.id, int(unit.resources.cpus), unit, *deps)
            )
            refs[unit.id] = ref
            pending[ref] = unit
        seen: dict[str, tuple[int, str, int]] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            seen = self._show_attempts(board, seen)
            self.seen = seen
            for ref in done:
                unit = pending.pop(ref)
                yield unit, self._outcome(ref, unit, seen)
            board.draw()

    def placement(self, unit_id: str) -> dict | None:
        """Where a finished unit ran and how many attempts it took (for its record)."""
        if unit_id not in self.seen:
            return None
        attempts, where, _pid = self.seen[unit_id]
        seconds = self.seconds.get(unit_id)
        return {
            "executor": self.name,
            "attempts": attempts,
            "where": where,
            "seconds": None if seconds is None else round(seconds, 3),
        }

    def _show_attempts(self, board: Board, seen: dict) -> dict:
        try:
            now, self.seconds = self.ray.get(self.attempts.snapshot.remote(), timeout=30)
        except self.ray.exceptions.RayError:  # the actor is restarting: show nothing new now
            return seen
        for unit_id, (n, where, _pid) in now.items():
            fresh = seen.get(unit_id, (0,))[0] != n and unit_id in board.units
            if fresh and board.units[unit_id].state not in FINAL:
                board.update(unit_id, RUNNING, where=where, attempts=n)
        return now

    def _outcome(self, ref: Any, unit: Unit, seen: dict) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            attempts = seen.get(unit.id, (0,))[0]
            return Lost(f"{type(exc).__name__}: {first.strip()}"[:300], attempts)

    def close(self) -> None:
        if self.attempts is not None:
            self.ray.kill(self.attempts)
            self.attempts = None
        if self._started_ray:
            self.ray.shutdown()
            self._started_ray = False
