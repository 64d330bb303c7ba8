import logging
import os
import random
import re
import uuid
from datetime import datetime, timedelta

import azure.durable_functions as df

bp = df.Blueprint()

LIMIT = 10
PATTERN = re.compile(r"^[a-z]+$")
GREETING_ACTIVITY = "greet"
log = logging.getLogger(__name__)


def open(name: str) -> str:
    # The app's own function of a builtin's name: calling it is no file I/O.
    return name.upper()


@bp.orchestration_trigger(context_name="context")
def clean(context: df.DurableOrchestrationContext):
    started = context.current_utc_datetime  # trap
    key = context.new_uuid()  # trap
    rng = random.Random(LIMIT)  # trap
    roll = rng.randint(1, LIMIT)  # trap
    ident = uuid.uuid5(uuid.NAMESPACE_URL, key)  # trap
    deadline = started + timedelta(seconds=LIMIT)  # trap
    results = []
    results.append(roll)  # trap
    matched = PATTERN.match("abc")  # trap
    log.info("replaying: %s", context.is_replaying)  # trap
    stamp = datetime.now()  # durable: ignore[DF101] a trap: the ignore comment silences it
    separator = os.sep + open("x")  # trap
    task = context.call_activity(GREETING_ACTIVITY, f"{ident} {matched} {stamp} {separator}")
    first = yield task  # trap
    both = yield context.task_all([context.call_activity("greet", "a"), task])  # trap
    yield context.create_timer(deadline)  # trap
    counter = df.EntityId("counter", "k")
    total = yield context.call_entity(counter, "add", 1)  # trap
    context.signal_entity(counter, "add", 1)  # trap
    return [first, both, total, results]
