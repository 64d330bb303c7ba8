"""Invoke an app's functions the way the Python worker does.

Inputs go through the same `azure.functions` converters the worker uses (the
host sends durable trigger payloads as string TypedData), sync user code runs in
a thread pool sized like the worker's, async user code runs on the event loop,
and return values are encoded by the trigger's (or `$return`'s) converter.

Orchestrator handles run inline on the loop: the SDK replay is pure CPU (~0.1 ms)
and orchestrator code must not block, so a thread hop would only add latency.
Entity handles run in the pool, like any sync function (entity code may do I/O).
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread
import contextvars
import json
import logging
import os
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions._abc import RetryContext, RpcException, TraceContext
from azure.functions.durable_functions import (
    ActivityTriggerConverter,
    EnitityTriggerConverter,
    OrchestrationTriggerConverter,
)

from durable_host.errors import FunctionInvocationError
from durable_host.functions import logs
from durable_host.functions.index import DurableFunction, FunctionIndex, HttpFunction

logger = logging.getLogger("durable_host.functions")

THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
OUT_OF_PROC_DATA_LABEL = "\n\n$OutOfProcData$:"

# Frames of these files are left out of stack traces shown to the user.
_PLUMBING_FILES = frozenset({__file__, concurrent.futures.thread.__file__})


@dataclass(frozen=True)
class OrchestratorOutcome:
    """One orchestrator episode: the SDK's OrchestratorState, and the error if user code raised.

    On a user error the SDK still reports the state (with `error` set, and the
    actions scheduled so far); `state` is None only if the SDK itself failed.
    """

    invocation_id: str
    state: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True)
class ActivityError:
    message: str  # "<ExceptionType>: <message>", as the worker reports it
    error_type: str
    stack_trace: str


@dataclass(frozen=True)
class ActivityOutcome:
    """`result_json` is TaskCompleted.Result (None for a None return); `error` means TaskFailed."""

    invocation_id: str
    result_json: str | None = None
    error: ActivityError | None = None


class _TraceContext(TraceContext):
    def __init__(self, trace_parent: str = "", trace_state: str = "") -> None:
        self._parent = trace_parent
        self._state = trace_state

    @property
    def trace_state(self) -> str:
        return self._state

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> RpcException:
        raise AttributeError("no retry exception: durable_host does not retry invocations")


class InvocationContext(func.Context):
    """What a user function's `context` parameter receives (the worker's Context)."""

    def __init__(self, function_name: str, function_directory: str, invocation_id: str) -> None:
        self._function_name = function_name
        self._function_directory = function_directory
        self._invocation_id = invocation_id
        self._trace_context = _TraceContext()
        self._retry_context = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return logs.thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return self._retry_context


def default_max_workers() -> int | None:
    """`PYTHON_THREADPOOL_THREAD_COUNT`, else None (ThreadPoolExecutor: min(32, cpus + 4))."""
    raw = os.environ.get(THREAD_COUNT_SETTING)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        logger.warning(
            "%s must be an integer of at least 1 (got %r); using the default.",
            THREAD_COUNT_SETTING,
            raw,
        )
        return None
    return value


class FunctionInvoker:
    """Calls the functions of one `FunctionIndex`. Close it to stop its thread pool."""

    def __init__(
        self,
        index: FunctionIndex,
        *,
        max_workers: int | None = None,
        hook: logs.InvocationHook | None = None,
    ) -> None:
        self.index = index
        self.hook = hook
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers if max_workers is not None else default_max_workers(),
            thread_name_prefix="durable-host-fn",
        )

    @property
    def max_workers(self) -> int:
        return self._pool._max_workers

    def close(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)

    # -- durable functions -------------------------------------------------------------

    async def invoke_orchestrator(self, name: str, context_json: str) -> OrchestratorOutcome:
        """Run one episode: `context_json` is the trigger payload (docs/protocol.md §1.1)."""
        fn = self.index.get_orchestrator(name)
        invocation_id = _new_id()
        context = OrchestrationTriggerConverter.decode(
            meta.Datum(context_json, "string"), trigger_metadata={}
        )
        with self._invocation("orchestrator", fn.function_name, invocation_id, logs.DURABLE_REASON):
            try:
                # Inline on purpose (see the module docstring).
                with warnings.catch_warnings():
                    # The SDK warns about every event that arrives before its task is
                    # awaited (an external event raised early). That is normal Durable
                    # behaviour, and under `-W error` the warning would fail the episode.
                    warnings.filterwarnings("ignore", message="Potential duplicate Task")
                    result = fn.user_function(**{fn.trigger_param: context})
            except Exception as exc:
                state, message = _split_out_of_proc_error(exc)
                self._fail(_worker_message_text(type(exc).__name__, message))
                return OrchestratorOutcome(
                    invocation_id, state, _worker_message_text(type(exc).__name__, message)
                )
        encoded = OrchestrationTriggerConverter.encode(result, expected_type=None)
        return OrchestratorOutcome(invocation_id, json.loads(encoded.value))

    async def invoke_activity(self, name: str, raw_input: str | None) -> ActivityOutcome:
        """Run an activity on `raw_input`, the JSON text of TaskScheduled.Input[0]."""
        fn = self.index.get_activity(name)
        invocation_id = _new_id()
        with self._invocation("activity", fn.function_name, invocation_id, logs.DURABLE_REASON):
            try:
                value = (
                    None
                    if raw_input is None
                    else ActivityTriggerConverter.decode(
                        meta.Datum(raw_input, "string"), trigger_metadata={}
                    )
                )
                args = self._args(fn, invocation_id, {fn.trigger_param: value})
                result = await self._call(fn.user_function, fn.is_async, args)
                if result is None:
                    return ActivityOutcome(invocation_id)
                encoded = ActivityTriggerConverter.encode(result, expected_type=None)
                return ActivityOutcome(invocation_id, result_json=encoded.value)
            except Exception as exc:
                error = _activity_error(exc)
                self._fail(error.message)
                return ActivityOutcome(invocation_id, error=error)

    async def invoke_entity(self, name: str, batch_json: str) -> str:
        """Run an entity batch (docs/protocol.md §2.1); returns the result JSON (§2.2).

        Operation errors are inside the result; an exception here means the SDK
        itself failed (e.g. a malformed batch) and is raised as FunctionInvocationError.
        """
        fn = self.index.get_entity(name)
        invocation_id = _new_id()
        context = EnitityTriggerConverter.decode(
            meta.Datum(batch_json, "string"), trigger_metadata={}
        )
        with self._invocation("entity", fn.function_name, invocation_id, logs.DURABLE_REASON):
            try:
                result = await self._call(fn.user_function, False, {fn.trigger_param: context})
            except Exception as exc:
                raise self._invocation_error(exc) from exc
        encoded = EnitityTriggerConverter.encode(result, expected_type=None)
        return str(encoded.value)

    # -- HTTP --------------------------------------------------------------------------

    async def invoke_http(
        self,
        fn: HttpFunction,
        request: func.HttpRequest,
        *,
        client_binding_json: str | None = None,
    ) -> func.HttpResponse:
        """Call an HTTP function; its durableClient parameter gets `client_binding_json`.

        Raises FunctionInvocationError when user code fails or returns something the
        `$return` http binding cannot encode (the host answers 500).
        """
        invocation_id = _new_id()
        inputs: dict[str, Any] = {fn.trigger_param: request}
        if fn.client_param is not None:
            if client_binding_json is None:
                raise ValueError(
                    f"Function '{fn.name}' takes a durable client ('{fn.client_param}'): "
                    "pass client_binding_json."
                )
            inputs[fn.client_param] = client_binding_json
        output = _OutValue()
        if fn.output_param is not None:
            inputs[fn.output_param] = output
        with self._invocation("http", fn.name, invocation_id, logs.HTTP_REASON):
            try:
                args = self._args(fn, invocation_id, inputs)
                result = await self._call(fn.user_function, fn.is_async, args)
                if fn.output_param is not None and not fn.has_return:
                    _no_return_value(fn.name, result)
                    result = output.get()
                    if result is None:  # the output was never set
                        return func.HttpResponse(status_code=204)
                    return _http_response(fn.name, True, result)
                return _http_response(fn.name, fn.has_return, result)
            except Exception as exc:
                raise self._invocation_error(exc) from exc

    # -- plumbing ----------------------------------------------------------------------

    def _args(
        self, fn: DurableFunction | HttpFunction, invocation_id: str, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        if fn.requires_context:
            name = fn.function_name if isinstance(fn, DurableFunction) else fn.name
            inputs["context"] = InvocationContext(name, fn.function_directory, invocation_id)
        return inputs

    async def _call(
        self, target: Callable[..., Any], is_async: bool, args: Mapping[str, Any]
    ) -> Any:
        if is_async:
            return await target(**args)
        # run_in_executor does not carry context variables over; the log scope needs them.
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: context.run(target, **args))

    def _invocation(self, kind: str, name: str, invocation_id: str, reason: str) -> _Invocation:
        return _Invocation(self, logs.InvocationScope(kind, name, invocation_id), reason)

    def _fail(self, error: str) -> None:
        _Invocation.current_error.set(error)

    def _invocation_error(self, exc: Exception) -> FunctionInvocationError:
        error = _activity_error(exc)
        self._fail(error.message)
        return FunctionInvocationError(
            error.message, error_type=error.error_type, stack_trace=error.stack_trace
        )

    def _emit(self, event: logs.InvocationEvent) -> None:
        if self.hook is None:
            return
        try:
            self.hook(event)
        except Exception:
            logger.exception("The invocation hook failed on %s", event)


class _Invocation:
    """Times one invocation, sets the log scope, and reports start/end to the hook."""

    current_error: contextvars.ContextVar[str | None] = contextvars.ContextVar(
        "durable_host_invocation_error", default=None
    )

    def __init__(self, invoker: FunctionInvoker, scope: logs.InvocationScope, reason: str) -> None:
        self._invoker = invoker
        self._scope = scope
        self._reason = reason
        self._scope_cm = logs.invocation_scope(scope)
        self._started = 0.0
        self._error_token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> None:
        self._error_token = self.current_error.set(None)
        self._started = time.perf_counter()
        self._invoker._emit(self._event("start"))
        self._scope_cm.__enter__()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._scope_cm.__exit__(exc_type, exc, tb)
        error = self.current_error.get()
        if exc is not None and error is None:
            error = _worker_message(exc)
        duration = time.perf_counter() - self._started
        self._invoker._emit(
            self._event("end", duration=duration, success=error is None, error=error)
        )
        if self._error_token is not None:
            self.current_error.reset(self._error_token)

    def _event(self, phase: Any, **fields: Any) -> logs.InvocationEvent:
        return logs.InvocationEvent(
            phase=phase,
            kind=self._scope.kind,
            function_name=self._scope.function_name,
            invocation_id=self._scope.invocation_id,
            timestamp=datetime.now(timezone.utc),
            reason=self._reason,
            **fields,
        )


def _new_id() -> str:
    return str(uuid.uuid4())


def _worker_message_text(type_name: str, message: str) -> str:
    return f"{type_name}: {message}"


def _worker_message(exc: BaseException) -> str:
    """The worker's RpcException message: "<ExceptionType>: <message>"."""
    return _worker_message_text(type(exc).__name__, str(exc))


def _split_out_of_proc_error(exc: Exception) -> tuple[dict[str, Any] | None, str]:
    """Split the SDK's "<msg>\\n\\n$OutOfProcData$:<state JSON>" (docs/protocol.md §1.6)."""
    text = str(exc)
    # The last label is the SDK's: inside the JSON a newline is always escaped.
    head, label, tail = text.rpartition(OUT_OF_PROC_DATA_LABEL)
    if not label:
        return None, text
    try:
        state = json.loads(tail)
    except ValueError:
        return None, text
    return (state if isinstance(state, dict) else None), head


def _activity_error(exc: BaseException) -> ActivityError:
    frames = traceback.extract_tb(exc.__traceback__)
    user_frames = traceback.StackSummary.from_list(
        [f for f in frames if f.filename not in _PLUMBING_FILES]
    )
    stack = "".join(user_frames.format())
    return ActivityError(_worker_message(exc), type(exc).__name__, stack)


class _OutValue(func.Out[Any]):
    """What a v1 function's `out` binding parameter receives (the worker's Out)."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def _no_return_value(name: str, result: Any) -> None:
    if result is not None:
        raise RuntimeError(f"function {name!r} without a $return binding returned a non-None value")


def _http_response(name: str, has_return: bool, result: Any) -> func.HttpResponse:
    """What the host makes of the http output (`$return` or a named one; the
    HttpResponseConverter rules). No http output gives an empty 204."""
    if not has_return:
        _no_return_value(name, result)
        return func.HttpResponse(status_code=204)
    if isinstance(result, str):
        result = func.HttpResponse(result, status_code=200, mimetype="text/plain", charset="utf-8")
    if isinstance(result, func.HttpResponse):
        if "content-type" not in result.headers:
            mimetype = result.mimetype
            content_type = (
                f"{mimetype}; charset={result.charset}"
                if mimetype.startswith("text/")
                else mimetype
            )
            result.headers["content-type"] = content_type
        return result
    # The worker's bindings.get_datum message for a type the converter refuses.
    raise TypeError(
        "unable to encode outgoing TypedData: unsupported type "
        f'"{func.http.HttpResponseConverter}" for Python type "{type(result).__name__}"'
    )
