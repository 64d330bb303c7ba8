"""v1 apps: one folder per function with a `function.json`, loaded as the Python worker does.

The worker imports each function's `scriptFile` as a module of the package `__app__`,
whose path is the app folder (`Counter/__init__.py` is `__app__.Counter`), so a relative
import between folders (`from ..shared_code import x`) works; the app folder is also on
`sys.path` for absolute imports. The function is the module's `entryPoint` (default
`main`); its parameters must match the bindings' names, an `out` binding's parameter is a
`func.Out`, and the function name is the folder name.

A broken layout fails with the path of the function.json at fault and what to change.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import inspect
import json
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

from durable_host.errors import AppLoadError
from durable_host.functions.function_index import FunctionSource

V1_PACKAGE = "__app__"
FUNCTION_JSON = "function.json"
DEFAULT_SCRIPT_FILE = "__init__.py"
DEFAULT_ENTRY_POINT = "main"

ImportFresh = Callable[..., list[Any]]
"""loader._import_fresh(root, package, modules, prepare=...) -> the imported modules."""


@dataclass(frozen=True)
class _Declaration:
    """What one function.json says, checked."""

    name: str
    path: Path  # the function.json
    script: Path
    entry_point: str
    bindings: list[dict[str, Any]]
    trigger: dict[str, Any]
    module_name: str


def is_v1_app(root: Path) -> bool:
    return any(_function_folders(root))


def load_v1_functions(root: Path, import_fresh: ImportFresh) -> list[FunctionSource]:
    declarations = [_read_declaration(root, folder) for folder in _function_folders(root)]
    modules = import_fresh(
        root,
        V1_PACKAGE,
        [d.module_name for d in declarations],
        prepare=lambda: _install_app_package(root),
    )
    sources = []
    for declaration, module in zip(declarations, modules, strict=True):
        user_function = getattr(module, declaration.entry_point, None)
        if user_function is None or not callable(user_function):
            raise AppLoadError(
                f"{declaration.path}: cannot load function {declaration.name}: function "
                f"{declaration.entry_point}() is not present in {declaration.script}. Define it, "
                'or name the right function in "entryPoint".'
            )
        _check_directions(declaration, user_function)
        sources.append(
            FunctionSource(
                name=declaration.name,
                bindings=declaration.bindings,
                trigger=declaration.trigger,
                user_function=user_function,
                directory=str(declaration.path.parent),
                origin=str(declaration.path),
            )
        )
    return sources


def _function_folders(root: Path) -> list[Path]:
    return sorted(
        child
        for child in root.iterdir()
        if child.is_dir() and not child.name.startswith(".") and (child / FUNCTION_JSON).is_file()
    )


def _read_declaration(root: Path, folder: Path) -> _Declaration:
    path = folder / FUNCTION_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise AppLoadError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    bindings = data.get("bindings") if isinstance(data, dict) else None
    if not isinstance(bindings, list) or not all(
        isinstance(b, dict) and isinstance(b.get("name"), str) and b.get("type") for b in bindings
    ):
        raise AppLoadError(
            f'{path}: needs a "bindings" list whose entries each have a "name" and a "type".'
        )
    triggers = [b for b in bindings if str(b["type"]).endswith("Trigger")]
    if len(triggers) != 1:
        raise AppLoadError(
            f"{path}: a function has exactly one trigger binding (a type ending in 'Trigger'), "
            f"found {len(triggers)}."
        )
    script = _script_path(root, folder, path, data.get("scriptFile"))
    return _Declaration(
        name=folder.name,
        path=path,
        script=script,
        entry_point=str(data.get("entryPoint") or DEFAULT_ENTRY_POINT),
        bindings=bindings,
        trigger=triggers[0],
        module_name=_module_name(root, script),
    )


def _script_path(root: Path, folder: Path, path: Path, script_file: Any) -> Path:
    if script_file is None:
        if not (folder / DEFAULT_SCRIPT_FILE).is_file():
            raise AppLoadError(
                f'{path}: has no "scriptFile" and {folder.name}/{DEFAULT_SCRIPT_FILE} does not '
                'exist. Add "scriptFile": "__init__.py" (or the script that defines main).'
            )
        return folder / DEFAULT_SCRIPT_FILE
    script = (folder / str(script_file)).resolve()
    if script.suffix != ".py":
        raise AppLoadError(
            f"{path}: cannot load function {folder.name}: invalid Python filename {script_file}"
        )
    if not script.is_file():
        raise AppLoadError(f'{path}: "scriptFile" {script_file!r} does not exist ({script}).')
    if not script.is_relative_to(root):
        raise AppLoadError(f'{path}: "scriptFile" {script_file!r} is outside the app folder.')
    return script


def _module_name(root: Path, script: Path) -> str:
    parts = list(script.relative_to(root).parts)
    stem = Path(parts.pop()).stem
    if stem != "__init__":
        parts.append(stem)
    return ".".join([V1_PACKAGE, *parts])


def _install_app_package(root: Path) -> None:
    """`__app__`: a namespace package over the app folder (the worker's loader.install)."""
    spec = importlib.machinery.ModuleSpec(V1_PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(root)]
    sys.modules[V1_PACKAGE] = importlib.util.module_from_spec(spec)


def _check_directions(declaration: _Declaration, user_function: Callable[..., Any]) -> None:
    """The worker's rule: an `out` binding's annotated parameter is a func.Out, and only it."""
    try:
        hints = typing.get_type_hints(user_function)
    except Exception:
        hints = {}
    params = inspect.signature(user_function).parameters
    for binding in declaration.bindings:
        name = binding["name"]
        if name not in params or name not in hints:
            continue
        is_out = _is_out_annotation(hints[name])
        if binding.get("direction") == "out" and not is_out:
            raise AppLoadError(
                f"{declaration.path}: cannot load the {declaration.name} function: binding "
                f'{name} is declared to have the "out" direction, but its annotation in Python '
                "is not a subclass of azure.functions.Out (use func.Out[func.HttpResponse])."
            )
        if binding.get("direction") != "out" and is_out:
            raise AppLoadError(
                f"{declaration.path}: cannot load the {declaration.name} function: binding "
                f'{name} is declared to have the "in" direction, but its annotation in Python '
                "is azure.functions.Out."
            )


def _is_out_annotation(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, func.Out)


__all__: Sequence[str] = ["V1_PACKAGE", "is_v1_app", "load_v1_functions"]
