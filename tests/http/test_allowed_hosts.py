"""The DNS rebinding rule as one check (HTTP's Host and gRPC's :authority alike)."""

from __future__ import annotations

import pytest

from durable_host.http.allowed_hosts import AllowedHosts, host_name


@pytest.mark.parametrize(
    ("authority", "name"),
    [
        ("localhost:7071", "localhost"),
        ("LOCALHOST", "localhost"),
        ("[::1]:7071", "::1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("evil.example.:7071", "evil.example"),
        ("::1", "::1"),
    ],
)
def test_host_name_drops_the_port_brackets_and_final_dot(authority: str, name: str) -> None:
    assert host_name(authority) == name


@pytest.mark.parametrize(
    "authority",
    ["localhost:7071", "127.0.0.1:7071", "127.1.2.3", "[::1]:7071", "app.localhost:5173", None],
)
def test_loopback_names_are_answered(authority: str | None) -> None:
    assert AllowedHosts.for_listener(True).allows(authority)


@pytest.mark.parametrize(
    "authority",
    ["evil.example:7071", "evil.example", "localhost.evil.example", "10.0.0.5:7071", "[::2]"],
)
def test_other_names_are_refused_on_loopback(authority: str) -> None:
    assert not AllowedHosts.for_listener(True).allows(authority)


def test_added_names_and_suffixes_are_answered() -> None:
    policy = AllowedHosts.for_listener(True, ["Forwarded.Example:443", ".app.github.dev"])
    assert policy.allows("forwarded.example")
    assert policy.allows("x-7071.app.github.dev")
    assert policy.allows("app.github.dev")
    assert not policy.allows("other.example")
    assert not policy.allows("evilapp.github.dev")


def test_off_loopback_the_host_key_guards_and_every_name_is_answered() -> None:
    assert AllowedHosts.for_listener(False).allows("evil.example:7071")


def test_the_refusal_names_the_option_and_the_name_to_add() -> None:
    text = AllowedHosts.for_listener(True).refusal("evil.example:7071")
    assert text.startswith("Host 'evil.example:7071' is not allowed")
    assert text.endswith("start it with --allowed-host evil.example.")
