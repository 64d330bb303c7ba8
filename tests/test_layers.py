"""The layers of durable_host import one way only.

docs/design.md: taskhub <- engine <- http <- server <- cli/testing, with functions beside the
engine; lint (on functions) and replayer (on engine) are used by cli/testing only. Checked on
the source, imports inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "durable_host"

# For each layer, the durable_host layers it may import (besides itself and errors).
ALLOWED: dict[str, set[str]] = {
    "taskhub": set(),
    "functions": set(),
    "tracing": {"taskhub"},
    "engine": {"taskhub", "functions", "tracing"},
    "http": {"engine", "functions", "taskhub", "tracing"},
    "dashboard": {"http", "engine", "functions", "taskhub"},
    "server": {"dashboard", "http", "engine", "functions", "taskhub", "tracing"},
    "lint": {"functions"},
    "replayer": {"engine", "functions", "taskhub"},
    "testing": {
        "server",
        "dashboard",
        "http",
        "engine",
        "functions",
        "taskhub",
        "replayer",
        "tracing",
    },
    "cli": {
        "server",
        "dashboard",
        "http",
        "engine",
        "functions",
        "taskhub",
        "tracing",
        "cli_durable",
        "cli_init",
    },
    "cli_lint": {"server", "lint"},
    "cli_replay": {"server", "replayer", "taskhub"},
    "cli_dashboard": {"cli_replay", "dashboard", "http"},
    "cli_durable": {"server", "engine", "taskhub"},
    "cli_init": {"server"},
}


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_layers(path: Path) -> set[str]:
    layers: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "durable_host" and len(parts) > 1:
                layers.add(parts[1])
    return layers


MODULES = sorted(
    p for p in PACKAGE.rglob("*.py") if layer_of(p) in ALLOWED and p.name != "__main__.py"
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers_only(path: Path) -> None:
    layer = layer_of(path)
    foreign = imported_layers(path) - ALLOWED[layer] - {layer, "errors"}
    assert not foreign, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(foreign)}"


def test_every_layer_is_checked() -> None:
    assert {layer_of(p) for p in MODULES} == set(ALLOWED)
