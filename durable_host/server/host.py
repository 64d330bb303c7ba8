"""Wiring and lifecycle of one durable_host process: settings → Azurite → app → engine → HTTP.

`DurableHost.start()` brings everything up in that order and `stop()` takes it
down in reverse (stop accepting HTTP, drain the engine, stop Azurite), so a
Ctrl-C never leaves work half-acknowledged: storage stays the source of truth.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import azure.functions as func
from aiohttp import web

from durable_host.dashboard import DASHBOARD_PATH, DashboardHub, account_label, create_dashboard
from durable_host.engine.runtime import Engine, EngineSettings
from durable_host.engine.time.clock import Clock
from durable_host.errors import ConfigurationError
from durable_host.functions import (
    DurableProtocol,
    FunctionIndex,
    FunctionInvoker,
    HttpFunction,
    load_app,
)
from durable_host.functions.logs import InvocationEvent, format_event
from durable_host.functions.sdk_generation import has_1x_sdk
from durable_host.http.allowed_hosts import AllowedHosts
from durable_host.http.app import create_app
from durable_host.http.binding import ClientEndpoints, client_binding_json
from durable_host.http.durable_api import DurableApi
from durable_host.http.function_keys import is_loopback
from durable_host.http.local_calls import InProcessApi
from durable_host.http.triggers import HttpTriggers, function_route
from durable_host.server.azurite import AzuriteProcess
from durable_host.server.host_storage import host_storage
from durable_host.server.listening import (
    access_keys,
    banner,
    bind,
    client_endpoints,
    display_host,
    start_client_listener,
)
from durable_host.server.settings import (
    HostSettings,
    export_values,
    load_host_settings,
    load_local_settings,
    resolve_connection_string,
)

if TYPE_CHECKING:
    from durable_host.grpc_api.listener import GrpcListener
    from durable_host.tracing.spans import DurableTracer

__all__ = ["DurableHost", "HostOptions", "engine_settings"]

log = logging.getLogger("durable_host")

# How long a stop lets HTTP requests under way finish (aiohttp's runner, and in process).
_SHUTDOWN_TIMEOUT = 10.0


@dataclass(frozen=True)
class HostOptions:
    app_dir: Path
    host: str = "127.0.0.1"
    port: int | None = None  # None: Host.LocalHttpPort of local.settings.json, else 7071
    in_memory_azurite: bool = False
    trace_console: bool = False  # print finished spans (turns tracing on)
    # Host names answered beside loopback's when listening on loopback (--allowed-host).
    allowed_hosts: tuple[str, ...] = ()


def engine_settings(settings: HostSettings, *, trace_console: bool = False) -> EngineSettings:
    dt = settings.durable_task

    def seconds(value: timedelta) -> float:
        return value.total_seconds()

    return EngineSettings(
        hub_name=dt.hub_name,
        partition_count=dt.partition_count,
        max_queue_polling_interval=seconds(dt.max_queue_polling_interval),
        control_queue_batch_size=dt.control_queue_batch_size,
        control_queue_visibility_timeout=seconds(dt.control_queue_visibility_timeout),
        work_item_queue_visibility_timeout=seconds(dt.work_item_queue_visibility_timeout),
        max_concurrent_activity_functions=dt.max_concurrent_activity_functions,
        max_concurrent_orchestrator_functions=dt.max_concurrent_orchestrator_functions,
        # The engine always keeps histories between episodes (our speed comes from it);
        # extendedSessionsEnabled only matters to the real extension.
        extended_session_idle_timeout=seconds(dt.extended_session_idle_timeout),
        entity_message_reorder_window=seconds(dt.entity_message_reorder_window),
        partition_lease_duration=seconds(dt.partition_lease_duration),
        partition_renew_interval=seconds(dt.partition_renew_interval),
        tracing=dt.distributed_tracing or trace_console,
        trace_console=trace_console,
        http_async_sleep_default=seconds(dt.http_async_sleep_default),
    )


def _continue_trace(tracer: DurableTracer) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Requests that carry a W3C `traceparent` continue that trace (HTTP triggers, and the
    Durable API calls the SDK's client makes from inside them)."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        with tracer.continued(
            request.headers.get("traceparent"), request.headers.get("tracestate")
        ):
            return await handler(request)

    return middleware


class DurableHost:
    """One running host. Use `await start()` / `await stop()` or `async with`."""

    def __init__(
        self,
        options: HostOptions,
        *,
        environ: MutableMapping[str, str] | None = None,
        echo: Callable[[str], None] = print,
        clock: Clock | None = None,
    ) -> None:
        self.options = options
        # None: the real clock. durable_host.testing passes a VirtualClock.
        self.clock = clock
        self.app_dir = Path(options.app_dir).resolve()
        self.environ = os.environ if environ is None else environ
        self.echo = echo
        self.settings: HostSettings | None = None
        self.index: FunctionIndex | None = None
        self.engine: Engine | None = None
        self.endpoints: ClientEndpoints | None = None
        self.port: int | None = None
        self._azurite: AzuriteProcess | None = None
        self._invoker: FunctionInvoker | None = None
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self._grpc: GrpcListener | None = None
        self._in_process: InProcessApi | None = None
        self._unserve: Callable[[], None] = lambda: None

    # ----------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        local = load_local_settings(self.app_dir)
        for warning in local.warnings:
            log.warning(warning)
        export_values(local.values, self.environ)
        self.settings = settings = load_host_settings(self.app_dir, self.environ)
        # The port first: a busy port fails at once, before Azurite or the task hub are touched.
        self._sock = sock = bind(self.options.host, self.options.port, local.local_http_port)
        self.port = port = sock.getsockname()[1]
        connection, self._azurite = host_storage(
            settings, self.environ, self.app_dir, in_memory=self.options.in_memory_azurite
        )

        self.index = index = load_app(self.app_dir)
        self._invoker = FunctionInvoker(
            index, hook=self._log_invocation, client_binding=self._activity_binding
        )
        tuned = engine_settings(settings, trace_console=self.options.trace_console)
        self.engine = Engine(connection, tuned, index, self._invoker, clock=self.clock)
        await self.engine.start()

        clients = [fn.client_protocol for fn in index.http] + [
            fn.client_protocol for fn in index.activities.values()
        ]
        if DurableProtocol.PROTOBUF in clients:
            await self.serve_grpc()
        keys = access_keys(self.options.host, self.environ)
        self.endpoints = dataclasses.replace(
            client_endpoints(self.options.host, self.environ, settings, port, keys),
            grpc_origin=self.grpc_address,
        )
        triggers = HttpTriggers(
            index.http,
            route_prefix=settings.route_prefix,
            invoke=self._invoke_http,
            binding_for=self._binding_for,
            keys=keys,
        )
        api = DurableApi(self.engine.client, self.endpoints)
        dashboard = create_dashboard([self._dashboard_hub(settings, index)], keys)
        app = create_app(
            durable_api=api,
            triggers=triggers.handle,
            keys=keys,
            subapps={DASHBOARD_PATH: dashboard},
            allowed_hosts=AllowedHosts.for_listener(
                is_loopback(self.options.host), self.options.allowed_hosts
            ),
        )
        if self.engine.tracer is not None:
            app.middlewares.append(_continue_trace(self.engine.tracer))
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self._sock = None  # the site owns it now
        self._serve_sdk_in_process(app)
        self.echo(banner(index, settings, keys, self.base_url, self.grpc_address))

    def _serve_sdk_in_process(self, app: web.Application) -> None:
        """The 1.x SDK's client calls to the RPC base answered in process (http/local_calls.py)."""
        assert self.endpoints is not None
        if self.endpoints.rpc_base_url is None or not has_1x_sdk():
            return
        from durable_host.functions import sdk_client_calls

        if sdk_client_calls.install():
            self._in_process = api = InProcessApi(app, self.endpoints.rpc_origin)
            self._unserve = sdk_client_calls.serve_locally(
                api.origin, asyncio.get_running_loop(), api.call
            )

    @property
    def grpc_address(self) -> str | None:
        """`http://127.0.0.1:<port>` of the durable client's gRPC endpoint, once served."""
        return self._grpc.address if self._grpc is not None else None

    async def serve_grpc(self) -> str:
        """Serve the durable client's gRPC `TaskHubSidecarService` (the 2.x SDK's client) on
        the engine client the HTTP API uses; returns its address. `start` calls this when a
        function's client binding asks for it (`durableRequiresGrpc`); loopback only, whatever
        --host says, since only the app's own functions (in this process) are given it."""
        if self._grpc is None:
            assert self.engine is not None, "serve_grpc needs a started host"
            self._grpc = await start_client_listener(self.engine.client)
        return self._grpc.address

    async def stop(self) -> None:
        """Stop accepting HTTP, let the engine finish in-flight work, then stop Azurite."""
        self._unserve()
        if self._in_process is not None:
            await self._in_process.close(timeout=_SHUTDOWN_TIMEOUT)
            self._in_process = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._grpc is not None:
            await self._grpc.stop()
            self._grpc = None
        if self.engine is not None:
            await self.engine.stop()
            self.engine = None
        if self._invoker is not None:
            self._invoker.close(wait=True)
            self._invoker = None
        # The SDK keeps one module-level aiohttp session for its RPC calls; close it while the
        # loop that created it still runs, or aiohttp warns about an unclosed connector at exit.
        if has_1x_sdk():
            from azure.durable_functions.models.utils import http_utils

            await http_utils._close_session()
        if self._azurite is not None:
            self._azurite.stop()
            self._azurite = None

    async def __aenter__(self) -> DurableHost:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{display_host(self.options.host)}:{self.port}"

    # ----------------------------------------------------------------------- pieces

    def _dashboard_hub(self, settings: HostSettings, index: FunctionIndex) -> DashboardHub:
        assert self.engine is not None
        connection_name = settings.durable_task.connection_name
        return DashboardHub(
            key=settings.durable_task.hub_name,
            name=settings.durable_task.hub_name,
            account=account_label(resolve_connection_string(connection_name, self.environ)),
            client=self.engine.client,
            allow_actions=True,
            functions=index,
        )

    def _activity_binding(self, protocol: DurableProtocol) -> str:
        """The durableClient binding of an activity that takes a client."""
        if self.endpoints is None:
            raise ConfigurationError(
                "An activity asked for a durable client before the host had its endpoints; "
                "run it again once `durable-host start` has printed its functions."
            )
        return client_binding_json(self.endpoints, grpc=protocol is DurableProtocol.PROTOBUF)

    def _binding_for(self, fn: HttpFunction) -> str:
        assert self.endpoints is not None
        return client_binding_json(
            self.endpoints,
            task_hub=fn.client_task_hub,
            connection_name=fn.client_connection,
            grpc=fn.client_protocol is DurableProtocol.PROTOBUF,
        )

    async def _invoke_http(
        self, fn: HttpFunction, request: func.HttpRequest, binding: str | None
    ) -> func.HttpResponse:
        invoker = self._invoker
        assert invoker is not None
        tracer = self.engine.tracer if self.engine is not None else None
        if tracer is None:
            return await invoker.invoke_http(fn, request, client_binding_json=binding)
        assert self.settings is not None
        return await tracer.http_trigger(
            request.method,
            function_route(fn, self.settings.route_prefix),
            fn.name,
            lambda: invoker.invoke_http(fn, request, client_binding_json=binding),
        )

    def _log_invocation(self, event: InvocationEvent) -> None:
        line = format_event(event)
        if event.phase == "end" and not event.success and event.error:
            line += f"\n  {event.error}"
        self.echo(line)
