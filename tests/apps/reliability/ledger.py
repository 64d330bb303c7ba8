"""What the workload's activities leave on disk for the harness to check.

The ledger (path in DURABLE_HOST_TEST_LEDGER) gets one line per activity execution, written
with O_APPEND and fsync before the activity returns: a line survives a SIGKILL that comes
after it, so a harness can tell "ran once" from "ran again after a crash".

Markers (a folder in DURABLE_HOST_TEST_MARKERS) are empty files: an activity that must fail
its first attempt creates one, and the soak's driver creates one before it rewinds an
instance, which the failing activity then lets through.
"""

from __future__ import annotations

import os

LEDGER_SETTING = "DURABLE_HOST_TEST_LEDGER"
MARKERS_SETTING = "DURABLE_HOST_TEST_MARKERS"


def record(key: str) -> None:
    path = os.environ.get(LEDGER_SETTING)
    if not path:
        return
    line = f"{key} {os.getpid()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write with O_APPEND: lines of concurrent hosts never interleave
        os.fsync(fd)
    finally:
        os.close(fd)


def marker_path(name: str) -> str:
    folder = os.environ.get(MARKERS_SETTING)
    if not folder:
        raise RuntimeError(f"{MARKERS_SETTING} is not set")
    return os.path.join(folder, name.replace("/", "_"))


def first_time(name: str) -> bool:
    """True the first time `name` is asked about (the marker is created then), else False."""
    try:
        fd = os.open(marker_path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def marked(name: str) -> bool:
    return os.path.exists(marker_path(name))
