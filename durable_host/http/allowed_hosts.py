"""Which host names a loopback listener answers: the DNS rebinding rule.

A web page whose name resolves to 127.0.0.1 is same-origin with itself, so the browser lets
it post to a loopback host under that name (`Host: evil.example:7071`, with a matching
`Origin`): an origin check alone cannot tell it from the dashboard. A listener on loopback
therefore answers only loopback names (`localhost` and its subdomains, 127.0.0.0/8, `[::1]`,
any port) and the names the user adds (`--allowed-host`, for port forwarding such as a
codespace's), as Vite's `server.allowedHosts` and webpack-dev-server's `allowedHosts` do.

`AllowedHosts.allows(authority)` is the one check: HTTP passes the `Host` header, gRPC its
`:authority` pseudo-header. It imports nothing of durable_host (any layer may call it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

__all__ = ["ALLOWED_HOST_OPTION", "AllowedHosts", "allowed_hosts_middleware", "host_name"]

ALLOWED_HOST_OPTION = "--allowed-host"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_name(authority: str) -> str:
    """The name of a `Host` / `:authority` value, without its port, brackets or final dot."""
    text = authority.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text[1:]
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text.rstrip(".")


def _is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True  # RFC 6761: browsers resolve these to loopback themselves
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AllowedHosts:
    """`enforced` is False off loopback (there the host key guards every action)."""

    extra: frozenset[str] = frozenset()
    enforced: bool = True

    @classmethod
    def for_listener(cls, loopback: bool, extra: Iterable[str] = ()) -> AllowedHosts:
        names = frozenset(host_name(n) if not n.startswith(".") else n.lower() for n in extra)
        return cls(names, enforced=loopback)

    def allows(self, authority: str | None) -> bool:
        """Whether a request naming `authority` (None: no Host at all) may be answered."""
        if not self.enforced or authority is None or not authority.strip():
            return True  # no name given: not a browser, so not a rebinding page
        name = host_name(authority)
        if _is_loopback_name(name) or name in self.extra:
            return True
        # ".example.com" (Vite's form) allows the name and every subdomain of it.
        return any(e.startswith(".") and (name.endswith(e) or name == e[1:]) for e in self.extra)

    def refusal(self, authority: str) -> str:
        name = host_name(authority)
        return (
            f"Host '{authority}' is not allowed: this host listens on loopback and answers "
            "only localhost, 127.0.0.1 and [::1] (a page on another name that resolves to "
            "this machine could otherwise drive it: DNS rebinding). To reach it under that "
            f"name (port forwarding, a codespace), start it with {ALLOWED_HOST_OPTION} {name}."
        )


def allowed_hosts_middleware(policy: AllowedHosts) -> Callable[..., Awaitable[web.StreamResponse]]:
    """403 (plain text naming the option) for a request whose Host the policy refuses."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        authority = request.headers.get("Host")
        if authority is not None and not policy.allows(authority):
            return web.Response(
                status=403, text=policy.refusal(authority), content_type="text/plain"
            )
        return await handler(request)

    return middleware
