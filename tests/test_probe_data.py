"""The shipped probe files are exactly what their generator (outside the package) writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "suites" / "data" / "probes" / "generate.py"
SHIPPED = ROOT / "harness" / "probes"


def test_probe_generator_writes_the_shipped_files_byte_for_byte(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("probe_generator", GENERATOR)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.OUT_DIR == SHIPPED  # where a plain run writes
    monkeypatch.setattr(generator, "MC_PATH", tmp_path / "general_mc.jsonl")
    monkeypatch.setattr(generator, "SA_PATH", tmp_path / "short_answer.jsonl")
    generator.main()
    for name in ("general_mc.jsonl", "short_answer.jsonl"):
        assert (tmp_path / name).read_bytes() == (SHIPPED / name).read_bytes(), name
    assert "general_mc.jsonl: 258 items" in capsys.readouterr().out


def test_the_generator_is_not_installed_with_the_package():
    import harness.probes

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("harness.probes.generate")
    assert not (Path(harness.probes.__file__).parent / "generate.py").exists()
