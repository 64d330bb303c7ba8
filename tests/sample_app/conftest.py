"""Fixtures for the app's tests: the app's functions, indexed once as the worker would."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PROJECT_DIR = HERE.parents[1]
# The app's packages live at the project root; app_history.py beside this file.
for folder in (PROJECT_DIR, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def load_function_app() -> ModuleType:
    """A private copy of function_app.py with its own DFApp.

    `get_functions()` may be called only once per app object, and durable_host's loader (used
    by other tests in the same session) indexes `function_app` itself; a module of our own,
    not registered in sys.modules, keeps the two from tripping over each other.
    """
    _restore_the_app_modules()
    spec = importlib.util.spec_from_file_location(
        "_function_app_under_test", PROJECT_DIR / "function_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


APP_PACKAGES = ("orchestrators", "activities", "entities")


def _import_app_packages() -> dict[str, ModuleType]:
    """Every module of the app's packages, imported now, at collection, from the project."""
    modules: dict[str, ModuleType] = {}
    for package in APP_PACKAGES:
        for path in sorted((PROJECT_DIR / package).rglob("*.py")):
            parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = importlib.import_module(name)
    return modules


# The test modules import classes from these (e.g. InvalidInputError). Other tests load
# copies of the app from temporary folders, and the loader evicts same-named modules; the
# app under test is always run on these very module objects, so `raises(...)` matches.
_APP_MODULES = _import_app_packages()


def _restore_the_app_modules() -> None:
    for name in [
        n for n in sys.modules if n.split(".")[0] in {m.split(".")[0] for m in _APP_MODULES}
    ]:
        if name not in _APP_MODULES:
            del sys.modules[name]
    sys.modules.update(_APP_MODULES)
    if str(PROJECT_DIR) in sys.path:
        sys.path.remove(str(PROJECT_DIR))
    sys.path.insert(0, str(PROJECT_DIR))


@pytest.fixture(scope="session")
def app_module() -> ModuleType:
    return load_function_app()


@pytest.fixture(scope="session")
def functions(app_module: ModuleType) -> dict[str, Any]:
    """Function name -> azure.functions Function, from the app's one get_functions() call."""
    return {fn.get_function_name(): fn for fn in app_module.app.get_functions()}


@pytest.fixture(scope="session")
def handle(functions: dict[str, Any]) -> Any:
    """handle(name) -> the DFApp-wrapped user function of that orchestrator or entity."""

    def lookup(name: str) -> Any:
        return functions[name].get_user_function()

    return lookup


@pytest.fixture(scope="session")
def activity(functions: dict[str, Any]) -> Any:
    """activity(name, value) -> what the activity returns for an already-decoded input."""

    def run(name: str, value: Any) -> Any:
        return functions[name].get_user_function()(value)

    return run
