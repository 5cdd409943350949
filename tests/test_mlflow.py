"""Runs logged to a real MLflow tracking server (`mlflow server`, SQLite store, artifacts served
by the server, a free local port), read back through MLflow's client: one parent run per suite
run, one child run per cell, metrics with their intervals, tags, artifacts; a server killed
while a run logs; `log-mlflow` replaying the log. Skipped without the `mlflow` extra
(`pip install -e ".[mlflow]"`; `make test` installs it)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

mlflow = pytest.importorskip("mlflow")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An `mlflow server` in its own process group, so the test can kill all of it at once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Launch it; `up` waits until it answers (meanwhile the tests build their fixtures)."""
        command = [
            *(sys.executable, "-m", "mlflow", "server"),
            *("--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}"),
            *("--artifacts-destination", str(self.folder / "artifacts")),
            *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
        ]
        self.log = open(self.folder / "server.log", "ab")  # noqa: SIM115 (closed in kill)
        # No GenAI job workers: this server only stores runs (and starts faster without them).
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.process = subprocess.Popen(
            command,
            cwd=self.folder,
            env=env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )

    def up(self) -> Server:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
            assert self.process.poll() is None, (self.folder / "server.log").read_text()
        raise AssertionError(f"mlflow server did not start: {self.folder / 'server.log'}")

    def kill(self) -> None:
        """SIGKILL the server and its workers: no goodbye to the client."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self.process:
            self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("mlflow"))
    srv.start()
    yield srv
    srv.kill()


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _runs(client, experiment: str) -> tuple[list, dict]:
    """The experiment's parent runs (newest first) and each parent's children by cell."""
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])
    parents = [r for r in runs if r.data.tags.get("adaptbench.kind") == "suite_run"]
    children: dict[str, dict] = {p.info.run_id: {} for p in parents}
    for r in runs:
        parent = r.data.tags.get("mlflow.parentRunId")
        if parent:
            children[parent][r.data.tags["adaptbench.cell"]] = r
    return parents, children


def test_a_run_logs_a_parent_and_a_child_per_cell_and_reused_cells_as_reused(
    server, tiny_suite, tmp_path, fake_backend
):
    server.up()
    client = mlflow.MlflowClient(server.uri)
    first = invoke(
        "run", tiny_suite, "--out", tmp_path / "a", "--no-progress", "--mlflow", server.uri
    )
    assert first.exit_code == 0, first.output
    assert "mlflow: 2 cell(s) logged" in first.output and server.uri in first.output
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    (parent,), children = _runs(client, "tiny")
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["adaptbench.logged"] == "complete"
    assert parent.data.metrics["cells_computed"] == 2 and parent.data.params["seed"] == "7"
    shipped = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"results.json", "report.html", "report.md", "results.csv"} <= shipped
    cells = children[parent.info.run_id]
    assert set(cells) == {r["id"] for r in results["runs"]}
    for record in results["runs"]:
        child = cells[record["id"]]
        assert child.info.status == "FINISHED" and child.info.run_name == record["id"]
        for name, summary in record["metrics"].items():
            key = name.replace("@", "_at_")
            assert child.data.metrics[f"{key}.n"] == summary["n"]
            if summary["value"] is not None:
                assert child.data.metrics[key] == pytest.approx(summary["value"])
                assert child.data.metrics[f"{key}.ci_low"] == pytest.approx(summary["ci_low"])
                assert child.data.metrics[f"{key}.ci_high"] == pytest.approx(summary["ci_high"])
        assert child.data.metrics["efficiency.latency_p95_s"] == pytest.approx(
            record["efficiency"]["latency_p95_s"]
        )
        tags = child.data.tags
        assert tags["adaptbench.status"] == "ok" and tags["adaptbench.reused"] == "false"
        assert tags["adaptbench.content_hash"] == record["content_hash"]
        samples = client.list_artifacts(child.info.run_id, "samples")
        assert [a.path for a in samples] == [record["samples"]]
        local = client.download_artifacts(child.info.run_id, record["samples"], str(tmp_path))
        assert Path(local).read_bytes() == (tmp_path / "a" / record["samples"]).read_bytes()
    assert cells["qa__few_shot"].data.params["k"] == "2"

    # A rerun reuses both cells from the cache: a new parent, its children tagged as reused
    # (pointing at the runs that computed them), and no work counted.
    again = invoke(
        "run", tiny_suite, "--out", tmp_path / "b", "--no-progress", "--mlflow", server.uri
    )
    assert again.exit_code == 0, again.output
    assert "2 reused from the cache" in again.output
    parents, children = _runs(client, "tiny")
    assert len(parents) == 2
    rerun = children[parents[0].info.run_id]
    assert parents[0].data.metrics["cells_reused"] == 2
    assert parents[0].data.metrics["work_seconds"] == 0
    for cell, child in rerun.items():
        assert child.data.tags["adaptbench.reused"] == "true"
        assert child.data.tags["adaptbench.reused_from"] == cells[cell].info.run_id

    # Logging the same folder again duplicates nothing.
    replay = invoke("log-mlflow", tmp_path / "b", "--mlflow", server.uri)
    assert replay.exit_code == 0 and "0 cell(s) logged, 2 already logged" in replay.output
    assert len(_runs(client, "tiny")[0]) == 2


def test_a_server_killed_while_logging_does_not_fail_the_run_and_log_mlflow_replays(
    server, tiny_suite, tmp_path, fake_backend, monkeypatch
):
    """The `tracking:` block path. The server dies after the first cell is logged; the run
    still exits 0 with its results, warns with the replay command, and the replay completes
    the log (the first cell kept, the second logged) once the server is back."""
    from harness.reports import tracking

    server.up()
    with tiny_suite.open("a") as suite:
        suite.write(f"tracking: {{mlflow: '{server.uri}', experiment: fault}}\n")
    log_cell = tracking._log_cell

    def log_then_kill(*args):
        log_cell(*args)
        server.kill()

    monkeypatch.setattr(tracking, "_log_cell", log_then_kill)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail at once, not in seconds
    out = tmp_path / "out"
    try:
        r = invoke("run", tiny_suite, "--out", out, "--no-progress")
    finally:
        monkeypatch.setattr(tracking, "_log_cell", log_cell)
        server.start()  # the other tests need it whatever happened here
    assert r.exit_code == 0, r.output
    assert f"warning: MLflow at {server.uri}: " in r.output
    assert "The log did not finish, but the evaluation is complete" in r.output
    assert f"adaptbench log-mlflow {out} --mlflow {server.uri} --experiment fault" in r.output
    results = json.loads((out / "results.json").read_text())
    assert [run["status"] for run in results["runs"]] == ["ok", "ok"]
    assert (out / "report.html").is_file()

    server.up()
    replay = invoke("log-mlflow", out)  # URI and experiment from the run's tracking: block
    assert replay.exit_code == 0, replay.output
    assert "1 cell(s) logged, 1 already logged" in replay.output
    client = mlflow.MlflowClient(server.uri)
    (parent,), children = _runs(client, "fault")
    assert parent.data.tags["adaptbench.logged"] == "complete"
    cells = children[parent.info.run_id]
    assert set(cells) == {"qa__base", "qa__few_shot"}
    assert all(c.data.tags["adaptbench.logged"] == "complete" for c in cells.values())
    for record in results["runs"]:
        logged = cells[record["id"]].data.metrics
        assert logged["token_f1"] == pytest.approx(record["metrics"]["token_f1"]["value"])


def test_a_server_that_is_down_before_the_run_is_refused_before_any_work(
    tiny_suite, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    out = tmp_path / "out"
    dead = f"http://127.0.0.1:{_free_port()}"
    r = invoke("run", tiny_suite, "--out", out, "--mlflow", dead)
    assert r.exit_code == 2, r.output
    assert f"MLflow at {dead} cannot be used" in r.output and "Connection refused" in r.output
    assert not out.exists()
