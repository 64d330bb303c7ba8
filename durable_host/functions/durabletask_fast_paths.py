"""A fixed cost of every 2.x (durabletask) episode, paid once instead (docs/compatibility.md).

The 2.x SDKs build a durabletask worker for each invocation, and the worker makes its logger
with `durabletask.internal.shared.get_logger("worker")`: a `logging.Logger` outside the
logging tree (no parent, level NOTSET) with one StreamHandler at INFO. At level NOTSET each
`debug` call of a replay (four per episode, two after summarising the events and actions)
builds a LogRecord (the caller's frame, the time, the thread and process names) that the
handler then drops.

`install()` swaps `shared.get_logger`, a name durabletask's modules look up at call time, for
one that returns the same logger, with its level set to the lowest of its handlers' levels
when durabletask made it (no logger passed in, no parent, level NOTSET): a record below
that level reaches no handler either way, so what is written stays the same, and the debug
calls stop at `isEnabledFor`. The SDK's files stay as installed; the swap is made only over
the signature this was written for, and `DURABLE_HOST_SDK_FAST_PATHS=0` leaves it out.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

SWITCH = "DURABLE_HOST_SDK_FAST_PATHS"
_SHARED = "durabletask.internal.shared"
_PARAMETERS = ["name_suffix", "log_handler", "log_formatter", "logger"]
_lock = threading.Lock()


def at_handler_level(original: Callable[..., logging.Logger]) -> Callable[..., logging.Logger]:
    """`original` (durabletask's get_logger), its own loggers set to their handlers' level."""

    @functools.wraps(original)
    def get_logger(
        name_suffix: str,
        log_handler: logging.Handler | None = None,
        log_formatter: logging.Formatter | None = None,
        logger: logging.Logger | None = None,
    ) -> logging.Logger:
        made = original(name_suffix, log_handler, log_formatter, logger)
        if logger is None and made.parent is None and made.level == logging.NOTSET:
            lowest = min((h.level for h in made.handlers), default=logging.NOTSET)
            # Not setLevel: it clears the cache of every logger in the tree, and this one is
            # new and outside it.
            made.level = lowest
        return made

    get_logger.durable_host_original = original  # type: ignore[attr-defined]
    return get_logger


def install() -> bool:
    """Make the swap (once per process); False when switched off or durabletask differs."""
    if os.environ.get(SWITCH, "1") == "0":
        return False
    with _lock:
        shared: Any = importlib.import_module(_SHARED)
        current = getattr(shared, "get_logger", None)
        if current is None:
            return False
        if hasattr(current, "durable_host_original"):
            return True
        if list(inspect.signature(current).parameters) != _PARAMETERS:
            return False
        shared.get_logger = at_handler_level(current)
    return True
