"""Import an app's `function_app.py` and index its functions, as the Python worker does.

The worker imports the script as a top-level module (`function_app`) with the app
folder on `sys.path`, takes the one `FunctionRegister` (`FunctionApp`/`DFApp`)
instance defined at module level and calls `get_functions()`; it then checks each
function's parameters against its bindings (`Registry.add_indexed_function`).

Differences from the worker, on purpose:
- The worker also `chdir`s into the app folder. A library must not change the
  process-wide cwd behind its caller's back, so `load_app` only sets
  `AzureWebJobsScriptRoot`; relative paths in user code resolve against the
  process cwd (the CLI starts the host from the app folder, which gives the same
  result as the worker).
- A function the worker would refuse to load (parameter/binding mismatch) makes
  the whole load fail here, with the worker's message, instead of being skipped.

Loading another app folder in the same process replaces the previous one: the
previous app's modules (those imported from its folder while it loaded) are
removed from `sys.modules`, and modules of the same top-level name imported from
elsewhere are dropped so the new folder's copies are imported. Objects created
from the previous app's modules keep working but are no longer reachable by
import; two apps cannot be loaded side by side.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_host.errors import AppLoadError
from durable_host.functions.classify import build_index
from durable_host.functions.function_index import (
    FunctionIndex,
    FunctionSource,
)
from durable_host.functions.loader_v1 import V1_PACKAGE, is_v1_app, load_v1_functions

SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"
DEFAULT_SCRIPT_FILE = "function_app.py"
SCRIPT_ROOT_SETTING = "AzureWebJobsScriptRoot"

# Never evicted from sys.modules even if an app folder has an entry of that name.
_PROTECTED_MODULES = frozenset({"azure", "durable_host", "google", "aiohttp"})


@dataclass
class _LoadedApp:
    app_dir: Path
    module_names: set[str]


_current: _LoadedApp | None = None


def load_app(app_dir: Path | str, *, script_file: str | None = None) -> FunctionIndex:
    """Import `<app_dir>/function_app.py` and index its functions.

    `script_file` defaults to the `PYTHON_SCRIPT_FILE_NAME` setting, then
    `function_app.py`, like the worker. Raises `AppLoadError` with the fix in
    the message when the file is missing, fails to import, defines no app (or
    several), or defines functions the worker would refuse.
    """
    root = Path(app_dir).resolve()
    script = script_file or os.environ.get(SCRIPT_FILE_SETTING) or DEFAULT_SCRIPT_FILE
    script_path = root / script
    if not script_path.is_file():
        if is_v1_app(root):
            return build_index(root, load_v1_functions(root, _import_fresh))
        raise AppLoadError(
            f"No {script} in {root}, and no function folders with a function.json. "
            f"durable_host runs apps on the Python v2 programming model (functions declared "
            f"in {script} with a df.DFApp) and on the v1 model (one folder per function with "
            "its function.json); run it from (or pass) the app folder."
        )
    (module,) = _import_fresh(root, Path(script).stem)
    functions = _get_functions(_find_app(module, script), script)
    return build_index(root, [_v2_source(fn) for fn in functions])


def _import_fresh(
    root: Path,
    module_name: str,
    modules: Sequence[str] = (),
    *,
    prepare: Callable[[], None] | None = None,
) -> list[Any]:
    """Import `module_name` (the v2 script, or the v1 package `__app__`), then `modules`.

    Returns the modules of `modules`, or `[module_name's module]` when there are none.
    `prepare` runs once the previous app is forgotten (v1 installs `__app__` there).
    """
    global _current
    _forget_previous_app(root, module_name)
    if prepare is not None:
        prepare()
    os.environ[SCRIPT_ROOT_SETTING] = str(root)
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()

    before = set(sys.modules)
    imported: list[Any] = []
    current = module_name
    try:
        first = importlib.import_module(module_name)
        for current in modules:
            imported.append(importlib.import_module(current))
    except (Exception, SystemExit) as exc:
        # Formatted first: from Python 3.12 on, formatting an ImportError imports the
        # module it names (for "Did you mean" hints), which the eviction must then undo.
        details = _user_traceback(exc)
        _evict(name for name in set(sys.modules) - before if _is_under(sys.modules[name], root))
        sys.modules.pop(module_name, None)
        raise AppLoadError(
            f"Importing {_module_file(root, current)} failed; fix the error below "
            f"and start again.\n{details}"
        ) from exc
    loaded = {name for name in set(sys.modules) - before if _is_under(sys.modules[name], root)}
    _current = _LoadedApp(root, loaded | {module_name})
    return imported or [first]


def _module_file(root: Path, module_name: str) -> Path:
    parts = module_name.split(".")
    if parts[0] == V1_PACKAGE:
        parts = parts[1:]
    path = root.joinpath(*parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _forget_previous_app(root: Path, module_name: str) -> None:
    if _current is not None:
        _evict(_current.module_names)
        if _current.app_dir != root and str(_current.app_dir) in sys.path:
            sys.path.remove(str(_current.app_dir))
    sys.modules.pop(module_name, None)
    # A module of the same name imported from elsewhere (e.g. another app's
    # `activities` package) would shadow this folder's copy.
    for name in _top_level_names(root):
        existing = sys.modules.get(name)
        if existing is not None and not _is_under(existing, root):
            _evict([name])


def _top_level_names(root: Path) -> set[str]:
    names = set()
    for entry in root.iterdir():
        if entry.suffix == ".py":
            names.add(entry.stem)
        elif entry.is_dir() and entry.name.isidentifier():
            names.add(entry.name)
    stdlib: frozenset[str] = getattr(sys, "stdlib_module_names", frozenset())
    return {n for n in names if n not in stdlib and n not in _PROTECTED_MODULES}


def _evict(names: Iterable[str]) -> None:
    doomed = set(names)
    prefixes = tuple(f"{name}." for name in doomed)
    doomed.update(m for m in list(sys.modules) if prefixes and m.startswith(prefixes))
    for name in doomed:
        sys.modules.pop(name, None)


def _is_under(module: Any, root: Path) -> bool:
    locations = [getattr(module, "__file__", None), *list(getattr(module, "__path__", []) or [])]
    return any(loc and Path(loc).resolve().is_relative_to(root) for loc in locations)


def _user_traceback(exc: BaseException) -> str:
    """The traceback without importlib's and this module's frames."""
    plumbing = {__file__, importlib.__file__}
    tb = traceback.TracebackException.from_exception(exc)
    tb.stack = traceback.StackSummary.from_list(
        [f for f in tb.stack if not f.filename.startswith("<frozen") and f.filename not in plumbing]
    )
    return "".join(tb.format()).rstrip()


def _find_app(module: Any, script: str) -> Any:
    from azure.functions import FunctionRegister

    apps: list[Any] = []
    for attr in module.__dir__():
        value = getattr(module, attr, None)
        # The worker also rejects two names bound to one app; an alias is harmless here.
        if isinstance(value, FunctionRegister) and not any(value is a for a in apps):
            apps.append(value)
    if not apps:
        raise AppLoadError(
            f"Could not find top level function app instances in {script}. Define one at "
            "module level, e.g. `app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)`, "
            "and register blueprints on it with `app.register_functions(bp)`."
        )
    if len(apps) > 1:
        raise AppLoadError(
            f"More than one {type(apps[0]).__name__} or other top level function app instances "
            f"are defined in {script}. Keep one app and turn the others into df.Blueprint "
            "objects registered with `app.register_functions(bp)`."
        )
    return apps[0]


def _get_functions(app: Any, script: str) -> list[Any]:
    try:
        return list(app.get_functions())
    except ValueError as exc:
        raise AppLoadError(f"Indexing the functions of {script} failed: {exc}") from exc


def _v2_source(fn: Any) -> FunctionSource:
    name: str = fn.get_function_name()
    bindings = [json.loads(raw) for raw in fn.get_raw_bindings()]
    trigger = fn.get_trigger()
    binding = next(
        (b for b in bindings if b.get("name") == trigger.name and b.get("type") == trigger.type),
        None,
    )
    if binding is None:
        raise AppLoadError(f"Function '{name}' has no trigger binding.")
    user_function: Callable[..., Any] = fn.get_user_function()
    directory = _function_directory(user_function)
    return FunctionSource(name, bindings, binding, user_function, directory)


def _function_directory(user_function: Callable[..., Any]) -> str:
    # Like the worker: the folder of the file defining the callable it invokes
    # (for DFApp-wrapped functions that is inside azure-functions-durable).
    try:
        return str(Path(inspect.getfile(user_function)).parent)
    except TypeError:
        return ""
