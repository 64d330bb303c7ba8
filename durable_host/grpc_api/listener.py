"""`GrpcListener`: one grpc.aio server for a `TaskHubSidecarService`, on one address.

Loopback by default; any other address only with a token (the caller checks that), which
every call must then carry (guard.py). Message sizes are unlimited, as the extension's
local listener sets them: histories and payloads are the task hub's to bound.
"""

from __future__ import annotations

import logging

import grpc
from durabletask.internal import orchestrator_service_pb2_grpc as pb_grpc

from durable_host.errors import ConfigurationError
from durable_host.grpc_api.guard import TokenGuard

__all__ = ["GrpcListener"]

log = logging.getLogger("durable_host.grpc")

_UNLIMITED = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    # One listener per port: a second sidecar on a busy port fails instead of sharing it.
    ("grpc.so_reuseport", 0),
]


class GrpcListener:
    def __init__(
        self,
        service: pb_grpc.TaskHubSidecarServiceServicer,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        loopback: bool = True,
        token: str | None = None,
    ) -> None:
        if not loopback and not token:
            raise ConfigurationError(
                f"The gRPC endpoint would listen on {host}, beyond loopback, without a token. "
                "Give it one (--token, or DURABLE_HOST_GRPC_TOKEN) or listen on 127.0.0.1."
            )
        self.service = service
        self.host = host
        self.port = port
        self._interceptors = [TokenGuard(token)] if token else []
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        """What a durabletask client is given: `http://host:port` (the SDKs strip the scheme)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        server = grpc.aio.server(interceptors=self._interceptors, options=_UNLIMITED)
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(self.service, server)
        target = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        try:
            self.port = server.add_insecure_port(target)
        except RuntimeError as exc:
            raise ConfigurationError(
                f"Cannot listen for gRPC on {target}: the port is in use or the address is "
                "not this machine's. Pick another with --port."
            ) from exc
        await server.start()
        self._server = server
        log.info("gRPC TaskHubSidecarService listening on %s", self.address)

    async def stop(self, grace: float = 5.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
