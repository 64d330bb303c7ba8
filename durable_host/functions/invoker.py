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
import traceback
import uuid
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.durable_functions import (
    ActivityTriggerConverter,
    EnitityTriggerConverter,
    OrchestrationTriggerConverter,
)

from durable_host.errors import ConfigurationError, FunctionInvocationError
from durable_host.functions import http_output, logs
from durable_host.functions.function_index import (
    AppFunction,
    DurableFunction,
    DurableKind,
    DurableProtocol,
    FunctionIndex,
    HttpFunction,
)
from durable_host.functions.invocation_context import InvocationContext
from durable_host.functions.invocation_report import InvocationReport, record_failure
from durable_host.functions.outcomes import (
    ActivityError,
    ActivityOutcome,
    OrchestratorOutcome,
    split_out_of_proc_error,
    worker_message,
    worker_message_text,
)
from durable_host.functions.sdk_generation import has_1x_sdk
from durable_host.functions.worker_loop import WorkerLoop

logger = logging.getLogger("durable_host.functions")

THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
ACTIVITY_TRIGGER = "activityTrigger"

# Frames of these files are left out of stack traces shown to the user.
_PLUMBING_FILES = frozenset({__file__, http_output.__file__, concurrent.futures.thread.__file__})


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
        client_binding: Callable[[DurableProtocol], str] | None = None,
    ) -> None:
        self.index = index
        self.hook = hook
        if has_1x_sdk():  # its fast paths need dateutil, which only the 1.x SDK brings
            from durable_host.functions import sdk_fast_paths

            sdk_fast_paths.install()
        if _speaks_protobuf(index):  # the app has imported durabletask already
            from durable_host.functions import durabletask_fast_paths

            durabletask_fast_paths.install()
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers if max_workers is not None else default_max_workers(),
            thread_name_prefix="durable-host-fn",
        )
        self._worker_loop = WorkerLoop()
        # The durableClient binding JSON by protocol, for activities that take one: the host's,
        # which knows its endpoints; None where no host serves clients (sidecar, replay).
        self._client_binding = client_binding

    @property
    def max_workers(self) -> int:
        return self._pool._max_workers

    def _activity_client(self, fn: DurableFunction) -> str:
        if self._client_binding is None:
            raise ConfigurationError(
                f"Activity '{fn.name}' takes a durable client ('{fn.client_param}'), which only "
                "`durable-host start` provides."
            )
        return self._client_binding(fn.client_protocol)

    def close(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)
        self._worker_loop.close()

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
                state, message = split_out_of_proc_error(exc)
                record_failure(worker_message_text(type(exc).__name__, message))
                return OrchestratorOutcome(
                    invocation_id, state, worker_message_text(type(exc).__name__, message)
                )
        encoded = OrchestrationTriggerConverter.encode(result, expected_type=None)
        return OrchestratorOutcome(invocation_id, json.loads(encoded.value))

    async def invoke_activity(self, name: str, raw_input: str | None) -> ActivityOutcome:
        """Run an activity on `raw_input`, the JSON text of TaskScheduled.Input[0]."""
        fn = self.index.get_activity(name)
        invocation_id = _new_id()
        with self._invocation("activity", fn.function_name, invocation_id, logs.DURABLE_REASON):
            # The worker's converter for the binding: a 2.x SDK registers its own.
            converter = _registered(ACTIVITY_TRIGGER, ActivityTriggerConverter)
            try:
                value = (
                    None
                    if raw_input is None
                    else converter.decode(meta.Datum(raw_input, "string"), trigger_metadata={})
                )
                inputs = {fn.trigger_param: value}
                if fn.client_param is not None:
                    inputs[fn.client_param] = self._activity_client(fn)
                args = self._args(fn, invocation_id, inputs)
                if fn.is_async and fn.client_protocol is DurableProtocol.PROTOBUF:
                    result = await self._worker_loop.call(fn.user_function, args)
                else:
                    result = await self._call(fn.user_function, fn.is_async, args)
                if result is None:
                    return ActivityOutcome(invocation_id)
                encoded = converter.encode(result, expected_type=None)
                return ActivityOutcome(invocation_id, result_json=encoded.value)
            except Exception as exc:
                error = _activity_error(exc)
                record_failure(error.message)
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

    async def invoke_protobuf(self, kind: DurableKind, name: str, request_b64: str) -> object:
        """Run a protobuf-protocol orchestrator or entity (a 2.x SDK's handle) on its base64
        request, as the extension passes it (a trigger context whose `body` is the request).

        Returns what the handle returned (the base64 answer). User errors are inside the
        answer; FunctionInvocationError means the SDK itself raised."""
        orchestrator = kind is DurableKind.ORCHESTRATOR
        fn = self.index.get_orchestrator(name) if orchestrator else self.index.get_entity(name)
        invocation_id = _new_id()
        context: object = (
            func.OrchestrationContext(request_b64)
            if orchestrator
            else func.EntityContext(request_b64)
        )
        with self._invocation(kind.value, fn.function_name, invocation_id, logs.DURABLE_REASON):
            try:
                if orchestrator:
                    # Inline, as 1.x orchestrators (see the module docstring).
                    return fn.user_function(**{fn.trigger_param: context})
                return await self._call(fn.user_function, False, {fn.trigger_param: context})
            except Exception as exc:
                raise self._invocation_error(exc) from exc

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
        output: http_output.OutValue | None = None
        if fn.output_param is not None:
            output = inputs[fn.output_param] = http_output.OutValue()
        with self._invocation("http", fn.name, invocation_id, logs.HTTP_REASON):
            try:
                args = self._args(fn, invocation_id, inputs)
                if fn.is_async and fn.client_protocol is DurableProtocol.PROTOBUF:
                    result = await self._worker_loop.call(fn.user_function, args)
                else:
                    result = await self._call(fn.user_function, fn.is_async, args)
                return http_output.encode(fn.name, fn.has_return, output, result)
            except Exception as exc:
                raise self._invocation_error(exc) from exc

    # -- plumbing ----------------------------------------------------------------------

    def _args(self, fn: AppFunction, invocation_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
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

    def _invocation(
        self, kind: str, name: str, invocation_id: str, reason: str
    ) -> InvocationReport:
        return InvocationReport(self._emit, logs.InvocationScope(kind, name, invocation_id), reason)

    def _invocation_error(self, exc: Exception) -> FunctionInvocationError:
        error = _activity_error(exc)
        record_failure(error.message)
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


def _speaks_protobuf(index: FunctionIndex) -> bool:
    functions = (*index.orchestrators.values(), *index.entities.values())
    return any(fn.protocol is DurableProtocol.PROTOBUF for fn in functions)


def _registered(binding: str, default: Any) -> Any:
    """The converter the worker would use for `binding` (a 2.x SDK registers its own)."""
    get_registry = getattr(meta, "get_binding_registry", None)
    registry = get_registry() if get_registry is not None else None
    found = registry.get(binding) if registry is not None else None
    return found or default


def _new_id() -> str:
    return str(uuid.uuid4())


def _activity_error(exc: BaseException) -> ActivityError:
    frames = traceback.extract_tb(exc.__traceback__)
    user_frames = traceback.StackSummary.from_list(
        [f for f in frames if f.filename not in _PLUMBING_FILES]
    )
    stack = "".join(user_frames.format())
    return ActivityError(worker_message(exc), type(exc).__name__, stack)
