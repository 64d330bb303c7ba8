"""Orchestrators and entities found from the source alone, for an app that cannot be imported.

Linters run in CI jobs and editors where the app's own dependencies are not installed (an
app importing `azureml` fails to load there). The functions are then found as `build_index`
would find them, without running any of the app: v2 decorators (`@app.orchestration_trigger`,
`@bp.entity_trigger`, `@app.function_name("...")`, the trigger's name override) in the app's
Python files, and v1 `function.json` folders (the `entryPoint`, default `main`, and the
function `df.Orchestrator.create(...)` / `df.Entity.create(...)` wraps).

What this costs: module-level names have no live values (only literal ones are known), so
calls into other app functions are not followed and names computed from non-literal
constants are not checked.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_host.functions.app_files import AppFiles
from durable_host.functions.function_index import DurableFunction, DurableKind, FunctionIndex
from durable_host.lint.rules import Role
from durable_host.lint.source import FunctionNode, ModuleSource, SourceCache, dotted

__all__ = ["SourceFunction", "find_functions", "module_namespace", "source_index"]

# decorator / binding type -> (kind, the trigger's name override keyword, v1 key)
_TRIGGERS = {
    "orchestration_trigger": (DurableKind.ORCHESTRATOR, "orchestration"),
    "activity_trigger": (DurableKind.ACTIVITY, "activity"),
    "entity_trigger": (DurableKind.ENTITY, "entity_name"),
}
_V1_TRIGGERS = {
    "orchestrationtrigger": (DurableKind.ORCHESTRATOR, "orchestration"),
    "activitytrigger": (DurableKind.ACTIVITY, "activity"),
    "entitytrigger": (DurableKind.ENTITY, "entityName"),
}
_ROLES = {DurableKind.ORCHESTRATOR: Role.ORCHESTRATOR, DurableKind.ENTITY: Role.ENTITY}


@dataclass(frozen=True)
class SourceFunction:
    name: str  # the durable name
    kind: DurableKind
    module: ModuleSource | None  # None when its file could not be parsed
    node: FunctionNode | None

    @property
    def role(self) -> Role | None:
        return _ROLES.get(self.kind)


class _Opaque:
    """A module-level name whose value is unknown without importing the module."""


def module_namespace(module: ModuleSource) -> dict[str, Any]:
    """Module-level names: literal values where the source gives them, else opaque ones
    (enough for the checks to tell app names from imported and builtin ones)."""
    namespace: dict[str, Any] = {}
    for statement in module.tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            namespace[statement.name] = _Opaque()
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = _literal(statement.value)
            for target in targets:
                if isinstance(target, ast.Name):
                    namespace[target.id] = value
    return namespace


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        empty = {"list": [], "dict": {}, "set": set(), "bytearray": bytearray()}
        if isinstance(node.func, ast.Name) and node.func.id in empty:
            return empty[node.func.id]
    return _Opaque()


def find_functions(root: Path, cache: SourceCache) -> list[SourceFunction]:
    """Every durable function the app declares, by its decorators or its function.json."""
    files = AppFiles(root)
    declarations = sorted(root.glob("*/function.json"))
    found: list[SourceFunction] = []
    for path in sorted(root.rglob("*.py")):
        if files.contains(str(path)) and not _hidden(path, root):
            module = cache.module(path.resolve(), _module_name(root, path, bool(declarations)))
            if module is not None:
                found.extend(_decorated(module))
    for function_json in declarations:
        found.extend(_declared(root, function_json, cache))
    return found


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _module_name(root: Path, path: Path, v1: bool) -> str:
    """The name the module gets when the app loads (v1: under the `__app__` package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["__app__", *parts] if v1 else parts)


def _decorated(module: ModuleSource) -> Iterator[SourceFunction]:
    for node in ast.walk(module.tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        kind, name = None, node.name
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            method = (dotted(call.func if call else decorator) or [""])[-1]
            if method in _TRIGGERS:
                kind, override = _TRIGGERS[method]
                name = _keyword_text(call, override) or name
            elif method == "function_name" and call is not None:
                name = _keyword_text(call, "name", positional=True) or name
        if kind is not None:
            yield SourceFunction(name, kind, module, node)


def _keyword_text(call: ast.Call | None, keyword: str, *, positional: bool = False) -> str | None:
    if call is None:
        return None
    values = [k.value for k in call.keywords if k.arg == keyword]
    if positional and call.args:
        values.append(call.args[0])
    value = values[0] if values else None
    return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None


def _declared(root: Path, function_json: Path, cache: SourceCache) -> Iterator[SourceFunction]:
    try:
        declaration = json.loads(function_json.read_text(encoding="utf-8-sig"))
        bindings = declaration.get("bindings") or []
    except (OSError, ValueError, AttributeError):
        return
    for binding in bindings:
        trigger = _V1_TRIGGERS.get(str(binding.get("type", "")).lower())
        if trigger is None:
            continue
        kind, override = trigger
        folder = function_json.parent
        name = binding.get(override) or folder.name
        script = folder / str(declaration.get("scriptFile") or "__init__.py")
        module = cache.module(script.resolve(), _module_name(root, script, True))
        entry = str(declaration.get("entryPoint") or "main")
        node = _entry_function(module, entry) if module is not None else None
        yield SourceFunction(name, kind, module, node)


def _entry_function(module: ModuleSource, entry: str) -> FunctionNode | None:
    """The def named `entry`, or the one `entry = df.Orchestrator.create(f)` wraps."""
    defs = {
        n.name: n
        for n in module.tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    if entry in defs:
        return defs[entry]
    for statement in module.tree.body:
        if (
            isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == entry for t in statement.targets)
            and isinstance(statement.value, ast.Call)
            and statement.value.args
            and isinstance(statement.value.args[0], ast.Name)
        ):
            return defs.get(statement.value.args[0].id)
    return None


def source_index(root: Path, functions: list[SourceFunction]) -> FunctionIndex:
    """A FunctionIndex of the names found, for the checks of durable function names."""
    tables: dict[DurableKind, dict[str, DurableFunction]] = {k: {} for k in DurableKind}
    for fn in functions:
        tables[fn.kind][fn.name] = DurableFunction(
            name=fn.name,
            function_name=fn.name,
            kind=fn.kind,
            user_function=_Opaque,
            trigger_param="",
            requires_context=False,
            is_async=False,
            function_id="",
            function_directory=str(root),
        )
    return FunctionIndex(
        app_dir=str(root),
        orchestrators=tables[DurableKind.ORCHESTRATOR],
        activities=tables[DurableKind.ACTIVITY],
        entities=tables[DurableKind.ENTITY],
    )
