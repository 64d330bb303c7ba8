"""`Sidecar`: the engine on one task hub, its functions run by remote durabletask workers.

storage (Azurite started for development storage, as `start` does) → engine with
`RemoteExecutors` over a `WorkerHub` → the gRPC `SidecarService`; the reverse on stop. The
engine keeps what it does for Functions apps (partition leases, triage, checkpoints,
ordering), so several sidecars, or sidecars and hosts, share one hub.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from durable_host.engine.runtime import Engine
from durable_host.engine.time.clock import Clock
from durable_host.errors import ConfigurationError
from durable_host.functions import FunctionInvoker
from durable_host.http.function_keys import is_loopback
from durable_host.server.azurite import AzuriteProcess
from durable_host.server.host import engine_settings
from durable_host.server.host_storage import host_storage
from durable_host.server.settings import DurableTaskSettings, HostSettings
from durable_host.taskhub.names import DEFAULT_HUB_NAME

if TYPE_CHECKING:
    from durable_host.grpc_api.listener import GrpcListener
    from durable_host.grpc_api.worker_hub import WorkerHub

__all__ = [
    "DEFAULT_SIDECAR_PORT",
    "SIDECAR_HUB_SETTINGS",
    "TOKEN_SETTING",
    "Sidecar",
    "SidecarOptions",
]

log = logging.getLogger("durable_host")

# The Durable Task sidecar's customary port (the Dapr/DTS emulators' and the SDKs' default).
DEFAULT_SIDECAR_PORT = 4001
TOKEN_SETTING = "DURABLE_HOST_SIDECAR_TOKEN"

# A sidecar's activity slot only holds the work item while a worker runs it (the worker bounds
# its own concurrency, 100 per core by default in durabletask), so the sidecar takes as many:
# with the host's 10 per core a fan-out of 1,000 waited on storage round trips (bench A/B,
# alternating, 3 rounds: median 10.5 s and 6.1 s CPU at 20 slots, 7.7 s and 3.8 s CPU at 100).
SIDECAR_HUB_SETTINGS = DurableTaskSettings(
    max_concurrent_activity_functions=100 * (os.cpu_count() or 1)
)


@dataclass(frozen=True)
class SidecarOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_SIDECAR_PORT
    hub: str = DEFAULT_HUB_NAME
    connection: str = "UseDevelopmentStorage=true"
    token: str | None = None
    in_memory_azurite: bool = False
    # Where an auto-started Azurite keeps its data (<work_dir>/.azurite).
    work_dir: Path = field(default_factory=Path.cwd)
    durable_task: DurableTaskSettings | None = None  # hub settings beyond the name
    worker_id: str | None = None  # the partition lease owner (default: host name and pid)


class Sidecar:
    def __init__(
        self,
        options: SidecarOptions,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.options = options
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock
        self.echo = echo
        self.engine: Engine | None = None
        self.address: str | None = None
        self._azurite: AzuriteProcess | None = None
        self._invoker: FunctionInvoker | None = None
        self._hub: WorkerHub | None = None
        self._listener: GrpcListener | None = None

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        # Imported here: the gRPC service needs durabletask and grpcio (durable-host[sidecar]).
        from durable_host.grpc_api.listener import GrpcListener
        from durable_host.grpc_api.remote_functions import RemoteExecutors, WorkerFunctions
        from durable_host.grpc_api.sidecar_service import SidecarService
        from durable_host.grpc_api.worker_hub import WorkerHub

        options = self.options
        token = options.token or self.environ.get(TOKEN_SETTING) or None
        # Checked before storage is touched: off loopback without a token never starts.
        listener_loopback = is_loopback(options.host)
        if not listener_loopback and not token:
            raise ConfigurationError(
                f"The sidecar would listen on {options.host}, beyond loopback, without a token: "
                f"give it one (--token, or the environment variable {TOKEN_SETTING}), which "
                "every call must then carry, or listen on 127.0.0.1."
            )
        base = options.durable_task or SIDECAR_HUB_SETTINGS
        settings = HostSettings(durable_task=_with_hub(base, options.hub))
        environ = {**self.environ, "AzureWebJobsStorage": options.connection}
        connection, self._azurite = host_storage(
            settings, environ, options.work_dir, in_memory=options.in_memory_azurite
        )
        self._hub = hub = WorkerHub()
        index = WorkerFunctions(app_dir=str(options.work_dir))
        self._invoker = FunctionInvoker(index, max_workers=1)
        tuned = engine_settings(settings)
        if options.worker_id is not None:
            tuned = replace(tuned, worker_id=options.worker_id)
        engine = Engine(
            connection,
            tuned,
            index,
            self._invoker,
            clock=self.clock,
            executors=RemoteExecutors(
                hub, entity_reorder_window=settings.durable_task.entity_message_reorder_window
            ),
        )
        self.engine = engine
        self._listener = listener = GrpcListener(
            SidecarService(engine.client, hub),
            host=options.host,
            port=options.port,
            loopback=listener_loopback,
            token=token,
        )
        await engine.start()
        await listener.start()
        self.address = listener.address
        self.echo(self._banner(listener_loopback))

    def _banner(self, loopback: bool) -> str:
        who = (
            "loopback only, no token needed"
            if loopback
            else f"every call must carry 'authorization: Bearer <token>' ({TOKEN_SETTING})"
        )
        return (
            f"Task hub: {self.options.hub}\n"
            f"Durable Task sidecar listening on {self.address} ({who}). "
            "Point durabletask workers and clients at it; Ctrl+C to stop."
        )

    async def stop(self) -> None:
        """Stop taking calls, give unfinished work items back to the queues, stop the engine."""
        if self._hub is not None:
            self._hub.close()
        if self._listener is not None:
            await self._listener.stop(grace=1.0)
            self._listener = None
        if self.engine is not None:
            await self.engine.stop()
            self.engine = None
        if self._invoker is not None:
            self._invoker.close(wait=False)
            self._invoker = None
        if self._azurite is not None:
            self._azurite.stop()
            self._azurite = None

    async def __aenter__(self) -> Sidecar:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _with_hub(settings: DurableTaskSettings, hub: str) -> DurableTaskSettings:
    return replace(settings, hub_name=hub)
