"""`python -m harness.cli`: the same commands as `adaptbench`."""

from __future__ import annotations

from harness.cli import main

main()
