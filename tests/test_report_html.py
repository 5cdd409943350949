"""report.html: self-contained, escaped, with every plot and the failing-item browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.reports.html import render_html
from harness.reports.runfiles import RunFolderError
from harness.reports.view import ReportView
from harness.spec.record import Results

XSS = "<script>alert(1)</script>"
WEIRD_ARM = "a<b&c"


def _metric(value: float, n: int = 2, higher: bool | None = True) -> dict:
    return {
        "value": value,
        "ci_low": max(value - 0.1, 0.0),
        "ci_high": min(value + 0.1, 1.0),
        "n": n,
        "higher_is_better": higher,
    }


def _run(arm: str, kind: str, em: float, far: float, **extra) -> dict:
    return {
        "id": f"qa__{arm}",
        "task": "qa",
        "arm": arm,
        "kind": kind,
        "role": "baseline" if kind == "base" else "contender",
        "status": "ok",
        "reason": None,
        "metrics": {
            "exact_match": _metric(em),
            "false_answer_rate": _metric(far, higher=False),
            "unanswerable_answered": _metric(0.5, n=1, higher=False),
        },
        "efficiency": {
            "tokens_per_s": 12.5,
            "latency_p50_s": 0.2,
            "latency_p95_s": 0.3 if kind == "base" else 0.5,
            "peak_memory_bytes": 3 * 2**30,
            "memory_kind": "cuda",
            "params_total": 135_000_000,
            "params_trainable": 0 if kind == "base" else 1_000_000,
            "phases": {"predict": {"seconds": 1.5}},
            **extra.pop("efficiency", {}),
        },
        "samples": f"samples/qa__{arm}.jsonl",
        **extra,
    }


def _sample(item_id: str, output: str, em: float) -> dict:
    return {
        "id": item_id,
        "prompt": "Question: what is the deductible?\n" * 40,
        "output": output,
        "gold": ["$640"],
        "answerable": True,
        "scores": {"exact_match": {"value": em, "reason": f"reason for {item_id}"}},
        "extra": {},
    }


def _write_run(tmp_path: Path) -> dict:
    runs = [
        _run("base", "base", 0.5, 0.5),
        _run(
            WEIRD_ARM,
            "lora",
            0.75,
            0.25,
            efficiency={"training": {"seconds": 42.0, "tokens_per_s": 900.0}},
            forgetting={"probe": _metric(0.1), "mean": _metric(0.1, higher=False)},
        ),
        {
            "id": "qa__broken",
            "task": "qa",
            "arm": "broken",
            "kind": "lora",
            "status": "oom",
            "reason": "CUDA out of memory <b>bold?</b>",
            "metrics": {},
            "efficiency": {},
            "samples": "samples/qa__broken.jsonl",
        },
    ]
    samples = tmp_path / "samples"
    samples.mkdir()
    rows = {
        "base": [_sample("q-001", "$640", 1.0), _sample("q-002", XSS, 0.0)],
        WEIRD_ARM: [_sample("q-001", "$640", 1.0), _sample("q-003", "no idea", 0.0)],
    }
    for arm, items in rows.items():
        path = samples / f"qa__{arm}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return {
        "suite": "synthetic <suite>",
        "created": "2026-01-01T00:00:00+00:00",
        "limit": None,
        "environment": {
            "device": "cuda",
            "device_name": "Test GPU",
            "dtype": "bfloat16",
            "git_sha": "0123456789abcdef",
            "git_dirty": False,
            "adaptbench": "0.1.0",
            "seed": 1,
        },
        "model": {"name": "tiny", "source": "local", "fingerprint": "abc"},
        "metric_definitions": {
            "exact_match": {"higher_is_better": True, "description": "exact"},
            "false_answer_rate": {"higher_is_better": False, "description": "wrong answers"},
            "unanswerable_answered": {"higher_is_better": False, "description": "no abstain"},
        },
        "tasks": {"qa": {"eval_items": 2, "eval_items_total": 2, "splits": {"eval": 2}}},
        "runs": runs,
    }


def _render(payload: dict, run_dir: Path) -> str:
    return render_html(ReportView.of(Results.model_validate(payload), run_dir))


def test_render_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    payload = _write_run(tmp_path)
    html = _render(payload, tmp_path)

    # model output and arm names are text, never markup
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert WEIRD_ARM not in html
    assert "a&lt;b&amp;c" in html
    assert "<b>bold?</b>" not in html
    assert re.search(r"<script", html, re.IGNORECASE) is None

    # nothing is fetched from anywhere
    assert re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I) is None
    assert "@import" not in html
    assert re.search(r"url\(\s*[\"']?\s*(?:https?:)?//", html, re.I) is None

    # four plots (accuracy vs training, vs latency, forgetting vs gain, hallucination)
    assert html.count("<svg") == 4
    assert "no arm trains" not in html.lower()

    # the failing-item browser lists each arm's failing item, inside <details>
    browser = html[html.index("Failing items") :]
    assert "<details" in browser
    assert "q-002" in browser and "q-003" in browser
    assert "reason for q-002" in browser
    assert "q-001" not in browser  # it passed for both arms

    # the failed arm is reported with its status
    assert "oom" in html and "CUDA out of memory" in html


def test_render_html_without_training_or_forgetting(tmp_path: Path) -> None:
    payload = _write_run(tmp_path)
    for run in payload["runs"]:
        run.pop("forgetting", None)
        (run.get("efficiency") or {}).pop("training", None)
    html = _render(payload, tmp_path)
    assert html.count("<svg") == 3  # forgetting becomes a note, not an empty plot
    assert "No arm trains in this run" in html
    assert "No arm in this task measured forgetting" in html


def _long_answer_run(tmp_path: Path) -> dict:
    """A paragraph-answer task: graded token_f1 and unsupported_share, no 0/1 metric."""
    payload = _write_run(tmp_path)
    scores = {"base": [0.9, 0.35, 0.6, 1.0, 0.2], WEIRD_ARM: [0.8, 0.7, 0.0, 1.0, 0.5]}
    for run in payload["runs"][:2]:
        run["metrics"] = {
            "token_f1": _metric(sum(scores[run["arm"]]) / 5, n=5),
            "unsupported_share": _metric(0.3, n=5, higher=False),
        }
        rows = []
        for i, v in enumerate(scores[run["arm"]]):
            row = _sample(f"p-{i}", f"paragraph {i}", 0.0)
            row["scores"] = {"token_f1": {"value": v, "reason": f"f1 of p-{i}"}}
            rows.append(row)
        (tmp_path / run["samples"]).write_text("".join(json.dumps(r) + "\n" for r in rows))
    payload["metric_definitions"] |= {
        "token_f1": {"higher_is_better": True, "description": "f1"},
        "unsupported_share": {"higher_is_better": False, "description": "unsupported"},
    }
    return payload


def test_hallucination_panel_shows_unsupported_share_on_long_answers(tmp_path: Path) -> None:
    html = _render(_long_answer_run(tmp_path), tmp_path)
    assert "No hallucination metric in this task" not in html
    assert html.count("<svg") == 4  # the hallucination plot is drawn, not a note


def test_graded_scores_list_the_lowest_scoring_items(tmp_path: Path) -> None:
    html = _render(_long_answer_run(tmp_path), tmp_path)
    browser = html[html.index("Failing items") :]
    assert "lowest-scoring items by <b>token_f1</b>" in browser
    base = browser[browser.index("<code>base</code>") : browser.index("a&lt;b&amp;c</code>")]
    assert "lowest 4 of 5 items (0 score 0)" in base
    # lowest first; the item with full credit is not listed
    order = [base.index(f"<code>p-{i}</code>") for i in (4, 1, 2, 0)]
    assert order == sorted(order) and "<code>p-3</code>" not in base


def test_render_html_refuses_a_missing_samples_file(tmp_path: Path) -> None:
    payload = _write_run(tmp_path)
    samples = tmp_path / "samples" / "qa__base.jsonl"
    samples.unlink()
    with pytest.raises(RunFolderError, match=str(samples)):
        _render(payload, tmp_path)
