import asyncio
import datetime as dt
import json
import os
import random
import secrets
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from time import sleep as nap

import azure.durable_functions as df
from azure.storage.blob import BlobServiceClient

from lint_fixtures import helpers

bp = df.Blueprint()

CACHE: dict = {}
SEEN: list = []
COUNTER = 0


@bp.orchestration_trigger(context_name="context")
def clocks(context):
    a = datetime.now()  # expect: DF101
    b = dt.datetime.utcnow()  # expect: DF101
    c = date.today()  # expect: DF101
    d = time.time()  # expect: DF101
    e = time.monotonic()  # expect: DF101
    yield context.call_activity("greet", str((a, b, c, d, e)))


@bp.orchestration_trigger(context_name="context")
def randomness(context):
    x = random.randint(1, 6)  # expect: DF102
    y = secrets.token_hex(8)  # expect: DF102
    z = os.urandom(4)  # expect: DF102
    i = uuid.uuid4()  # expect: DF103
    j = uuid.uuid1()  # expect: DF103
    yield context.call_activity("greet", str((x, y, z, i, j)))


@bp.orchestration_trigger(context_name="context")
def waits(context):
    time.sleep(1)  # expect: DF201
    nap(1)  # expect: DF201
    threading.Thread(target=print).start()  # expect: DF202
    asyncio.get_event_loop()  # expect: DF202
    with ThreadPoolExecutor() as pool:  # expect: DF202
        pool.shutdown()
    yield context.call_activity("greet", "x")


@bp.orchestration_trigger(context_name="context")
def does_io(context):
    with open("data.txt") as handle:  # expect: DF301
        text = handle.read()
    urllib.request.urlopen("http://example.invalid")  # expect: DF301
    subprocess.run(["true"], check=False)  # expect: DF301
    socket.create_connection(("example.invalid", 80))  # expect: DF301
    sqlite3.connect(":memory:")  # expect: DF301
    BlobServiceClient.from_connection_string("UseDevelopmentStorage=true")  # expect: DF301
    yield context.call_activity("greet", text)


@bp.orchestration_trigger(context_name="context")
def environment(context):
    global COUNTER
    region = os.environ["REGION"]  # expect: DF401
    zone = os.getenv("ZONE")  # expect: DF401
    other = os.environ.get("OTHER")  # expect: DF401
    COUNTER += 1  # expect: DF402
    CACHE["last"] = region  # expect: DF402
    SEEN.append(zone)  # expect: DF402
    yield context.call_activity("greet", other)


@bp.orchestration_trigger(context_name="context")
async def async_orchestrator(context):  # expect: DF501
    return context.get_input()


@bp.orchestration_trigger(context_name="context")
def not_a_generator(context):  # expect: DF502
    return context.get_input()


@bp.orchestration_trigger(context_name="context")
def yields(context):
    yield [context.call_activity("greet", "a")]  # expect: DF503
    yield context.get_input()  # expect: DF503
    yield json.dumps({})  # expect: DF503
    yield  # expect: DF503


@bp.orchestration_trigger(context_name="context")
def names(context):
    yield context.call_activity("gret", "x")  # expect: DF601
    yield context.call_activity("names", "x")  # expect: DF601
    yield context.call_sub_orchestrator("greet")  # expect: DF601
    yield context.call_entity(df.EntityId("countr", "k"), "add")  # expect: DF601
    missing = df.EntityId("nope", "k")
    context.signal_entity(missing, "add")  # expect: DF601


@bp.orchestration_trigger(context_name="context")
def via_helpers(context):
    yield from helpers.wait_politely(context)
    parts = list(helpers.chunks([1, 2, 3], 2))
    yield context.call_activity("greet", f"{helpers.stamp()} {parts}")
