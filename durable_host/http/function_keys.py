"""Function keys: required only when the host listens beyond loopback.

Locally Core Tools runs every function anonymously. When durable_host is bound to
a non-loopback address, `function`/`admin` HTTP triggers and the public Durable
webhook require the host key, passed as `?code=` or the `x-functions-key` header.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from aiohttp import web

__all__ = ["FUNCTIONS_KEY_SETTING", "AccessKeys", "generate_key", "is_loopback"]

# The app setting a user can set in local.settings.json Values to choose the key.
FUNCTIONS_KEY_SETTING = "FUNCTIONS_KEY"


def generate_key() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AccessKeys:
    """`key=None` means keys are not enforced (loopback-only host)."""

    key: str | None = None

    @property
    def required(self) -> bool:
        return self.key is not None

    def presented(self, request: web.Request) -> str | None:
        return request.headers.get("x-functions-key") or request.query.get("code")

    def allows(self, request: web.Request, *, auth_level: str = "function") -> bool:
        if self.key is None or auth_level.lower() == "anonymous":
            return True
        given = self.presented(request)
        return given is not None and hmac.compare_digest(given.encode(), self.key.encode())

    def allows_rpc(self, request: web.Request) -> bool:
        """The RPC base needs no key from loopback callers, as the extension's local listener."""
        return self.key is None or is_loopback(request.remote) or self.allows(request)
