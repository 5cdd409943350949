"""Progress and warning lines on stderr, from the main process only."""

from __future__ import annotations

import sys

from harness.common import distributed


def log(msg: str) -> None:
    """Print `[adaptbench] msg` to stderr; helper ranks of a multi-GPU run stay quiet."""
    if distributed.is_main():
        print(f"[adaptbench] {msg}", file=sys.stderr, flush=True)
