"""Translate Azure SDK failures into StorageError at the storage edge.

Messages name the operation and the resource, never the connection string or
the request URL (which can carry a SAS token).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ServiceRequestError,
)

from durable_host.errors import CheckpointConflictError, StorageError

__all__ = ["storage_errors"]

# The queue service answers 400/404 with these codes when a pop receipt is stale.
_POP_RECEIPT_CODES = {"PopReceiptMismatch", "MessageNotFound"}
# A table batch fails as a whole with the failing operation's code (status may be 202/400).
_CONFLICT_CODES = {"UpdateConditionNotSatisfied", "EntityAlreadyExists", "ConditionNotMet"}
_LEASE_CODES = {
    "LeaseLost",
    "LeaseIdMismatchWithLeaseOperation",
    "LeaseIdMismatchWithBlobOperation",
}


def _first_line(error: AzureError) -> str:
    text = str(getattr(error, "message", None) or error.__class__.__name__)
    return text.strip().splitlines()[0] if text.strip() else error.__class__.__name__


@contextmanager
def storage_errors(what: str, *, conflict: bool = False) -> Iterator[None]:
    """Re-raise SDK errors inside the block as StorageError.

    `what` names the operation and resource, e.g. "delete message from myhub-control-01".
    With `conflict=True`, 409/412 answers mean "someone else wrote first" and raise
    CheckpointConflictError.
    """
    try:
        yield
    except StorageError:
        raise
    except HttpResponseError as error:
        status = error.status_code
        sdk_code = getattr(error, "error_code", None)
        raw_code = getattr(sdk_code, "value", sdk_code)  # table codes are str Enums
        code = str(raw_code) if raw_code is not None else None
        detail = _first_line(error)
        if conflict and (
            status in (409, 412)
            or code in _CONFLICT_CODES
            or isinstance(error, ResourceModifiedError | ResourceExistsError)
        ):
            raise CheckpointConflictError(
                f"Could not {what}: another writer changed it first ({status} {code}). "
                "The work item is abandoned and retried from storage.",
                status=status,
                code=code,
            ) from error
        raise StorageError(
            f"Could not {what}: {status} {code}: {detail}",
            status=status,
            code=code,
            pop_receipt_mismatch=code in _POP_RECEIPT_CODES,
            lease_lost=code in _LEASE_CODES,
        ) from error
    except ServiceRequestError as error:
        raise StorageError(
            f"Could not {what}: the storage endpoint is unreachable ({_first_line(error)}). "
            "Is Azurite running? Start it with `npx azurite` or let durable_host start it."
        ) from error
    except AzureError as error:
        raise StorageError(f"Could not {what}: {_first_line(error)}") from error
