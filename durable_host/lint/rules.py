"""The lint rules: ids, what each one catches, how to fix it, and the calls behind them.

durable_host/lint/lint-rules.md shows a bad and a good example per rule; keep both in step.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.Enum):
    """Why a function is checked: it runs as (or for) an orchestrator, or an entity."""

    ORCHESTRATOR = "orchestrator"
    ENTITY = "entity"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    summary: str
    fix: str


CLOCK = Rule(
    "DF101",
    "clock",
    "reads the wall clock, which differs on every replay",
    "use context.current_utc_datetime (the episode's replay-safe time)",
)
RANDOM = Rule(
    "DF102",
    "randomness",
    "draws random values, which differ on every replay",
    "draw them in an activity and pass the result in, or derive them from context.new_uuid()",
)
NEW_ID = Rule(
    "DF103",
    "new-id",
    "creates a random id, which differs on every replay",
    "use context.new_uuid() (replay-safe), or uuid.uuid5 of data the orchestrator has",
)
SLEEP = Rule(
    "DF201",
    "sleep",
    "blocks or waits in orchestrator code",
    "yield context.create_timer(context.current_utc_datetime + timedelta(...)) instead",
)
CONCURRENCY = Rule(
    "DF202",
    "threads-and-tasks",
    "starts threads, processes or asyncio tasks outside the durable scheduler",
    "fan out with context.call_activity(...) tasks and yield context.task_all([...])",
)
IO = Rule(
    "DF301",
    "io",
    "does I/O (files, network, processes, databases, Azure SDK clients) in orchestrator code",
    "move the I/O into an activity function and call it with context.call_activity",
)
ENVIRONMENT = Rule(
    "DF401",
    "environment",
    "reads environment variables, which can change between replays (a new deployment)",
    "read the setting in an activity or the starter, and pass the value in the input",
)
GLOBAL_STATE = Rule(
    "DF402",
    "module-state",
    "writes module-level state, which outlives the replay and differs per worker",
    "keep the value in a local variable, or in a durable entity",
)
ASYNC_ORCHESTRATOR = Rule(
    "DF501",
    "async-orchestrator",
    "is an `async def` orchestrator, which the Python SDK cannot replay",
    "make it a plain `def` generator that yields durable tasks",
)
NOT_A_GENERATOR = Rule(
    "DF502",
    "not-a-generator",
    "is an orchestrator without `yield`, so it cannot wait for any durable task",
    "yield the durable tasks it needs (context.call_activity(...)); plain code belongs in an "
    "activity",
)
YIELD_NOT_TASK = Rule(
    "DF503",
    "yield-not-a-task",
    "yields something that is not a durable task",
    "yield a task from the context (call_activity, create_timer, task_all, ...)",
)
UNKNOWN_FUNCTION = Rule(
    "DF601",
    "unknown-function",
    "names a function the app does not define as that kind",
    "use the name of an existing function of the right kind",
)
ENTITY_IO = Rule(
    "DF701",
    "entity-io",
    "does I/O inside an entity operation, which holds the entity's lock while it waits",
    "do the I/O in an activity and signal the entity with the result",
)

RULES: tuple[Rule, ...] = (
    CLOCK,
    RANDOM,
    NEW_ID,
    SLEEP,
    CONCURRENCY,
    IO,
    ENVIRONMENT,
    GLOBAL_STATE,
    ASYNC_ORCHESTRATOR,
    NOT_A_GENERATOR,
    YIELD_NOT_TASK,
    UNKNOWN_FUNCTION,
    ENTITY_IO,
)
RULES_BY_ID = {rule.id: rule for rule in RULES}

# Fully qualified callables (after resolving the module's imports). An entry ending in "."
# matches everything under that module.
CALLS: dict[str, Rule] = {
    **dict.fromkeys(
        (
            "datetime.datetime.now",
            "datetime.datetime.utcnow",
            "datetime.datetime.today",
            "datetime.date.today",
            "time.time",
            "time.time_ns",
            "time.monotonic",
            "time.monotonic_ns",
            "time.perf_counter",
            "time.perf_counter_ns",
            "time.process_time",
            "time.localtime",
            "time.gmtime",
            "time.ctime",
        ),
        CLOCK,
    ),
    **dict.fromkeys(("random.", "secrets.", "os.urandom", "os.getrandom", "numpy.random."), RANDOM),
    **dict.fromkeys(("uuid.uuid1", "uuid.uuid4"), NEW_ID),
    **dict.fromkeys(("time.sleep", "asyncio.sleep"), SLEEP),
    **dict.fromkeys(
        (
            "threading.",
            "_thread.",
            "multiprocessing.",
            "concurrent.futures.",
            "asyncio.create_task",
            "asyncio.ensure_future",
            "asyncio.gather",
            "asyncio.wait",
            "asyncio.wait_for",
            "asyncio.run",
            "asyncio.to_thread",
            "asyncio.get_event_loop",
            "asyncio.new_event_loop",
            "asyncio.get_running_loop",
        ),
        CONCURRENCY,
    ),
    **dict.fromkeys(
        (
            "open",
            "input",
            "io.open",
            "os.open",
            "os.system",
            "os.popen",
            "os.remove",
            "os.listdir",
            "os.scandir",
            "shutil.",
            "subprocess.",
            "socket.",
            "ssl.",
            "http.client.",
            "urllib.request.",
            "urllib3.",
            "requests.",
            "httpx.",
            "aiohttp.",
            "smtplib.",
            "ftplib.",
            "sqlite3.",
            "psycopg.",
            "psycopg2.",
            "pymysql.",
            "mysql.connector.",
            "pyodbc.",
            "asyncpg.",
            "aiomysql.",
            "oracledb.",
            "pymongo.",
            "motor.",
            "redis.",
            "sqlalchemy.",
            "boto3.",
            "google.cloud.",
            "azure.",
        ),
        IO,
    ),
    **dict.fromkeys(("os.getenv", "os.putenv", "os.unsetenv"), ENVIRONMENT),
}
# Under "azure." only the Azure SDK clients are I/O: these are the Functions libraries.
NOT_IO = ("azure.functions.", "azure.durable_functions.", "azure.core.exceptions.")
# Seeded generators are deterministic: `random.Random(42)` is fine, `random.Random()` is not.
SEEDABLE = frozenset({"random.Random"})
ENVIRONMENT_NAMES = frozenset({"os.environ", "os.environb"})


def rule_for_call(qualified: str, has_args: bool) -> Rule | None:
    if qualified in SEEDABLE and has_args:
        return None
    if qualified.startswith(NOT_IO) or f"{qualified}." in NOT_IO:
        return None
    if qualified in CALLS:
        return CALLS[qualified]
    parts = qualified.split(".")
    for end in range(len(parts) - 1, 0, -1):
        found = CALLS.get(".".join(parts[:end]) + ".")
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Finding:
    """One rule hit: where (path relative to the app folder, 1-based line and column)."""

    path: str
    line: int
    column: int
    rule: Rule
    message: str
