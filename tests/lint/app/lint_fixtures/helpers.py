import time
from datetime import datetime


def stamp() -> str:
    return datetime.utcnow().isoformat()  # expect: DF101


def wait_politely(context):
    time.sleep(0.1)  # expect: DF201
    yield 42  # expect: DF503
    yield context.create_timer(context.current_utc_datetime)  # trap


def chunks(items, size):
    # A plain generator called from an orchestrator: its yields are not durable yields.
    for start in range(0, len(items), size):
        yield items[start : start + size]  # trap
