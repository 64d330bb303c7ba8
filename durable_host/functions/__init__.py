"""Load `function_app.py` and invoke its functions as the Python worker would."""

from durable_host.functions.index import (
    DurableFunction,
    DurableKind,
    FunctionIndex,
    HttpFunction,
    UnsupportedFunction,
)
from durable_host.functions.invoker import (
    ActivityError,
    ActivityOutcome,
    FunctionInvoker,
    InvocationContext,
    OrchestratorOutcome,
)
from durable_host.functions.loader import load_app
from durable_host.functions.logs import (
    ConsoleFormatter,
    InvocationEvent,
    InvocationHook,
    InvocationLogFilter,
    InvocationScope,
    current_invocation,
    format_event,
)

__all__ = [
    "ActivityError",
    "ActivityOutcome",
    "ConsoleFormatter",
    "DurableFunction",
    "DurableKind",
    "FunctionIndex",
    "FunctionInvoker",
    "HttpFunction",
    "InvocationContext",
    "InvocationEvent",
    "InvocationHook",
    "InvocationLogFilter",
    "InvocationScope",
    "OrchestratorOutcome",
    "UnsupportedFunction",
    "current_invocation",
    "format_event",
    "load_app",
]
