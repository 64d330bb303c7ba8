"""The layers of durable_host import one way only.

docs/design.md: taskhub <- engine <- http <- server <- cli/testing, with functions beside the
engine, and inside the engine {time, replay, log_context} <- dispatch <- client <- runtime;
lint (on functions) and history_check (on engine) are used by cli/testing only. Checked on the
source, imports inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "durable_host"

# For each layer, the durable_host layers it may import (besides itself and errors).
ALLOWED: dict[str, set[str]] = {
    "taskhub": set(),
    "protobuf": {"taskhub"},
    "functions": set(),
    "tracing": {"taskhub"},
    "engine": {"taskhub", "functions", "tracing", "protobuf"},
    "http": {"engine", "functions", "taskhub", "tracing", "protobuf"},
    "grpc_api": {"engine", "functions", "taskhub", "protobuf"},
    "dashboard": {"http", "engine", "functions", "taskhub"},
    "server": {
        "dashboard",
        "http",
        "grpc_api",
        "engine",
        "functions",
        "taskhub",
        "tracing",
        "protobuf",
    },
    "lint": {"functions"},
    "history_check": {"engine", "functions", "taskhub", "protobuf"},
    "testing": {
        "server",
        "grpc_api",
        "dashboard",
        "http",
        "engine",
        "functions",
        "taskhub",
        "history_check",
        "tracing",
        "protobuf",
    },
    "cli": {
        "server",
        "grpc_api",
        "dashboard",
        "http",
        "engine",
        "functions",
        "taskhub",
        "tracing",
        "protobuf",
        "lint",
        "history_check",
    },
}


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_modules(path: Path, source: str | None = None) -> list[list[str]]:
    """The dotted parts of every import in `path`, inside functions too; relative imports
    resolved against `path`'s package, so `from ..server import x` is seen as what it is."""
    if source is None:
        source = path.read_text(encoding="utf-8")
    package = list(path.relative_to(PACKAGE.parent).parent.parts)
    modules: list[list[str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = [] if node.level == 0 else package[: len(package) - (node.level - 1)]
            if node.module:
                modules.append(base + node.module.split("."))
            else:
                modules.extend([*base, alias.name] for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name.split(".") for alias in node.names)
    return modules


def imported_layers(path: Path, source: str | None = None) -> set[str]:
    modules = imported_modules(path, source)
    return {m[1] for m in modules if m[0] == "durable_host" and len(m) > 1}


MODULES = sorted(
    p for p in PACKAGE.rglob("*.py") if layer_of(p) in ALLOWED and p.name != "__main__.py"
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers_only(path: Path) -> None:
    layer = layer_of(path)
    foreign = imported_layers(path) - ALLOWED[layer] - {layer, "errors"}
    assert not foreign, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(foreign)}"


# Inside the engine, its sub-packages also go one way: time, replay and log_context import no
# other part; dispatch imports those three; executors (the implementations of the seam that
# dispatch/executors.py defines) import replay and dispatch; client imports dispatch, time
# and log_context;
# runtime.py (the Engine) wires them all. The replay core knows nothing of queues or clocks.
ENGINE = PACKAGE / "engine"
ENGINE_ALLOWED: dict[str, set[str]] = {
    "time": set(),
    "replay": set(),
    "log_context": set(),
    "dispatch": {"time", "replay", "log_context"},
    "executors": {"replay", "dispatch", "log_context"},
    "client": {"time", "dispatch", "log_context"},
    "runtime": {"time", "replay", "dispatch", "executors", "client", "log_context"},
}


def engine_part_of(path: Path) -> str:
    relative = path.relative_to(ENGINE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_engine_parts(path: Path) -> set[str]:
    return {
        m[2] for m in imported_modules(path) if m[:2] == ["durable_host", "engine"] and len(m) > 2
    }


ENGINE_MODULES = sorted(p for p in ENGINE.rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", ENGINE_MODULES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_engine_subpackages_import_one_way(path: Path) -> None:
    part = engine_part_of(path)
    foreign = imported_engine_parts(path) - ENGINE_ALLOWED[part] - {part}
    assert not foreign, f"engine/{path.relative_to(ENGINE)} ({part}) imports {sorted(foreign)}"


def test_every_engine_part_is_checked() -> None:
    assert {engine_part_of(p) for p in ENGINE_MODULES} == set(ENGINE_ALLOWED)


def test_every_layer_is_checked() -> None:
    assert {layer_of(p) for p in MODULES} == set(ALLOWED)


# Inside the cli, each command imports only the layers it needs (the layer map above allows the
# union): `durable-host lint` starts without the server or the storage SDKs, and the commands
# import each other only where one reuses another's option or connection lookup.
CLI = PACKAGE / "cli"
CLI_ALLOWED: dict[str, set[str]] = {
    "program": {"cli", "server"},
    "start_command": {"cli", "engine", "functions", "server"},
    "poison_commands": {"server"},
    "init_command": {"server"},
    "lint_command": {"server", "lint"},
    "replay_commands": {"server", "history_check", "taskhub"},
    "dashboard_command": {"cli", "dashboard", "http"},
    "sidecar_command": {"cli", "server"},
    "durable_commands": {"cli", "server", "engine", "taskhub"},
}


def cli_part_of(path: Path) -> str:
    relative = path.relative_to(CLI)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


CLI_MODULES = sorted(p for p in CLI.rglob("*.py") if p != CLI / "__init__.py")


@pytest.mark.parametrize("path", CLI_MODULES, ids=lambda p: str(p.relative_to(CLI)))
def test_each_command_imports_only_what_it_needs(path: Path) -> None:
    part = cli_part_of(path)
    foreign = imported_layers(path) - CLI_ALLOWED[part] - {"errors"}
    assert not foreign, f"cli/{path.relative_to(CLI)} ({part}) imports {sorted(foreign)}"


def test_every_command_module_is_checked() -> None:
    assert {cli_part_of(p) for p in CLI_MODULES} == set(CLI_ALLOWED)


def test_the_check_sees_absolute_relative_and_nested_imports() -> None:
    path = PACKAGE / "taskhub" / "example.py"
    source = "\n".join(
        [
            "import durable_host.engine.runtime",
            "from ..server import host",
            "from .. import http",
            "from . import names",
            "def later():",
            "    from durable_host.cli import program",
        ]
    )
    assert imported_layers(path, source) == {"engine", "server", "http", "taskhub", "cli"}
