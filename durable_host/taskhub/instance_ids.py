"""The rules for an orchestration instance id, in one place.

Every id the engine starts must be non-blank and at most 256 characters long (the
extension's `MaxInstanceIdLength`); its rows are keyed by the escaped id (key_escaping.py),
so any other character is fine there, and sub-orchestrations and tests use them.
A client of the Durable HTTP API is held to the extension client's stricter rules
(`StartNewAsync`): no `@` first (entity ids start so), and no `/`, `\\`, `#`, `?` or
control character.
"""

from __future__ import annotations

from durable_host.errors import InvalidInstanceIdError
from durable_host.taskhub.key_escaping import is_control_character

__all__ = ["MAX_INSTANCE_ID_LENGTH", "check_client_instance_id", "check_instance_id"]

MAX_INSTANCE_ID_LENGTH = 256


def check_instance_id(instance_id: str) -> None:
    """Raise InvalidInstanceIdError for an id no instance may have."""
    if not instance_id.strip():
        raise InvalidInstanceIdError(
            "Orchestration instance ids must not be empty or white space; leave the id out "
            "to have one generated."
        )
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise InvalidInstanceIdError(
            f"Instance ID lengths must not exceed {MAX_INSTANCE_ID_LENGTH} characters."
        )


def check_client_instance_id(instance_id: str) -> None:
    """Raise InvalidInstanceIdError, with the extension's message, for an id its client
    refuses."""
    if instance_id.startswith("@"):
        raise InvalidInstanceIdError("Orchestration instance ids must not start with @.")
    if any(ch in "/\\?#" or is_control_character(ord(ch)) for ch in instance_id):
        raise InvalidInstanceIdError(
            "Orchestration instance ids must not contain /, \\, #, ?, or control characters."
        )
    check_instance_id(instance_id)
