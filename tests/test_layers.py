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


# Inside handlers: surfaces → use cases (flows) → delivery → rendering → the Slack kit;
# `deps` (what the composition root hands every handler) is below them all but the kit
# and rendering, which never need it. Each layer may import only the ones it lists.
_SURFACE_MAY = {"flows", "delivery", "rendering", "slack_kit", "deps"}
HANDLER_LAYERS: dict[str, set[str]] = {
    "slack": _SURFACE_MAY | {"slack"},
    "api": _SURFACE_MAY | {"api"},
    "calendar_feed": _SURFACE_MAY | {"calendar_feed"},
    "github": _SURFACE_MAY | {"github"},
    "flows": {"flows", "delivery", "rendering", "slack_kit", "deps"},
    "delivery": {"delivery", "rendering", "slack_kit", "deps"},
    "rendering": {"rendering", "slack_kit"},
    "slack_kit": {"slack_kit"},
    "deps": set(),
}


def handler_layers_imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    layers: set[str] = set()
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "handlers" and len(parts) > 1:
                layers.add(parts[1])
    return layers


def _layer_of(path: Path) -> str:
    relative = path.relative_to(ROOT / "handlers")
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def test_every_handlers_package_has_a_layer() -> None:
    packages = {_layer_of(p) for p in (ROOT / "handlers").rglob("*.py")} - {"__init__"}
    assert packages == set(HANDLER_LAYERS)


def test_imports_inside_handlers_run_one_way() -> None:
    offending = {}
    for path in (ROOT / "handlers").rglob("*.py"):
        layer = _layer_of(path)
        if layer == "__init__":
            continue
        wrong = handler_layers_imported(path) - HANDLER_LAYERS[layer] - {layer}
        if wrong:
            offending[str(path.relative_to(ROOT))] = sorted(wrong)
    assert offending == {}
