"""What a user function's `context` parameter receives: the worker's `Context`.

durable_host neither traces nor retries invocations, so the trace context is empty
and the retry context reports no retries.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, RpcException, TraceContext

from durable_host.functions import logs


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
