"""One exception tree for durable_host. Messages say what happened, to which id, and the fix."""

from __future__ import annotations


class DurableHostError(Exception):
    """Base of every error raised by durable_host."""


class ConfigurationError(DurableHostError):
    """Bad host.json, local.settings.json, hub name or command-line option."""


class StorageError(DurableHostError):
    """A storage request failed. Translated at the storage edge from the Azure SDK error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        lease_lost: bool = False,
        pop_receipt_mismatch: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.lease_lost = lease_lost
        self.pop_receipt_mismatch = pop_receipt_mismatch


class CheckpointConflictError(StorageError):
    """The history sentinel ETag did not match: another worker wrote this instance's history.

    The episode is abandoned and its messages are retried; nothing is lost.
    """


class LeaseLapsingError(CheckpointConflictError):
    """This host's lease on the instance's partition has lapsed or is about to: another worker
    may own the partition, so the work item is left to it (its messages are retried)."""


class MessageFormatError(DurableHostError):
    """A queue message or table row could not be decoded (bad JSON, unknown $type, ...)."""


class FunctionNotFoundError(DurableHostError, LookupError):
    """No orchestrator/activity/entity with that name is registered in the app."""


class AppLoadError(DurableHostError):
    """function_app.py could not be imported or indexed."""


class InstanceNotFoundError(DurableHostError, LookupError):
    """No orchestration instance with that id exists in the task hub."""


class InstanceFinishedError(DurableHostError):
    """The operation needs a running instance but it already finished (HTTP 410)."""


class InvalidOperationError(DurableHostError):
    """The operation is not valid for the instance's current state (e.g. rewind while running)."""


class InvalidInstanceIdError(DurableHostError, ValueError):
    """An instance id a client named breaks the extension's rules (HTTP 400)."""


class InstanceAlreadyExistsError(InvalidOperationError):
    """A start, or a restart under the same id, names an instance that has not finished.

    DTFx's OrchestrationAlreadyExistsException (also an InvalidOperationException there);
    `status` is the existing instance's runtime status name, as DTFx quotes it.
    """

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(
            f"An orchestration with instance id '{instance_id}' already exists and is {status}. "
            "Use another instance id, or wait until it finishes (or terminate it) and start "
            "it again."
        )
        self.instance_id = instance_id
        self.status = status


class NonDeterminismError(DurableHostError):
    """A replayed orchestrator action does not match the stored history."""


class FunctionInvocationError(DurableHostError):
    """User code of a function failed (or returned something its output binding can't encode).

    `message` is what the Python worker reports: "<ExceptionType>: <message>".
    """

    def __init__(self, message: str, *, error_type: str, stack_trace: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.stack_trace = stack_trace


class SdkUnavailableError(ConfigurationError):
    """A feature needs a package the environment does not have (an SDK generation, the
    `durabletask` protobuf messages); the message names the package to install."""


class TaskHubInUseError(ConfigurationError):
    """Another kind of host runs (or is set up to run) on the task hub in a way durable_host
    cannot share it (blob partition leases, another app's app lease); the message says which
    and what to do."""
