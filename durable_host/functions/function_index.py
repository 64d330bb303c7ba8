"""What an app defines: its functions, classified by trigger, addressable by name.

Durable functions are addressed case-insensitively, like the Durable extension's
`FunctionName` keys; an orchestration, activity or entity is registered under its
trigger's name override (`orchestration`, `activity`, `entityName`) when one is
given, else under its Functions name (the same priority as the extension).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from durable_host.errors import FunctionNotFoundError


class DurableKind(enum.Enum):
    ORCHESTRATOR = "orchestrator"
    ACTIVITY = "activity"
    ENTITY = "entity"


class DurableProtocol(enum.Enum):
    """How the host talks to a durable function (or a durable client binding).

    JSON: the 1.x out-of-process protocol (azure-functions-durable 1.x). PROTOBUF: the
    Durable Task protobuf protocol, base64 in and out of the trigger, which the extension uses
    for bindings that carry `durableRequiresGrpc: true` (azure-functions-durable 2.x,
    durabletask-azurefunctions)."""

    JSON = "1.x JSON"
    PROTOBUF = "2.x protobuf"


def protocol_of(binding: Mapping[str, Any]) -> DurableProtocol:
    """The protocol a trigger or durableClient binding asks for."""
    if binding.get("durableRequiresGrpc") in (True, "true", "True"):
        return DurableProtocol.PROTOBUF
    return DurableProtocol.JSON


@dataclass(frozen=True, kw_only=True)
class AppFunction:
    """What the worker needs to call any of the app's functions, whatever its trigger."""

    # A durable function's durable name (the trigger's override, else the function's); an
    # HTTP function's Functions name.
    name: str
    user_function: Callable[..., Any]
    trigger_param: str
    requires_context: bool
    is_async: bool
    function_id: str
    function_directory: str
    # A durableClient input binding (HTTP starters; activities too: durabletask's history
    # export has them) and the protocol of the client it asks for.
    client_param: str | None = None
    client_protocol: DurableProtocol = DurableProtocol.JSON


@dataclass(frozen=True, kw_only=True)
class DurableFunction(AppFunction):
    """An orchestrator, activity or entity, as the worker would call it.

    `user_function` is what the worker calls: for orchestrators and entities the
    handle DFApp built around the user's code (it takes the trigger payload text),
    for activities the user's own function.
    """

    function_name: str  # the Functions name, used in logs ("Functions.<name>")
    kind: DurableKind
    protocol: DurableProtocol = DurableProtocol.JSON


@dataclass(frozen=True, kw_only=True)
class HttpFunction(AppFunction):
    """An HTTP-triggered function; `methods` empty means every method is allowed."""

    route: str
    methods: tuple[str, ...]
    auth_level: str  # "ANONYMOUS", "FUNCTION" or "ADMIN", as in the raw binding
    client_task_hub: str | None = None
    client_connection: str | None = None
    has_return: bool = True  # an `http` output named `$return`
    output_param: str | None = None  # a named `http` output (v1: a func.Out parameter)

    def allows(self, method: str) -> bool:
        return not self.methods or method.upper() in self.methods


@dataclass(frozen=True)
class FunctionSource:
    """One function as either programming model declares it, before indexing.

    `bindings` are the raw binding dicts (function.json's, or the v2 decorators' JSON),
    `trigger` the one with the trigger type.
    """

    name: str
    bindings: list[dict[str, Any]]
    trigger: dict[str, Any]
    user_function: Callable[..., Any]
    directory: str
    origin: str = ""  # the file that declares it (v1: its function.json), for messages


@dataclass(frozen=True)
class UnsupportedFunction:
    """A function whose trigger durable_host cannot run (timer, queue, ...)."""

    name: str
    trigger_type: str


@dataclass(frozen=True)
class FunctionIndex:
    """Every function of one loaded app. Lookups are case-insensitive."""

    app_dir: str
    orchestrators: Mapping[str, DurableFunction] = field(default_factory=dict)
    activities: Mapping[str, DurableFunction] = field(default_factory=dict)
    entities: Mapping[str, DurableFunction] = field(default_factory=dict)
    http: tuple[HttpFunction, ...] = ()
    unsupported: tuple[UnsupportedFunction, ...] = ()
    _by_lower: dict[DurableKind, dict[str, DurableFunction]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for kind, table in (
            (DurableKind.ORCHESTRATOR, self.orchestrators),
            (DurableKind.ACTIVITY, self.activities),
            (DurableKind.ENTITY, self.entities),
        ):
            self._by_lower[kind] = {name.lower(): fn for name, fn in table.items()}

    def get_orchestrator(self, name: str) -> DurableFunction:
        return self._get(DurableKind.ORCHESTRATOR, name)

    def get_activity(self, name: str) -> DurableFunction:
        return self._get(DurableKind.ACTIVITY, name)

    def get_entity(self, name: str) -> DurableFunction:
        return self._get(DurableKind.ENTITY, name)

    def has(self, kind: DurableKind, name: str) -> bool:
        return name.lower() in self._by_lower[kind]

    def get_http(self, name: str) -> HttpFunction:
        for fn in self.http:
            if fn.name.lower() == name.lower():
                return fn
        raise FunctionNotFoundError(
            f"The function '{name}' doesn't exist or is not HTTP-triggered."
        )

    def _get(self, kind: DurableKind, name: str) -> DurableFunction:
        found = self._by_lower[kind].get(name.lower())
        if found is None:
            raise FunctionNotFoundError(self.not_found_message(kind, name))
        return found

    def not_found_message(self, kind: DurableKind, name: str) -> str:
        """The message the Durable extension gives for an unknown function, word for word."""
        label = kind.value
        message = (
            f"The function '{name}' doesn't exist, is disabled, or is not an {label} function. "
            "Additional info: "
        )
        known = list(self._by_lower[kind].values())
        # The extension checks the *orchestrator* count before listing entities (a quirk
        # of DurableTaskExtension.GetInvalidEntityFunctionMessage, reproduced on purpose).
        count_kind = DurableKind.ORCHESTRATOR if kind is DurableKind.ENTITY else kind
        if self._by_lower[count_kind]:
            names = "', '".join(fn.name for fn in known)
            message += f"The following are the known {label} functions: '{names}'."
        else:
            message += f"No {label} functions are currently registered!"
        return message
