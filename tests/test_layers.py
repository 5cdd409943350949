"""The folders of harness/ are layers that import only downwards (README: Layout).

The rank of each layer is the number in the README's layout block; a module may import its own
layer or a lower one, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import harness

ROOT = Path(harness.__file__).parent
RANK = {
    "common": 0,
    "metrics": 0,
    "spec": 1,
    "models": 2,
    "data": 3,
    "engine": 4,
    "arms": 5,
    "reports": 6,
    "run": 7,
    "cli": 8,
}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "harness" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def test_every_layer_is_ranked():
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - {"probes"} <= set(RANK), f"unranked layer(s): {folders - set(RANK)}"


def test_modules_import_only_their_own_layer_or_lower():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        own = path.relative_to(ROOT).parts[0]
        if own not in RANK:
            continue
        for line, module in _imports(path):
            target = _layer(module)
            if target in RANK and RANK[target] > RANK[own]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not upward, "imports that point upwards:\n" + "\n".join(upward)
