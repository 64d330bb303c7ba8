"""pytest plugin (entry point `durable_host`): fixtures over DurableTestEnvironment.

Fixtures: `durable_env` (the app running on a fresh task hub), `durable_client` (its SDK
client: 1.x's DurableOrchestrationClient, or 2.x's async gRPC client), `durable_storage` (the
session's storage connection string), `durable_app_dir`, `durable_hub_name`; for durabletask
workers, `durabletask_sidecar`
(`durable-host sidecar` on a fresh task hub: testing/sidecar.py).

Configuration (pytest.ini / pyproject `[tool.pytest.ini_options]`):
  durable_host_app_dir      the app folder (function_app.py or v1 function.json folders),
                            relative to rootdir (default: rootdir)
  durable_host_hub_scope    `test` (a fresh task hub per test, the default) or `module`
  durable_host_virtual_time `true` (default) or `false` for real time
  durable_host_replay_check `true` (default): after a test passes, replay every orchestration
                            it completed against the code under test (testing/_replay_check.py)
and per test: `@pytest.mark.durable_host(app_dir=..., virtual_time=..., start_time=...,
replay_check=...)`.
Set DURABLE_HOST_TEST_STORAGE to a connection string to use running storage instead of
starting Azurite.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from durable_host.testing._environment import DurableTestEnvironment
    from durable_host.testing.sidecar import DurableTaskSidecar

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixture explains what to install
    pytest_asyncio = None  # type: ignore[assignment]

_APP_DIR_INI = "durable_host_app_dir"
_HUB_SCOPE_INI = "durable_host_hub_scope"
_VIRTUAL_TIME_INI = "durable_host_virtual_time"
_REPLAY_CHECK_INI = "durable_host_replay_check"
_MARKER_OPTIONS = ("app_dir", "virtual_time", "start_time", "replay_check")
_MARKER = "durable_host"
_Scope = Literal["function", "module"]
_HUB_SCOPES: dict[str, _Scope] = {"test": "function", "module": "module"}
# Task hubs have at most 16 partitions; deleting queues that do not exist is harmless.
_MAX_PARTITIONS = 16


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _APP_DIR_INI,
        "durable_host: the app folder (function_app.py, or v1 function.json folders), "
        "relative to rootdir (default: rootdir)",
        default="",
    )
    parser.addini(
        _HUB_SCOPE_INI,
        "durable_host: a fresh task hub per `test` (default) or per `module`",
        default="test",
    )
    parser.addini(
        _VIRTUAL_TIME_INI,
        "durable_host: run tests on virtual time (timers fire when the host is idle)",
        type="bool",
        default=True,
    )
    parser.addini(
        _REPLAY_CHECK_INI,
        "durable_host: after a test passes, replay every orchestration it completed against "
        "the code under test and fail the test on a divergence",
        type="bool",
        default=True,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(app_dir=None, virtual_time=None, start_time=None, replay_check=None): "
        "configure the durable_env fixture for this test",
    )


_ENV_FIXTURES = frozenset({"durable_env", "durable_client"})


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: object) -> Any:
    """Mark `async def` tests that take durable_env or durable_client for pytest-asyncio, so
    they run as the README writes them under its default strict mode (no marker, no
    `asyncio_mode = auto`). Done before the items exist, where pytest-asyncio looks."""
    if pytest_asyncio is not None and inspect.iscoroutinefunction(obj):
        wanted = set(inspect.signature(obj).parameters) & _ENV_FIXTURES
        marks = getattr(obj, "pytestmark", [])
        if wanted and not any(m.name == "asyncio" for m in marks):
            pytest.mark.asyncio(obj)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Replay, after the test body passes and before durable_env stops, the orchestrations the
    test completed (testing/_replay_check.py): a divergence fails the test itself."""
    test = getattr(item, "obj", None)
    if not (
        isinstance(item, pytest.Function)
        and "durable_env" in item.fixturenames
        and inspect.iscoroutinefunction(test)
        and _replay_check_wanted(item)
    ):
        return (yield)
    assert test is not None

    @functools.wraps(test)
    async def test_then_replay(*args: Any, **kwargs: Any) -> Any:
        from durable_host.testing._replay_check import completed_instances, replay_completed

        env: DurableTestEnvironment = item.funcargs["durable_env"]  # type: ignore[assignment]
        before = await completed_instances(env)
        result = await test(*args, **kwargs)
        await replay_completed(env, before)
        return result

    item.obj = test_then_replay
    try:
        return (yield)
    finally:
        item.obj = test


def _replay_check_wanted(item: pytest.Item) -> bool:
    marker = item.get_closest_marker(_MARKER)
    if marker is not None and marker.kwargs.get("replay_check") is not None:
        return bool(marker.kwargs["replay_check"])
    return bool(item.config.getini(_REPLAY_CHECK_INI))


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(
            f"@pytest.mark.{_MARKER} takes keyword arguments only "
            f"({', '.join(f'{name}=...' for name in _MARKER_OPTIONS)})."
        )
    unknown = set(marker.kwargs) - set(_MARKER_OPTIONS)
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.{_MARKER} got unknown arguments {sorted(unknown)}; "
            f"use {', '.join(_MARKER_OPTIONS)}."
        )
    return dict(marker.kwargs)


def _hub_scope(fixture_name: str, config: pytest.Config) -> _Scope:
    value = str(config.getini(_HUB_SCOPE_INI)).strip().lower() or "test"
    if value not in _HUB_SCOPES:
        raise pytest.UsageError(
            f"{_HUB_SCOPE_INI} = {value!r} is not valid; use `test` or `module`."
        )
    return _HUB_SCOPES[value]


def _run_in_own_loop(coroutine: Any, timeout: float) -> None:
    # A sync fixture's teardown must not touch the test's event loop: use a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result(timeout)


@pytest.fixture(scope="session")
def durable_storage(pytestconfig: pytest.Config) -> Iterator[str]:
    """A storage connection string for the session: DURABLE_HOST_TEST_STORAGE, or an Azurite
    (free ports, in memory; found as `durable-host start` finds it) stopped at the end."""
    from durable_host.testing._storage import test_storage

    with test_storage(pytestconfig.rootpath) as connection:
        yield connection


@pytest.fixture
def durable_app_dir(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Path:
    """The app under test: the marker's app_dir, else the ini option, else rootdir."""
    configured = _marker_options(request).get("app_dir") or pytestconfig.getini(_APP_DIR_INI)
    path = Path(configured) if configured else pytestconfig.rootpath
    if not path.is_absolute():
        path = pytestconfig.rootpath / path
    return path.resolve()


@pytest.fixture(scope=_hub_scope)
def durable_hub_name(request: pytest.FixtureRequest, durable_storage: str) -> Iterator[str]:
    """A task hub name no other test (or module, with hub scope `module`) uses."""
    from durable_host.testing._storage import delete_task_hub, new_hub_name

    name = new_hub_name()
    yield name
    if request.scope == "module":
        _run_in_own_loop(delete_task_hub(durable_storage, name, _MAX_PARTITIONS), 60)


def _environment_fixture() -> Any:
    async def durable_env(
        request: pytest.FixtureRequest,
        pytestconfig: pytest.Config,
        durable_storage: str,
        durable_app_dir: Path,
        durable_hub_name: str,
    ) -> AsyncIterator[DurableTestEnvironment]:
        """The app under test running in this process on its task hub; stopped (and, with the
        default per-test hub, deleted) after the test."""
        from durable_host.errors import SdkUnavailableError
        from durable_host.testing._environment import DurableTestEnvironment

        options = _marker_options(request)
        virtual_time = options.get("virtual_time")
        if virtual_time is None:
            virtual_time = bool(pytestconfig.getini(_VIRTUAL_TIME_INI))
        per_test = _hub_scope("durable_hub_name", pytestconfig) == "function"
        try:
            env = await DurableTestEnvironment.start(
                durable_app_dir,
                storage=durable_storage,
                hub_name=durable_hub_name,
                virtual_time=virtual_time,
                start_time=options.get("start_time"),
                delete_hub=per_test,
            )
        except SdkUnavailableError as exc:
            pytest.fail(str(exc), pytrace=False)
        async with env:
            yield env

    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(durable_env)

    @pytest.fixture(name="durable_env")
    def missing() -> None:
        raise pytest.UsageError(
            "The durable_env fixture needs pytest-asyncio: pip install pytest-asyncio, and mark "
            "async tests with @pytest.mark.asyncio (or set asyncio_mode = auto)."
        )

    return missing


durable_env = _environment_fixture()


@pytest.fixture
def durable_client(durable_env: DurableTestEnvironment) -> Any:
    """The SDK's client bound to the host of `durable_env` (1.x: DurableOrchestrationClient;
    2.x: an async gRPC client, testing/_clients.py)."""
    return durable_env.client


@pytest.fixture
def durabletask_sidecar(
    request: pytest.FixtureRequest, pytestconfig: pytest.Config, durable_storage: str
) -> Iterator[DurableTaskSidecar]:
    """`durable-host sidecar` on a fresh task hub, on its own thread: point durabletask's
    workers and clients (sync or async) at `.address`, or take `.worker()` and `.client()`.
    Virtual time as for `durable_env` (the marker's `virtual_time`/`start_time`, the ini)."""
    from durable_host.testing.sidecar import DurableTaskSidecar

    options = _marker_options(request)
    virtual_time = options.get("virtual_time")
    if virtual_time is None:
        virtual_time = bool(pytestconfig.getini(_VIRTUAL_TIME_INI))
    with DurableTaskSidecar(
        durable_storage,
        virtual_time=virtual_time,
        start_time=options.get("start_time"),
        work_dir=pytestconfig.rootpath,
    ) as sidecar:
        yield sidecar
