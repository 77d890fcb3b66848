"""The tree's rule: imports run one way, bot → handlers and scheduler → models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> our packages it must never import
FORBIDDEN = {
    "models": {"bot", "handlers", "scheduler"},
    "handlers": {"bot", "scheduler"},
    "scheduler": {"bot", "handlers"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_one_way(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_no_two_modules_share_a_name() -> None:
    """A newcomer finds a thing by its file's name: one name, one module."""
    seen: dict[str, str] = {}
    clashes = []
    for package in ("bot", "handlers", "models", "scheduler"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "__init__.py":
                continue
            where = str(path.relative_to(ROOT))
            if path.stem in seen:
                clashes.append((seen[path.stem], where))
            seen[path.stem] = where
    assert clashes == []
