"""Where the host listens and how it is reached: the bound socket, the host name shown, the
endpoints client bindings point at, the host key off loopback, and the startup banner."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

from durable_host.dashboard import DASHBOARD_PATH
from durable_host.engine.client.api import ManagementApi
from durable_host.errors import ConfigurationError
from durable_host.functions import FunctionIndex
from durable_host.http.binding import ClientEndpoints
from durable_host.http.function_keys import (
    FUNCTIONS_KEY_SETTING,
    AccessKeys,
    generate_key,
    is_loopback,
)
from durable_host.http.triggers import function_route
from durable_host.server.settings import HostSettings

if TYPE_CHECKING:
    from durable_host.grpc_api.listener import GrpcListener

__all__ = [
    "access_keys",
    "banner",
    "bind",
    "client_endpoints",
    "display_host",
    "start_client_listener",
]

_DEFAULT_PORT = 7071
_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}
_ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


def bind(host: str, port: int | None, settings_port: int | None) -> socket.socket:
    """A listening socket on `port`, else Host.LocalHttpPort, else 7071."""
    if port is None:
        port = settings_port if settings_port is not None else _DEFAULT_PORT
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            f"Cannot listen on {host}:{port} ({exc.strerror}). Is another host running? "
            "Pass a free port with --port."
        ) from exc
    sock.listen(128)
    return sock


async def start_client_listener(api: ManagementApi) -> GrpcListener:
    """The durable client's gRPC endpoint on a free loopback port. Imported here, on first
    use: `durabletask` (its generated stubs) and `grpcio` come with the 2.x SDK, and an
    environment without them still runs 1.x apps."""
    try:
        from durable_host.grpc_api.listener import GrpcListener
        from durable_host.grpc_api.service import ClientService
    except ImportError as exc:
        raise ConfigurationError(
            "This app's durable client speaks gRPC (a 2.x SDK binding with durableRequiresGrpc), "
            f"and serving it needs the package '{exc.name}', which is not installed: "
            "pip install durabletask (azure-functions-durable 2.x installs it)."
        ) from exc
    listener = GrpcListener(ClientService(api), host="127.0.0.1")
    await listener.start()
    return listener


def access_keys(host: str, environ: Mapping[str, str]) -> AccessKeys:
    if is_loopback(host):
        return AccessKeys()
    return AccessKeys(environ.get(FUNCTIONS_KEY_SETTING) or generate_key())


def display_host(host: str) -> str:
    return "localhost" if is_loopback(host) or host in _WILDCARD_HOSTS else host


def client_endpoints(
    host: str, environ: Mapping[str, str], settings: HostSettings, port: int, keys: AccessKeys
) -> ClientEndpoints:
    website = environ.get("WEBSITE_HOSTNAME")
    origin = f"http://{website}" if website else f"http://{display_host(host)}:{port}"
    rpc_host = "127.0.0.1" if is_loopback(host) or host in _WILDCARD_HOSTS else host
    return ClientEndpoints(
        origin=origin,
        rpc_origin=f"http://{rpc_host}:{port}",
        hub_name=settings.durable_task.hub_name,
        connection_name=settings.durable_task.connection_name,
        system_key=keys.key,
        local_rpc_enabled=settings.durable_task.local_rpc_endpoint_enabled,
    )


def banner(
    index: FunctionIndex,
    settings: HostSettings,
    keys: AccessKeys,
    base_url: str,
    grpc_address: str | None = None,
) -> str:
    """What `start` prints once listening: the functions (Core Tools' list), hub, key, URLs."""
    lines = ["", "Functions:", ""]
    for fn in index.http:
        methods = ",".join(fn.methods) if fn.methods else ",".join(_ALL_METHODS)
        url = f"{base_url}/{function_route(fn, settings.route_prefix)}"
        lines.append(f"        {fn.name}: [{methods}] {url}")
    for kind, table in (
        ("orchestrationTrigger", index.orchestrators),
        ("activityTrigger", index.activities),
        ("entityTrigger", index.entities),
    ):
        for name, durable in table.items():
            # Which protocol the host speaks with it: 1.x JSON or 2.x protobuf.
            lines.append(f"        {name}: {kind} [{durable.protocol.value}]")
    for unsupported in index.unsupported:
        lines.append(
            f"        {unsupported.name}: {unsupported.trigger_type} "
            "(not supported by durable_host; it will not run)"
        )
    lines.append("")
    lines.append(f"Task hub: {settings.durable_task.hub_name}")
    if keys.key is not None:
        lines.append(
            f"Host key (pass as ?code= or x-functions-key; set {FUNCTIONS_KEY_SETTING} "
            f"in local.settings.json to choose it): {keys.key}"
        )
    lines.append(f"Dashboard: {base_url}{DASHBOARD_PATH}/")
    if grpc_address is not None:
        lines.append(f"Durable client gRPC endpoint (loopback only): {grpc_address}")
    lines.append(f"Host started; listening on {base_url}. Press Ctrl+C to stop.")
    return "\n".join(lines)
