"""Entities on the sidecar, as durabletask's worker runs them: function and class based,
signals from the client and from orchestrations (delayed too), calls, locks, deletion."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from durabletask import entities, task
from durabletask.client import AsyncTaskHubGrpcClient, OrchestrationStatus
from durabletask.entities import EntityInstanceId
from durabletask.worker import TaskHubGrpcWorker

from tests.engine._helpers import eventually


def counter(ctx: entities.EntityContext, value: Any) -> Any:
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        state += value
        ctx.set_state(state)
    elif ctx.operation == "get":
        return state
    elif ctx.operation == "fail":
        raise ValueError("counter refused")
    return state


class Account(entities.DurableEntity):
    def deposit(self, amount: int) -> int:
        balance = self.get_state(int, 0) + amount
        self.set_state(balance)
        return balance

    def balance(self, _: Any) -> int:
        return self.get_state(int, 0)


def transfer(ctx: task.OrchestrationContext, amount: int) -> Any:
    source = EntityInstanceId("Account", "source")
    target = EntityInstanceId("Account", "target")
    with (yield ctx.lock_entities([source, target])):
        yield ctx.call_entity(source, "deposit", -amount)
        yield ctx.call_entity(target, "deposit", amount)
    ctx.signal_entity(EntityInstanceId("counter", "transfers"), "add", 1)
    return (yield ctx.call_entity(target, "balance"))


def call_failing(ctx: task.OrchestrationContext, _: Any) -> Any:
    try:
        yield ctx.call_entity(EntityInstanceId("counter", "c"), "fail")
    except task.TaskFailedError as exc:
        return f"caught: {exc.details.message}"
    return "no error"


def register(worker: TaskHubGrpcWorker) -> None:
    worker.add_entity(counter)
    worker.add_entity(Account)
    worker.add_orchestrator(transfer)
    worker.add_orchestrator(call_failing)
    worker.start()


async def _state(client: AsyncTaskHubGrpcClient, entity: EntityInstanceId) -> Any:
    metadata = await client.get_entity(entity, include_state=True)
    return None if metadata is None else metadata.get_typed_state()


async def test_signals_from_the_client_now_and_later(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    entity = EntityInstanceId("counter", "c")
    for n in (1, 2, 3):
        await client.signal_entity(entity, "add", n)
    later = datetime.now(timezone.utc) + timedelta(seconds=2)
    await client.signal_entity(entity, "add", 10, signal_time=later)

    async def reached(value: int) -> bool:
        return bool(await _state(client, entity) == value)

    await eventually(lambda: reached(6), what="the counter at 6")
    await eventually(lambda: reached(16), what="the delayed signal to add 10")


async def test_orchestration_locks_calls_and_signals_class_entities(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    instance_id = await client.schedule_new_orchestration(transfer, input=5)
    state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert state.get_output() == 5
    assert await _state(client, EntityInstanceId("Account", "source")) == -5

    async def signalled() -> bool:
        return bool(await _state(client, EntityInstanceId("counter", "transfers")) == 1)

    await eventually(signalled, what="the transfer counter signalled")


async def test_an_operation_error_reaches_the_caller(
    worker: TaskHubGrpcWorker, client: AsyncTaskHubGrpcClient
) -> None:
    register(worker)
    instance_id = await client.schedule_new_orchestration(call_failing)
    state = await client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert "counter refused" in state.get_output()
