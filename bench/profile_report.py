"""The profile sections of docs/performance.md: the host's (py-spy) and Azurite's (Node's
--cpu-prof). They come from the run's results ("profiles": bench/run.py profiles some
workloads after its timed runs) or, for results without them, from bench/results/profiles.json
(bench/host_profile.py --save). Each workload is profiled in a run of its own, so the sections
say when and at what load each was taken, and why a profile is missing."""

from __future__ import annotations

from typing import Any

__all__ = ["azurite_section", "profile_line", "profiles_section", "source"]

# Columns in the order a reader compares them; a category a workload never hit shows "-".
_CATEGORIES = [
    "storage requests (RestClient.request)",
    "orchestrator replays and entity batches (Python SDK)",
    "activities",
    "HTTP server and starter function",
    "the benchmark's own client",
    "checkpoint encoding",
    "aiohttp outside a request (body writes, answers read in callbacks)",
    "engine (other durable_host code)",
    "event loop and the rest",
]


R = dict[str, Any]
# Azurite runs its JavaScript on one thread: busy this much of a workload, it was the bound.
_SATURATED = 0.9
_SATURATED_TEXT = (
    " Its one JavaScript thread was busy nearly all along: there, Azurite bounded the workload."
)


def _share(value: float | None) -> str:
    return "-" if not value else f"{value:.0%}"


def source(saved: R, short: bool = False) -> str:
    """Where the profiles come from and when they were taken (`short`: without the details
    each workload's own line gives)."""
    load = f", load average {saved['load_before']} before" if "load_before" in saved else ""
    if saved.get("in_run"):
        if short:
            return "this run's profiling step, after its timed runs"
        return (
            f"this run's profiling step, after its timed runs ({saved['started']}{load}, "
            f"{saved.get('seconds', 0):.0f} s)"
        )
    return f"`bench/host_profile.py`, run {saved['started']} apart from this run's figures{load}"


def _missing(workloads: dict[str, R], key: str, what: str) -> list[str]:
    gone = [f"`{n}`: {w[key]}" for n, w in workloads.items() if w.get(key)]
    return ["", f"{what} could not be taken for " + "; ".join(gone) + "."] if gone else []


def profiles_section(saved: R | None) -> list[str]:
    if saved is None:
        return [
            "No profile in this run: `make bench` takes them after its timed runs (or "
            "`.venv/bin/python bench/host_profile.py <workloads> --save`)."
        ]
    workloads: dict[str, R] = saved["workloads"]
    names = [n for n, w in workloads.items() if "categories" in w]
    lines = [
        f"From {source(saved)}: py-spy at {saved['rate']} samples/s, one workload at a time in "
        "its own process on its own Azurite, from the moment the workload starts until it "
        "ends. Busy samples are those of threads on the CPU or ready for it (py-spy leaves "
        "idle threads out); each is counted in the first category whose function is on its "
        "stack. 'Event loop busy' is the share of the wall time the host's event-loop thread "
        "was busy: well below 100% means the host waited (for Azurite or for a core), not that "
        "its CPU bounded the workload.",
        *_missing(workloads, "host_error", "The host's profile (py-spy)"),
    ]
    if not names:
        return lines
    lines += [
        "",
        "| Share of the host's busy samples | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for category in _CATEGORIES:
        cells = [_share(workloads[n]["categories"].get(category)) for n in names]
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    busy = [f"{workloads[n]['loop_busy_share']:.0%}" for n in names]
    lines.append("| *event loop busy, share of wall time* | " + " | ".join(busy) + " |")
    lines += [
        "",
        "Top frames, by workload: first durable_host's (the innermost of ours in a sample), "
        "then any code's (the innermost frame):",
        "",
    ]
    for name in names:
        w = workloads[name]
        ours = ", ".join(f"`{f}` {v:.0%}" for f, v in list(w["frames"].items())[:5])
        leaves = ", ".join(f"`{f}` {v:.0%}" for f, v in list(w.get("leaves", {}).items())[:5])
        when = f"{w['started']}, " if "started" in w else ""
        lines.append(f"- **{name}** ({when}load average {w['load']}): {ours}; innermost: {leaves}.")
    return lines


def azurite_section(saved: R | None) -> list[str]:
    """Azurite's profile (Node's --cpu-prof) over the same windows, where the results hold it."""
    workloads: dict[str, R] = (saved or {}).get("workloads", {})
    names = [n for n, w in workloads.items() if "azurite" in w]
    lines = _missing(workloads, "azurite_error", "Azurite's profile (Node's `--cpu-prof`)")[1:]
    if not names:
        return lines or [
            "No Azurite profile in these results: `make bench` takes them after its timed "
            "runs; `bench/azurite_profile.py` takes one by hand."
        ]
    shares = {n: workloads[n]["azurite"].get("categories", {}) for n in names}
    rows = sorted({c for found in shares.values() for c in found})
    rows.sort(key=lambda c: -max(found.get(c, 0) for found in shares.values()))
    lines += [
        *([""] if lines else []),
        "Node's `--cpu-prof` on Azurite (its main thread, a sample every "
        f"{(saved or {}).get('azurite_interval_us', 200)} µs) over the same window as "
        "the host's profile, in the same run. 'Main thread busy' is the share of the window "
        "Azurite's JavaScript thread was not idle: near 100% Azurite's CPU bounds the "
        "workload; V8's garbage collection helpers and libuv's threads are not in it.",
        "",
        "| Share of Azurite's busy samples | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for row in rows:
        cells = [_share(shares[n].get(row)) for n in names]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    busy = [f"{workloads[n]['azurite']['busy_share']:.0%}" for n in names]
    lines += [
        "| *main thread busy, share of wall time* | " + " | ".join(busy) + " |",
        "",
        "The largest packages or Node modules, then functions (self time), by workload:",
        "",
    ]
    for name in names:
        a = workloads[name]["azurite"]
        groups = ", ".join(f"{g} {v:.0%}" for g, v in list(a["groups"].items())[:5])
        top = ", ".join(f"`{f}` {v:.0%}" for f, v in list(a["functions"].items())[:5])
        lines.append(f"- **{name}**: {groups}; functions: {top}.")
    return lines


def profile_line(workload: str, profiles: R | None, ab_steps: str) -> str:
    w: R | None = (profiles or {}).get("workloads", {}).get(workload)
    if w is None or profiles is None:
        text = (
            f"  - Profiles: no py-spy profile of `{workload}` is stored "
            f"(`make bench` takes one after its timed runs). "
        )
    else:
        text = f"  - Profiles, from {source(profiles, short=True)}: " + _host_profile_text(
            workload, w
        )
    if w is not None and "azurite" in w:
        a = w["azurite"]
        groups = list(a.get("categories", a["groups"]).items())[:3]
        functions = list(a["functions"].items())[:3]
        return text + (
            f"Azurite (Node's `--cpu-prof`, the same run of `{workload}`): its main thread busy "
            f"{a['busy_share']:.0%} of the wall time; the largest shares of its busy samples: "
            + ", ".join(f"{g} {v:.0%}" for g, v in groups)
            + "; its top functions: "
            + ", ".join(f"`{f}` {v:.0%}" for f, v in functions)
            + "."
            + (_SATURATED_TEXT if a["busy_share"] >= _SATURATED else "")
        )
    if w is not None and w.get("azurite_error"):
        return (
            text
            + f"Azurite's profile (Node's `--cpu-prof`) could not be taken: {w['azurite_error']}."
        )
    text += (
        "Azurite's CPU: `bench/azurite_profile.py` (Node's `--cpu-prof`) profiles it; these "
        "results hold no Azurite profile"
    )
    if "azurite_profile.py" in ab_steps:
        return text + "; the last one, taken by hand, is summarized in the steps above."
    return text + "."


def _host_profile_text(workload: str, w: R) -> str:
    if "categories" not in w:
        return (
            f"py-spy could not profile the host during `{workload}`: "
            f"{w.get('host_error') or 'no samples'}. "
        )
    categories = sorted(w["categories"].items(), key=lambda kv: -kv[1])[:3]
    frames = list(w["frames"].items())[:3]
    when = f"{w['started']}, " if "started" in w else ""
    return (
        f"py-spy, column `{workload}` of the table below ({when}load average {w['load']}): the "
        f"event loop busy {w['loop_busy_share']:.0%} of the wall time; the largest shares of "
        "the host's busy samples: " + ", ".join(f"{c} {v:.0%}" for c, v in categories) + "; "
        "its top frames of durable_host: " + ", ".join(f"`{f}` {v:.0%}" for f, v in frames) + ". "
    )
