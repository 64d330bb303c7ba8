"""The durable client binding JSON and the management URLs (docs/protocol.md §4, §6).

The real extension builds these in `HttpApiHandler` (`GetInstanceCreationLinks`,
`GetClientResponseLinks`) and `BindingHelper`; keys, their order and the kept
nulls match its `JsonConvert` output so the SDK's `DurableOrchestrationClient`
parses the string unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote_plus

from durable_host.errors import ConfigurationError

__all__ = [
    "INSTANCE_ID_PLACEHOLDER",
    "RPC_BASE_PATH",
    "WEBHOOK_PATH",
    "ClientEndpoints",
    "check_status_payload",
    "client_binding_json",
    "management_urls",
]

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
# The extension serves the RPC API on its own loopback port (17071); we serve it on the main port.
RPC_BASE_PATH = "/durabletask/"
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"


def _url_encode(text: str) -> str:
    # .NET WebUtility.UrlEncode: spaces become '+', unreserved characters stay as they are.
    return quote_plus(text, safe="-_.!*()")


@dataclass(frozen=True)
class ClientEndpoints:
    """Where this host serves the Durable HTTP API, as the binding and the payloads advertise it.

    `origin` is `http://localhost:7071` (no trailing slash); `rpc_origin` is the loopback origin
    the SDK calls; `system_key` is appended as `code=` when the host requires keys.
    """

    origin: str
    rpc_origin: str
    hub_name: str
    connection_name: str = "Storage"
    system_key: str | None = None
    local_rpc_enabled: bool = True
    # The gRPC TaskHubSidecarService for 2.x clients (`http://127.0.0.1:<port>`), if served.
    grpc_origin: str | None = None

    @property
    def base_url(self) -> str:
        return self.origin + WEBHOOK_PATH

    @property
    def rpc_base_url(self) -> str | None:
        return self.rpc_origin + RPC_BASE_PATH if self.local_rpc_enabled else None

    @property
    def required_query(self) -> str:
        return f"code={self.system_key}" if self.system_key else ""


def management_urls(
    endpoints: ClientEndpoints,
    instance_id: str,
    *,
    origin: str | None = None,
    hub_name: str | None = None,
    connection_name: str | None = None,
    return_internal_server_error_on_failure: bool = False,
) -> dict[str, str]:
    """`HttpManagementPayload` for one instance (docs/protocol.md §6), in the extension's order."""
    base = (origin or endpoints.origin) + WEBHOOK_PATH
    prefix = f"{base}/instances/{_url_encode(instance_id)}"
    hub = _url_encode(hub_name or endpoints.hub_name)
    connection = _url_encode(connection_name or endpoints.connection_name)
    query = f"taskHub={hub}&connection={connection}"
    if endpoints.required_query:
        query += "&" + endpoints.required_query
    status = f"{prefix}?{query}"
    if return_internal_server_error_on_failure:
        status += "&returnInternalServerErrorOnFailure=true"
    return {
        "id": instance_id,
        "statusQueryGetUri": status,
        "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{prefix}?{query}",
        "restartPostUri": f"{prefix}/restart?{query}",
        "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{prefix}/resume?reason={{text}}&{query}",
    }


def check_status_payload(
    endpoints: ClientEndpoints,
    instance_id: str,
    *,
    origin: str | None = None,
    hub_name: str | None = None,
    connection_name: str | None = None,
) -> dict[str, str]:
    """The host's own 202 check-status body: no `rewindPostUri` (docs/protocol.md §6)."""
    urls = management_urls(
        endpoints, instance_id, origin=origin, hub_name=hub_name, connection_name=connection_name
    )
    del urls["rewindPostUri"]
    return urls


# The extension's defaults for its gRPC clients (DurableTaskOptions.MaxGrpcMessageSizeInBytes,
# GrpcHttpClientTimeout as System.Text.Json writes a TimeSpan); the server side here, as
# there, takes messages of any size.
MAX_GRPC_MESSAGE_BYTES = 4 * 1024 * 1024
GRPC_HTTP_CLIENT_TIMEOUT = '"00:01:40"'


def client_binding_json(
    endpoints: ClientEndpoints,
    *,
    task_hub: str | None = None,
    connection_name: str | None = None,
    grpc: bool = False,
) -> str:
    """The string a `durableClient` parameter receives (docs/protocol.md §4).

    `task_hub`/`connection_name` are the binding's own `taskHub`/`connectionName` settings;
    `connectionName` stays null when the binding does not set one, as in the extension.
    With `grpc` (a binding with `durableRequiresGrpc`, the 2.x SDK), `rpcBaseUrl` is the gRPC
    endpoint and `httpBaseUrl` the webhook base its management payloads are built on, as the
    extension's `BindingHelper` writes them for its gRPC protocol.
    """
    suffix = endpoints.required_query
    creation_prefix = f"{endpoints.base_url}/orchestrators/{{functionName}}[/{{instanceId}}]"
    binding: dict[str, object] = {
        "taskHubName": task_hub or endpoints.hub_name,
        "connectionName": connection_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{creation_prefix}?{suffix}",
            "createAndWaitOnNewInstancePostUri": (
                f"{creation_prefix}?timeout={{timeoutInSeconds}}"
                f"&pollingInterval={{intervalInSeconds}}&{suffix}"
            ),
        },
        "managementUrls": management_urls(
            endpoints,
            INSTANCE_ID_PLACEHOLDER,
            hub_name=task_hub,
            connection_name=connection_name,
        ),
        "baseUrl": endpoints.base_url,
        "requiredQueryStringParameters": suffix,
        "rpcBaseUrl": endpoints.rpc_base_url,
        "httpBaseUrl": None,
    }
    if grpc:
        if endpoints.grpc_origin is None:
            raise ConfigurationError(
                "This function's durable client needs the gRPC endpoint (durableRequiresGrpc), "
                "which this host does not serve."
            )
        binding.update(
            rpcBaseUrl=endpoints.grpc_origin,
            httpBaseUrl=endpoints.base_url,
            maxGrpcMessageSizeInBytes=MAX_GRPC_MESSAGE_BYTES,
            grpcHttpClientTimeout=GRPC_HTTP_CLIENT_TIMEOUT,
        )
    return json.dumps(binding, separators=(",", ":"), ensure_ascii=False)
