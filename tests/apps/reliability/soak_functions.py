"""The soak's functions (bench/soak.py): every pattern, each output a function of the input.

Activities record each execution in the ledger (ledger.py) under a key unique to the scheduled
task, so the soak can check that every scheduled activity ran and count the re-runs. The
inputs carry those keys; the soak's model computes every output from the same inputs.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from ledger import first_time, marked, record

bp = df.Blueprint()

_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=3)


# --------------------------------------------------------------------------- activities


@bp.activity_trigger(input_name="item")
def soak_flaky(item: dict[str, Any]) -> int:
    """Fails the first attempt of `key` (a marker remembers it), then value * 2."""
    record(item["key"])
    if first_time(item["key"]):
        raise RuntimeError(f"first attempt of {item['key']} fails on purpose")
    return int(item["value"]) * 2


@bp.activity_trigger(input_name="item")
def soak_refuses(item: dict[str, Any]) -> int:
    """Always fails."""
    record(item["key"])
    raise ValueError(f"refused {item['value']}")


@bp.activity_trigger(input_name="item")
def soak_until_rewound(item: dict[str, Any]) -> int:
    """Fails until the soak has marked the instance `rewound`, then value * 2."""
    record(item["key"])
    if not marked(f"rewound-{item['instance']}"):
        raise RuntimeError("not rewound yet")
    return int(item["value"]) * 2


@bp.activity_trigger(input_name="item")
def soak_big(item: dict[str, Any]) -> str:
    """A payload of `size` characters (over the queue and table limits: it goes to blobs)."""
    record(item["key"])
    return big_text(item["key"], int(item["size"]))


@bp.activity_trigger(input_name="item")
async def soak_spin(item: dict[str, Any]) -> float:
    """Keeps the host's event loop busy for `seconds` (an async activity runs on the loop):
    renewals, receives and HTTP answers all wait meanwhile, as on a stalled machine."""
    record(item["key"])
    until = time.monotonic() + float(item["seconds"])
    while time.monotonic() < until:
        pass
    return float(item["seconds"])


def big_text(key: str, size: int) -> str:
    unit = f"{key}|"
    return (unit * (size // len(unit) + 1))[:size]


# --------------------------------------------------------------------------- orchestrations


def _item(context: df.DurableOrchestrationContext, step: str, value: int) -> dict[str, Any]:
    return {"key": f"{context.instance_id}/{step}", "value": value}


@bp.orchestration_trigger(context_name="context")
def soak_chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"n", "flaky"}: n activities in a row (the second one flaky, with retries) ->
    [0, 2, 4, ...]; custom status {"done": n}."""
    spec = context.get_input()
    results = []
    for i in range(spec["n"]):
        context.set_custom_status({"step": i})
        name = "soak_flaky" if spec["flaky"] and i == 1 else "work"
        results.append(
            (yield context.call_activity_with_retry(name, _RETRY, _item(context, f"c{i}", i)))
        )
    context.set_custom_status({"done": spec["n"]})
    return results


@bp.orchestration_trigger(context_name="context")
def soak_caught(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    """An activity that always fails, caught -> "caught"."""
    try:
        yield context.call_activity("soak_refuses", _item(context, "refused", 7))
    except Exception:
        return "caught"
    return "not caught"


@bp.orchestration_trigger(context_name="context")
def soak_rewindable(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"value"}: Failed until rewound, then 2 * value."""
    item = {**_item(context, "until-rewound", context.get_input()["value"])}
    item["instance"] = context.instance_id
    return (yield context.call_activity("soak_until_rewound", item))


@bp.orchestration_trigger(context_name="context")
def soak_fan(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"n"}: n activities at once -> 2 * (0 + ... + n-1)."""
    n = context.get_input()["n"]
    results = yield context.task_all(
        [context.call_activity("work", _item(context, f"f{i}", i)) for i in range(n)]
    )
    return sum(results)


@bp.orchestration_trigger(context_name="context")
def soak_deep(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"depth"}: a binary tree of sub-orchestrations `depth` levels deep, one activity per
    leaf (value = depth 0 leaf index) -> the leaves' sum, 2 * (0 + ... + 2^depth - 1)."""
    spec = context.get_input()
    depth, base = spec["depth"], spec.get("base", 0)
    if depth == 0:
        return (yield context.call_activity("work", _item(context, "leaf", base)))
    half = 2 ** (depth - 1)
    children = [
        context.call_sub_orchestrator(
            "soak_deep",
            {"depth": depth - 1, "base": base + i * half},
            instance_id=f"{context.instance_id}-{i}",
        )
        for i in range(2)
    ]
    return sum((yield context.task_all(children)))


@bp.orchestration_trigger(context_name="context")
def soak_timer(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"seconds"}: a durable timer, then an activity -> 2 * seconds."""
    seconds = context.get_input()["seconds"]
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    return (yield context.call_activity("work", _item(context, "after-timer", seconds)))


@bp.orchestration_trigger(context_name="context")
def soak_event(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    """{"timeout"}: the event "go" (an int) or the timeout, whichever comes first ->
    "event <2 * value>" or "timeout"."""
    timeout = context.get_input()["timeout"]
    event = context.wait_for_external_event("go")
    timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=timeout))
    winner = yield context.task_any([event, timer])
    if winner is not event:
        return "timeout"
    timer.cancel()
    doubled = yield context.call_activity("work", _item(context, "after-event", int(event.result)))
    return f"event {doubled}"


@bp.orchestration_trigger(context_name="context")
def soak_race(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"value", "timer"}: an activity against a timer of `timer` seconds -> the activity's
    2 * value, or "timer won" (the soak accepts that only if the instance took that long)."""
    spec = context.get_input()
    value = spec["value"]
    timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=spec["timer"]))
    work = context.call_activity("work", _item(context, "race", value))
    winner = yield context.task_any([work, timer])
    if winner is work:
        timer.cancel()
        return work.result
    return "timer won"


@bp.orchestration_trigger(context_name="context")
def soak_loop(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"n", "acc"}: continue-as-new n times, one activity per generation -> acc + n(n+1)."""
    spec = context.get_input()
    n, acc = spec["n"], spec["acc"]
    if n == 0:
        return acc
    doubled = yield context.call_activity("work", _item(context, f"gen{n}", n))
    context.continue_as_new({"n": n - 1, "acc": acc + doubled})
    return None


@bp.orchestration_trigger(context_name="context")
def soak_entity(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"key", "calls", "signals"}: calls `add` for each of `calls`, then signals `add` for
    each of `signals`, on one shared counter -> how many calls it made."""
    spec = context.get_input()
    entity = df.EntityId("counter", spec["key"])  # function_app.py's counter
    for amount in spec["calls"]:
        yield context.call_entity(entity, "add", amount)
    for amount in spec["signals"]:
        context.signal_entity(entity, "add", amount)
    return len(spec["calls"])


@bp.orchestration_trigger(context_name="context")
def soak_forever(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    """Waits for an event nobody sends: the soak terminates it."""
    yield context.wait_for_external_event("never")
    return "the event came"


@bp.orchestration_trigger(context_name="context")
def soak_payload(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"pad", "size"}: a large input and a large activity result -> len(pad) and the result."""
    spec = context.get_input()
    item = {**_item(context, "big", 0), "size": spec["size"]}
    text = yield context.call_activity("soak_big", item)
    return {"pad": len(spec["pad"]), "text": text}


@bp.orchestration_trigger(context_name="context")
def soak_stall(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """{"seconds"}: blocks the event loop of the host that runs its activity -> seconds."""
    item = {**_item(context, "spin", 0), "seconds": context.get_input()["seconds"]}
    return (yield context.call_activity("soak_spin", item))
