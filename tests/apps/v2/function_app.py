"""A Durable Functions app in the 2.x style: durabletask orchestrators on the protobuf protocol
(`durabletask-azurefunctions`, whose decorators mark every trigger `durableRequiresGrpc`).

Every pattern the host must run for such an app: chaining, fan-out/in, sub-orchestrations,
timers, external events with when_any, retries, continue-as-new, custom status, entities
(function and class based) and large payloads. tests/v2/ drives it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import azure.functions as func
import dev5_compat
from durabletask import entities, task
from durabletask.azurefunctions.client import DurableFunctionsClient
from durabletask.azurefunctions.decorators.durable_app import DFApp
from durabletask.entities import EntityInstanceId

dev5_compat.install()
app = DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# Failures left for `flaky` before it succeeds, per key (reset by the tests).
FLAKY_FAILURES: dict[str, int] = {}


# -- the durable client (2.x: gRPC to the host) ----------------------------------------------


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
def start_orchestration(req: func.HttpRequest, client: str) -> func.HttpResponse:
    # Sync on purpose: the client's gRPC calls block, so they run on the worker's threads.
    durable = DurableFunctionsClient(client)
    body = req.get_body()
    instance_id = durable.schedule_new_orchestration(
        req.route_params["name"], input=json.loads(body) if body else None
    )
    return func.HttpResponse(
        json.dumps({"id": instance_id}), status_code=202, mimetype="application/json"
    )


@app.route(route="start-async/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_orchestration_async(req: func.HttpRequest, client: str) -> func.HttpResponse:
    # An async function making the client's blocking gRPC call, as durabletask's history
    # export does: in Azure it blocks only the worker's loop, never the host's.
    instance_id = DurableFunctionsClient(client).schedule_new_orchestration(
        req.route_params["name"]
    )
    return func.HttpResponse(
        json.dumps({"id": instance_id}), status_code=202, mimetype="application/json"
    )


# -- activities ------------------------------------------------------------------------------


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}!"


@app.activity_trigger(input_name="value")
def square(value: int) -> int:
    return value * value


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    left = FLAKY_FAILURES.get(key, 0)
    if left > 0:
        FLAKY_FAILURES[key] = left - 1
        raise RuntimeError(f"flaky {key} failed, {left - 1} failure(s) left")
    return f"{key} ok"


@app.activity_trigger(input_name="size")
def big_text(size: int) -> str:
    return "x" * size


@app.activity_trigger(input_name="text")
def text_length(text: str) -> int:
    return len(text)


@app.activity_trigger(input_name="instance_id")
@app.durable_client_input(client_name="client")
def status_of(instance_id: str, client: str) -> str | None:
    """An activity with a durable client of its own (durabletask's history export has some)."""
    state = DurableFunctionsClient(client).get_orchestration_state(instance_id)
    return None if state is None else state.runtime_status.name


# -- orchestrators ---------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def hello_chain(ctx: task.OrchestrationContext, _: Any) -> Any:
    first = yield ctx.call_activity("say_hello", input="Tokyo")
    second = yield ctx.call_activity("say_hello", input="Seattle")
    third = yield ctx.call_activity("say_hello", input="London")
    return [first, second, third]


@app.orchestration_trigger(context_name="context")
def fan_out(ctx: task.OrchestrationContext, count: int) -> Any:
    squares = yield task.when_all([ctx.call_activity("square", input=i) for i in range(count)])
    return sum(squares)


@app.orchestration_trigger(context_name="context")
def parent(ctx: task.OrchestrationContext, values: list[int]) -> Any:
    children: list[task.Task[Any]] = [
        ctx.call_sub_orchestrator("fan_out", input=v, instance_id=f"{ctx.instance_id}-child-{v}")
        for v in values
    ]
    results = yield task.when_all(children)
    return results


@app.orchestration_trigger(context_name="context")
def timer(ctx: task.OrchestrationContext, seconds: int) -> Any:
    fire_at = ctx.current_utc_datetime + timedelta(seconds=seconds)
    yield ctx.create_timer(fire_at)
    return ctx.current_utc_datetime.isoformat()


@app.orchestration_trigger(context_name="context")
def approval(ctx: task.OrchestrationContext, timeout_seconds: int) -> Any:
    ctx.set_custom_status({"stage": "waiting"})
    approved = ctx.wait_for_external_event("approve")
    deadline = ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=timeout_seconds))
    winner = yield task.when_any([approved, deadline])
    if winner == approved:
        ctx.set_custom_status({"stage": "approved"})
        return {"approved": approved.get_result()}
    ctx.set_custom_status({"stage": "timed out"})
    return {"approved": None}


@app.orchestration_trigger(context_name="context")
def retried(ctx: task.OrchestrationContext, key: str) -> Any:
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3)
    result = yield ctx.call_activity("flaky", input=key, retry_policy=policy)
    return result


@app.orchestration_trigger(context_name="context")
def who_am_i(ctx: task.OrchestrationContext, _: Any) -> Any:
    status = yield ctx.call_activity("status_of", input=ctx.instance_id)
    return status


@app.orchestration_trigger(context_name="context")
def flaky_once(ctx: task.OrchestrationContext, key: str) -> Any:
    # No retry policy: durabletask cannot rewind a task retried by policy (its retry timers
    # stay in the history; worker.py _build_rewind_result says so).
    result = yield ctx.call_activity("flaky", input=key)
    return result


@app.orchestration_trigger(context_name="context")
def counter_loop(ctx: task.OrchestrationContext, state: dict[str, int]) -> Any:
    if state["n"] >= state["until"]:
        return state["n"]
    ctx.continue_as_new({"n": state["n"] + 1, "until": state["until"]})
    return None


@app.orchestration_trigger(context_name="context")
def failing(ctx: task.OrchestrationContext, message: str) -> Any:
    yield ctx.call_activity("say_hello", input="first")
    raise ValueError(message)


@app.orchestration_trigger(context_name="context")
def large_payloads(ctx: task.OrchestrationContext, size: int) -> Any:
    text = yield ctx.call_activity("big_text", input=size)
    length = yield ctx.call_activity("text_length", input=text)
    return {"length": length, "tail": text[-3:]}


# -- entities --------------------------------------------------------------------------------


@app.entity_trigger(context_name="context")
def counter(ctx: entities.EntityContext, value: Any) -> Any:
    """A function-based entity."""
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        ctx.set_state(state + value)
        return state + value
    if ctx.operation == "get":
        return state
    if ctx.operation == "fail":
        raise ValueError(f"counter {ctx.entity_id.key} refuses")
    if ctx.operation == "forward":
        # A signal to another entity, and an orchestration started by the entity.
        ctx.signal_entity(EntityInstanceId("counter", value["to"]), "add", state)
        ctx.schedule_new_orchestration("hello_chain", instance_id=value["start"])
        return None
    raise ValueError(f"unknown operation {ctx.operation}")


class Account(entities.DurableEntity):
    """A class-based entity."""

    def deposit(self, amount: int) -> int:
        balance = self.get_state(int, 0) + amount
        self.set_state(balance)
        return balance

    def withdraw(self, amount: int) -> int:
        balance = self.get_state(int, 0)
        if amount > balance:
            raise ValueError(f"insufficient funds: {balance} < {amount}")
        self.set_state(balance - amount)
        return balance - amount

    def balance(self, _: Any = None) -> int:
        return self.get_state(int, 0)


app.entity_trigger(context_name="context")(Account)


@app.orchestration_trigger(context_name="context")
def entity_calls(ctx: task.OrchestrationContext, key: str) -> Any:
    tally = EntityInstanceId("counter", key)
    account = EntityInstanceId("account", key)
    ctx.signal_entity(tally, "add", 5)
    after_add = yield ctx.call_entity(tally, "add", 10)
    deposited = yield ctx.call_entity(account, "deposit", 100)
    try:
        yield ctx.call_entity(account, "withdraw", 500)
        refused = None
    except task.TaskFailedError as exc:
        refused = str(exc)
    balance = yield ctx.call_entity(account, "balance")
    return {"after_add": after_add, "deposited": deposited, "refused": refused, "balance": balance}


@app.orchestration_trigger(context_name="context")
def transfer(ctx: task.OrchestrationContext, args: dict[str, Any]) -> Any:
    """A critical section: both accounts locked while the money moves."""
    source = EntityInstanceId("account", args["from"])
    target = EntityInstanceId("account", args["to"])
    with (yield ctx.lock_entities([source, target])):
        have = yield ctx.call_entity(source, "balance")
        if have < args["amount"]:
            return {"moved": False, "balance": have}
        yield ctx.call_entity(source, "withdraw", args["amount"])
        yield ctx.call_entity(target, "deposit", args["amount"])
    left = yield ctx.call_entity(source, "balance")
    return {"moved": True, "balance": left}
