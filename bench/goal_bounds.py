"""The section 'What bounds each missed goal' of docs/performance.md.

It covers every goal the run missed in both tables: the results table's (bench/goals.py) and
issue 24's ratios (bench/ratio_goals.py). Every figure and every conclusion is read off the
run's own results (its profiles too; stored ones for results without them): a figure the
results lack leaves its sentence out or says it is missing, so the text stays true for any run.
"""

from __future__ import annotations

import re

import ratio_goals
from goals import GOALS, Goal, R, cpu_ms, cpu_per_unit, floor_key, fmt, goal_text, plural
from profile_report import profile_line

__all__ = ["MET", "bounds_section"]

MET = "Every goal with a target was met in this run."
# A process that used at least this share of a core over a workload was busy all along: the
# requests it serves waited for its CPU.
_SATURATED = 0.9
_FLOOR_OPS = ("queue.send", "queue.delete", "table.batch")


def bounds_section(r: R, profiles: R | None = None, ab_steps: str = "") -> list[str]:
    """The section's lines. `profiles` are the run's ("profiles" in its results) or those
    bench/host_profile.py --save stored; `ab_steps` is the text of the A/B steps shown above
    it (bench/ab_steps.md)."""
    entries = _absolute_entries(r)
    for goal, value in ratio_goals.missed(r):
        entries += ["", *_ratio_entry(r, goal, value, profiles, ab_steps)]
    if not entries:
        return [MET]
    return [*(entries[1:] if entries[0] == "" else entries), *_common_notes(r)]


# -- the results table's goals ------------------------------------------------------------------


def _ops(ops: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(ops.items())) or "none"


def _beyond_floor_ops(r: R) -> dict[str, float]:
    """A sequential activity's requests of kinds the floor's send, delete and batch leave out."""
    seq_ops = r["host"]["transactions"]["sequential"]["by_operation"]
    return {k: v for k, v in seq_ops.items() if k not in _FLOOR_OPS and v >= 0.05}


def _absolute_entries(r: R) -> list[str]:
    out: list[str] = []
    for g in GOALS:
        ours = g.ours(r)
        if g.goal in (0, float("inf")) or g.met(ours):
            continue
        text = f"- **{g.label}** ({fmt(ours)} {g.unit}, goal {goal_text(g)}): "
        floor = g.floor(r)
        if g.key == "idle_rps":
            text += _idle_text(r["host"]["idle"])
        elif floor is not None:
            text += _floor_text(r, g, ours, floor)
        else:
            text += "no storage floor applies. "
        out.append(text + _cpu_bound_text(r, g.key))
    return out


def _idle_text(idle: R) -> str:
    return (
        f"polling. Over the last {idle['idle_window_s']:.0f} s of "
        f"{idle['idle_seconds']:.0f} s idle the host sent {_ops(idle['idle_by_operation'])}"
        " requests in all. The floor is 5 pollers (4 control queues, the work-item "
        "queue) each at the 30 s maximum interval plus the lease renewals every 10 s; "
        "a short idle period (quick mode) measures the pollers while they are still "
        "backing off. "
    )


def _floor_text(r: R, g: Goal, ours: float, floor: float) -> str:
    model = r["host"]["floors"].get(floor_key(g.key), {}).get("model", "")
    latency = g.key in ("sequential", "idle")
    prices = "median latencies" if latency else "throughputs (32 requests in flight)"
    if not g.met(floor):
        text = (
            "storage first. The fewest round trips the Azure Storage task hub layout "
            f"needs ({model}) already come to {fmt(floor)} {g.unit} at the {prices} "
            "Azurite showed in this run, beyond the goal: no host that keeps this "
            "layout on this Azurite and machine can meet it. "
        )
    else:
        text = (
            f"the engine: the storage floor ({model}) is {fmt(floor)} {g.unit} at the "
            f"{prices} Azurite showed in this run, within the goal. "
        )
    text += f"Ours is {fmt(ours / floor)}x the floor. " + _cpu_budget(r, g.key)
    if g.key in ("sequential", "idle", "tx_seq"):
        return text + (
            "Beyond the floor's send, delete and batch, each sequential activity makes "
            f"{_ops(_beyond_floor_ops(r))} requests, each with its Python CPU (below). "
        )
    return text + "The gap is the engine's requests and its CPU (below). "


def _cpu_bound_text(r: R, key: str) -> str:
    found = cpu_per_unit(r, key.removesuffix("_p95"))
    if found is None:
        return ""
    unit, host, azurite, cpu = found
    wall = cpu["wall_s"]
    busier = "Azurite" if azurite > host else "the host"
    return (
        f"CPU: the host used {cpu['host_s'] / wall:.2f} of a core and Azurite "
        f"{cpu['azurite_s'] / wall:.2f} (load average {cpu['load']}), {host:.1f} and "
        f"{azurite:.1f} ms of CPU per {unit}: with a free core each, {busier} would bound it "
        f"at {1000 / max(host, azurite):,.0f} {plural(unit)}/s. "
    )


def _requests_per_orchestration(r: R) -> float:
    """An orchestration's fixed requests plus its activities' at the sequential count."""
    t = r["host"]["transactions"]
    activities = r["host"].get("concurrent", {}).get("activities_each", 5)
    return float(sum(t["orchestration_overhead"].values()) + activities * t["sequential"]["total"])


def _cpu_budget(r: R, key: str) -> str:
    """The client CPU our own request count implies, at the measured CPU per request."""
    h = r["host"]
    trips = h["round_trips"]
    if not all("client_cpu" in f for f in trips.values()):
        return ""
    each = sum(cpu_ms(f) for f in trips.values()) / len(trips)
    t = h["transactions"]
    if key == "concurrent":
        per_orch = _requests_per_orchestration(r)
        return (
            f"We make {per_orch:.0f} requests per orchestration of "
            f"{h['concurrent'].get('activities_each', 5)} activities; at "
            f"{each:.1f} ms of client CPU per request (mean of the round-trip table) that "
            f"alone is {per_orch * each:.0f} ms of one core, at most "
            f"{1000 / (per_orch * each):.0f} orchestrations/s. "
        )
    if key == "fan_out":
        n = h["fan_out"]["activities"]
        total = n * t["fan_out"]["total"]
        return (
            f"We make {total:,.0f} requests for the {n:,} activities; at {each:.1f} ms of "
            f"client CPU per request that alone is {total * each / 1000:.1f} s of one core. "
        )
    if key == "sequential":
        return (
            f"Our {t['sequential']['total']:.1f} requests per hop cost "
            f"{t['sequential']['total'] * each:.1f} ms of client CPU at {each:.1f} ms each. "
        )
    return ""


def _common_notes(r: R) -> list[str]:
    out = [
        "",
        "Where the host's CPU goes during each workload: the py-spy profiles below; how to "
        "read them, and earlier ones: docs/storage-client.md.",
    ]
    send = r["host"]["round_trips"]["queue.send"]
    if "client_cpu" not in send:
        return out
    load = r["machine"]["load_before"][0], r["machine"]["load_after"][0]
    by_client = send["client_cpu"] >= _SATURATED
    return [
        *out,
        "",
        "Common to all: the throughput prices are set "
        + (
            "mostly by the Python client, not by Azurite"
            if by_client
            else "by Azurite, not by the Python client"
        )
        + f". During the send test the benchmark process used {send['client_cpu']:.2f} "
        f"of a core, {cpu_ms(send):.2f} ms of CPU per queue send through the minimal "
        "client (see the round-trip table). The host runs on one event loop, so all its "
        "requests and the SDK's replays share one core, and two cores are shared by the "
        "engine, the SDK's replay, the storage client's request handling and Azurite (and "
        f"other work: load average {load[0]} before, {load[1]} after).",
    ]


# -- issue 24's ratio goals ---------------------------------------------------------------------


def _ratio_entry(
    r: R, goal: ratio_goals.RatioGoal, value: float, profiles: R | None, ab_steps: str
) -> list[str]:
    head = f"- **{goal.label}** ({value:.2f}, target {ratio_goals.target_text(goal)}): "
    if goal.versus == "floor" and goal.workload == "sequential":
        body = _hop_text(r, goal)
    elif goal.versus == "floor" and not goal.lower_is_better:
        body = _throughput_text(r, goal)
    else:
        body = _cpu_bound_text(r, goal.workload) or "this run holds no CPU figures for it. "
    return [head + body.rstrip(), profile_line(goal.workload, profiles, ab_steps)]


def _a(unit: str) -> str:
    return ("an " if unit[0] in "aeiou" else "a ") + unit


_TERM = re.compile(r"(\d+(?:\.\d+)?) [a-z]+")


def _model_requests(model: str) -> float | None:
    """The requests a floor model such as '11 send + 11 delete + 6 batch per orchestration'
    counts, or None for a model that is not such a sum."""
    terms = [_TERM.fullmatch(t.strip()) for t in model.split(" per ")[0].split(" + ")]
    return sum(float(m.group(1)) for m in terms if m) if all(terms) else None


def _throughput_text(r: R, goal: ratio_goals.RatioGoal) -> str:
    h, key = r["host"], goal.workload
    floor_entry = h["floors"].get(floor_key(key))
    found = cpu_per_unit(r, key)
    if floor_entry is None or found is None or "per_s" not in h.get(key, {}):
        return "this run holds no floor, rate or CPU figures for it. "
    unit, host, azurite, cpu = found
    floor, reached = float(floor_entry["value"]), float(h[key]["per_s"])
    need = goal.goal * floor
    ceilings = {"the host": 1000 / host, "Azurite": 1000 / azurite}
    bound = min(ceilings, key=lambda name: ceilings[name])
    wall = cpu["wall_s"]
    text = (
        f"the goal needs {need:,.1f} {plural(unit)}/s ({goal.goal:g} x the floor's "
        f"{floor:,.1f}/s); this run reached {reached:,.1f}/s. CPU per {unit} (the table 'CPU "
        f"during each workload'): the host {host:.1f} ms, Azurite {azurite:.1f} ms (shares of "
        f"a core over the workload {cpu['host_s'] / wall:.2f} and {cpu['azurite_s'] / wall:.2f}, "
        f"load average {cpu['load']}). On a core of its own the host's CPU allows "
        f"{ceilings['the host']:,.0f} {plural(unit)}/s and Azurite's {ceilings['Azurite']:,.0f}: "
        f"**{bound}** has the lower ceiling and bounds it (this run reached "
        f"{reached / ceilings[bound]:.2f} of that ceiling). "
    )
    short = {
        name: ms for name, ms in (("the host", host), ("Azurite", azurite)) if ms > 1000 / need
    }
    if short:
        spent = " and ".join(f"{name} spends {ms:.1f} ms" for name, ms in short.items())
        text += (
            f"To reach {need:,.1f}/s a process may spend at most {1000 / need:.1f} ms of CPU "
            f"per {unit} on its own core; {spent}, so "
            + ("both have" if len(short) > 1 else "it has")
            + " to come down to that. "
        )
    else:
        text += (
            "Both ceilings are above the goal's rate, so neither process's CPU alone holds it "
            "back: the run waited (for round trips, or for cores other work held). "
        )
    return text + _requests_text(r, key, unit, floor, azurite, floor_entry["model"])


def _requests_text(r: R, key: str, unit: str, floor: float, azurite: float, model: str) -> str:
    """Our requests per unit against the floor model's, and what each costs Azurite."""
    counted = _model_requests(model)
    ours = _requests_per_orchestration(r) if key == "concurrent" else None
    text = ""
    starts = r["host"].get(key, {}) if key == "http_starts" else {}
    if "requests_per_start" in starts:
        ours = float(starts["requests_per_start"])
        text += (
            f"Storage requests: {ours:.2f} per {unit} by the host over the timed runs (this "
            "run's count, its pollers and lease renewals of those seconds included; besides, "
            f"the benchmark's client read the status {starts['wait_requests_per_start']:.2f} "
            "times per start while it waited)"
        )
    elif ours is not None:
        t = r["host"]["transactions"]
        text += (
            f"Storage requests: about {ours:.1f} per {unit} (this run's counts: "
            f"{sum(t['orchestration_overhead'].values()):.0f} fixed plus "
            f"{r['host'][key].get('activities_each', 5)} x {t['sequential']['total']:.2f} per "
            "sequential activity)"
        )
    else:
        text += f"This run's results hold no storage request count per {unit}"
    text += f"; the floor model ({model}) counts {counted:g}. " if counted else ". "
    floor_ms = 1000 / floor
    text += f"The floor prices {_a(unit)} at {floor_ms:.2f} ms of Azurite's time"
    if counted:
        text += f" ({floor_ms / counted:.2f} ms per request at 32 in flight)"
    text += f"; in the workload Azurite spent {azurite:.1f} ms of CPU per {unit}, "
    text += f"{azurite / floor_ms:.2f}x that"
    if ours:
        text += f" ({azurite / ours:.2f} ms per request)"
    return text + "."


def _hop_text(r: R, goal: ratio_goals.RatioGoal) -> str:
    h = r["host"]
    floor_entry = h["floors"].get(floor_key("sequential"))
    if floor_entry is None:
        return "this run holds no floor for it. "
    floor, median = float(floor_entry["value"]), float(h["sequential"]["median_ms"])
    need = goal.goal * floor
    text = (
        f"the goal needs a hop of at most {need:.2f} ms ({goal.goal:g} x the floor's "
        f"{floor:.2f} ms: {floor_entry['model']}, priced at the one-at-a-time medians of this "
        f"run's round trips); this run's median is {median:.2f} ms. The chain runs one "
        "activity at a time, so the workload is latency-bound: each hop waits for its round "
        "trips and hand-overs, and the CPU ceilings of the throughput workloads do not apply. "
    )
    found = cpu_per_unit(r, "sequential")
    if found is not None:
        text += _hop_cpu_text(found, need, median)
    t = h["transactions"]["sequential"]
    floor_tx = h["floors"].get("transactions_per_sequential_activity")
    text += f"Storage requests per sequential activity: {t['total']:.2f}"
    if floor_tx is not None:
        text += f" against the floor model's {floor_tx['value']:g} ({floor_tx['model']})"
    return text + f"; beyond the floor's send, delete and batch: {_ops(_beyond_floor_ops(r))}."


def _hop_cpu_text(
    found: tuple[str, float, float, dict[str, float]], need: float, median: float
) -> str:
    _, host, azurite, cpu = found
    wall = cpu["wall_s"]
    shares = {
        "Azurite": (azurite, cpu["azurite_s"] / wall),
        "the host": (host, cpu["host_s"] / wall),
    }
    text = (
        f"CPU per hop (the table 'CPU during each workload'): Azurite {azurite:.1f} ms, the "
        f"host {host:.1f} ms; shares of a core over the workload: Azurite "
        f"{shares['Azurite'][1]:.2f}, the host {shares['the host'][1]:.2f} (load average "
        f"{cpu['load']}). "
    )
    if max(host, azurite) > median:
        text += (
            "These figures, like the table's, divide the CPU of the whole window (its "
            "warm-up, each chain's start and end, all of a process's threads) by the hops, so "
            "they can exceed the median hop. "
        )
    busy = [name for name, (_, share) in shares.items() if share >= _SATURATED]
    for name in busy:
        ms = shares[name][0]
        text += (
            f"**{name[0].upper() + name[1:]}** was busy all along: the hop's requests waited for "
            f"its CPU, so the hop falls toward the goal only as its {ms:.1f} ms per hop "
            f"falls ({'above' if ms > need else 'within'} the goal's {need:.2f} ms). "
        )
    for name, (ms, share) in shares.items():
        if name not in busy:
            text += (
                f"{name[0].upper() + name[1:]} was not busy all along ({share:.2f} of a core): "
                f"part of its {ms:.1f} ms per hop is off the hop's path, where the hop waited "
                "for the other process or for a core. "
            )
    return text
