#!/usr/bin/env python3
"""Screenshot a report.html with headless Chromium (to check the page by eye).

Usage: python scripts/screenshot_report.py REPORT_HTML OUT_PNG [--height PX] [--width PX]

Chromium runs offline-friendly (no background networking, fresh profile in a temp dir) and
the script fails with a clear message when it is missing or writes no PNG.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "install it with: sudo apt-get install -y chromium (Debian/Ubuntu)"


def find_chromium() -> str:
    for name in CANDIDATES:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    raise SystemExit(
        f"error: Chromium not found (looked for {', '.join(CANDIDATES)}); {INSTALL_HINT}"
    )


def screenshot(html: Path, png: Path, width: int = 1400, height: int = 6000) -> Path:
    html, png = html.resolve(), png.resolve()
    if not html.is_file():
        raise SystemExit(f"error: no such file: {html}")
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="adaptbench-chromium-") as profile:
        cmd = [
            find_chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            html.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if not png.is_file() or png.stat().st_size == 0:
        raise SystemExit(
            f"error: Chromium wrote no screenshot (exit {proc.returncode}).\n{proc.stderr[-2000:]}"
        )
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="report.html to render")
    parser.add_argument("png", type=Path, help="where to write the PNG")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=6000, help="viewport height in px")
    args = parser.parse_args(argv)
    out = screenshot(args.html, args.png, args.width, args.height)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
