"""Load `function_app.py` and invoke its functions as the Python worker would."""

from durable_host.functions.function_index import (
    DurableFunction,
    DurableKind,
    DurableProtocol,
    FunctionIndex,
    HttpFunction,
    UnsupportedFunction,
)
from durable_host.functions.invocation_context import InvocationContext
from durable_host.functions.invoker import FunctionInvoker
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
from durable_host.functions.outcomes import ActivityError, ActivityOutcome, OrchestratorOutcome

__all__ = [
    "ActivityError",
    "ActivityOutcome",
    "ConsoleFormatter",
    "DurableFunction",
    "DurableKind",
    "DurableProtocol",
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
