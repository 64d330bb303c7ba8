"""The soak's seeded generator and its model: what to start, and what it must end as.

Each plan is drawn from its own `random.Random(f"{seed}/{index}")`, so a seed gives the same
plans whatever the timing. The model is independent of the host: it computes each instance's
final status, output and custom status, the ledger keys its activities must record (and how
many runs each needs), and the amount each entity operation adds, from the plan's choices.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APP_DIR = Path(__file__).resolve().parent.parent / "tests" / "apps" / "reliability"
sys.path.insert(0, str(APP_DIR))
from soak_functions import big_text  # noqa: E402  (the app's own formula for its payload)

ENTITY_KEYS = 4  # many callers share each of these counters
RACE_TIMER_SECONDS = 20
EVENT_TIMEOUT_SECONDS = 60

# (kind, weight): what the mix is drawn from.
MIX = (
    ("soak_chain", 16),
    ("soak_fan", 10),
    ("soak_deep", 6),
    ("soak_timer", 10),
    ("soak_event", 10),
    ("soak_race", 6),
    ("soak_loop", 6),
    ("soak_entity", 12),
    ("soak_caught", 5),
    ("soak_rewindable", 4),
    ("soak_forever", 4),
    ("soak_payload", 3),
    ("signal", 8),
)
SURFACES = ("http_api", "http_starter", "client")


@dataclass
class Plan:
    """One instance: how to start it, what to do to it, and what it must end as."""

    instance_id: str
    kind: str
    input: Any
    surface: str
    expected_status: str = "Completed"
    expected_output: Any = None
    check_output: bool = True
    custom_status: Any = None
    # Another output the instance may end with, if it ran at least this many seconds
    # (a timer that raced the work and may win legitimately when faults slow the work).
    slow_alternative: tuple[float, Any] | None = None
    action: str | None = (
        None  # suspend, terminate, rewind, restart, raise_finished, purge, raise_event
    )
    event_value: int | None = None
    keys: dict[str, int] = field(default_factory=dict)  # ledger key -> runs it needs at least
    history_check: bool = False  # a plain history: every task, timer, child matched once
    entity_adds: list[int] = field(default_factory=list)  # adds it applies to `entity_key`
    entity_key: str | None = None
    # What happened (filled in by the driver).
    began_at: float | None = None
    acked_at: float | None = None
    finished_at: float | None = None
    purged: bool = False
    notes: list[str] = field(default_factory=list)
    waiting_on: str = ""  # what the driver awaits for it now, for the progress line


@dataclass
class Signal:
    """A client signal: add `amount` to an entity, now or at `delay` seconds from now."""

    entity_key: str
    amount: int
    delay: float | None


def _deep_keys(root: str, depth: int) -> list[str]:
    ids = [root]
    for _ in range(depth):
        ids = [f"{i}-{b}" for i in ids for b in (0, 1)]
    return [f"{i}/leaf" for i in ids]


def draw(seed: int, index: int, prefix: str) -> Plan | Signal:
    rng = random.Random(f"{seed}/{index}")
    kinds, weights = zip(*MIX, strict=True)
    kind = rng.choices(kinds, weights)[0]
    if kind == "signal":
        delay = rng.uniform(1.0, 8.0) if rng.random() < 0.4 else None
        return Signal(f"shared-{rng.randrange(ENTITY_KEYS)}", rng.randint(1, 9), delay)
    iid = f"{prefix}-{index:06d}"
    plan = Plan(iid, kind, None, rng.choice(SURFACES))
    _MODELS[kind](plan, rng)
    return plan


def _chain(plan: Plan, rng: random.Random) -> None:
    n, flaky = rng.randint(2, 5), rng.random() < 0.5
    plan.input = {"n": n, "flaky": flaky}
    plan.expected_output = [2 * i for i in range(n)]
    plan.custom_status = {"done": n}
    plan.keys = {f"{plan.instance_id}/c{i}": 2 if flaky and i == 1 else 1 for i in range(n)}
    plan.history_check = not flaky  # retries add timers and failed tasks of their own
    plan.action = rng.choices([None, "restart", "raise_finished", "purge"], [7, 1, 1, 1])[0]


def _fan(plan: Plan, rng: random.Random) -> None:
    n = rng.randint(3, 10)
    plan.input = {"n": n}
    plan.expected_output = sum(2 * i for i in range(n))
    plan.keys = {f"{plan.instance_id}/f{i}": 1 for i in range(n)}
    plan.history_check = True
    plan.action = rng.choices([None, "restart", "purge"], [8, 1, 1])[0]


def _deep(plan: Plan, rng: random.Random) -> None:
    depth = rng.randint(1, 3)
    plan.input = {"depth": depth}
    plan.expected_output = sum(2 * i for i in range(2**depth))
    plan.keys = dict.fromkeys(_deep_keys(plan.instance_id, depth), 1)
    plan.history_check = True


def _timer(plan: Plan, rng: random.Random) -> None:
    seconds = rng.randint(1, 5)
    plan.input = {"seconds": seconds}
    plan.expected_output = 2 * seconds
    plan.keys = {f"{plan.instance_id}/after-timer": 1}
    plan.action = "suspend" if rng.random() < 0.4 else None
    plan.history_check = plan.action is None


def _event(plan: Plan, rng: random.Random) -> None:
    if rng.random() < 0.7:
        value = rng.randint(1, 1000)
        plan.input = {"timeout": EVENT_TIMEOUT_SECONDS}
        plan.event_value = value
        plan.action = "raise_event"
        plan.expected_output = f"event {2 * value}"
        plan.slow_alternative = (EVENT_TIMEOUT_SECONDS, "timeout")
        plan.keys = {f"{plan.instance_id}/after-event": 1}
    else:
        plan.input = {"timeout": rng.randint(2, 6)}
        plan.expected_output = "timeout"


def _race(plan: Plan, rng: random.Random) -> None:
    value = rng.randint(1, 1000)
    plan.input = {"value": value, "timer": RACE_TIMER_SECONDS}
    plan.expected_output = 2 * value
    plan.slow_alternative = (RACE_TIMER_SECONDS, "timer won")
    plan.keys = {f"{plan.instance_id}/race": 1}


def _loop(plan: Plan, rng: random.Random) -> None:
    n = rng.randint(2, 6)
    plan.input = {"n": n, "acc": 0}
    plan.expected_output = n * (n + 1)
    plan.keys = {f"{plan.instance_id}/gen{k}": 1 for k in range(1, n + 1)}


def _entity(plan: Plan, rng: random.Random) -> None:
    calls = [rng.randint(1, 9) for _ in range(rng.randint(1, 3))]
    signals = [rng.randint(1, 9) for _ in range(rng.randint(0, 2))]
    plan.entity_key = f"shared-{rng.randrange(ENTITY_KEYS)}"
    plan.input = {"key": plan.entity_key, "calls": calls, "signals": signals}
    plan.expected_output = len(calls)
    plan.entity_adds = calls + signals


def _caught(plan: Plan, rng: random.Random) -> None:
    plan.input = None
    plan.expected_output = "caught"
    plan.keys = {f"{plan.instance_id}/refused": 1}


def _rewindable(plan: Plan, rng: random.Random) -> None:
    value = rng.randint(1, 1000)
    plan.input = {"value": value}
    plan.action = "rewind"
    plan.expected_output = 2 * value
    plan.keys = {f"{plan.instance_id}/until-rewound": 2}


def _forever(plan: Plan, rng: random.Random) -> None:
    plan.action = "terminate"
    plan.expected_status = "Terminated"
    plan.check_output = False


def _payload(plan: Plan, rng: random.Random) -> None:
    pad, size = rng.randint(50_000, 70_000), rng.randint(60_000, 100_000)
    plan.input = {"pad": "p" * pad, "size": size}
    key = f"{plan.instance_id}/big"
    plan.expected_output = {"pad": pad, "text": big_text(key, size)}
    plan.keys = {key: 1}
    plan.history_check = True


_MODELS = {
    "soak_chain": _chain,
    "soak_fan": _fan,
    "soak_deep": _deep,
    "soak_timer": _timer,
    "soak_event": _event,
    "soak_race": _race,
    "soak_loop": _loop,
    "soak_entity": _entity,
    "soak_caught": _caught,
    "soak_rewindable": _rewindable,
    "soak_forever": _forever,
    "soak_payload": _payload,
}


def restarted(plan: Plan, new_id: str) -> Plan:
    """The plan of `plan` restarted under a new id: the same input, so the same output."""
    twin = Plan(new_id, plan.kind, plan.input, "client")
    twin.expected_output = plan.expected_output
    twin.custom_status = plan.custom_status
    twin.history_check = plan.history_check
    twin.keys = {new_id + key[len(plan.instance_id) :]: n for key, n in plan.keys.items()}
    return twin


def stall(index: int, prefix: str, seconds: float) -> Plan:
    """A loop-block fault: an instance whose async activity spins a host's loop."""
    iid = f"{prefix}-stall-{index:04d}"
    plan = Plan(iid, "soak_stall", {"seconds": seconds}, "client")
    plan.expected_output = seconds
    plan.keys = {f"{iid}/spin": 1}
    plan.history_check = True
    return plan
