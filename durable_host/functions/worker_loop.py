"""`WorkerLoop`: an event loop of its own, on a thread, for async functions that call back into
the host over gRPC.

In Azure the Python worker is another process with its own event loop: an async function that
makes a blocking call (durabletask's synchronous `TaskHubGrpcClient`, as durabletask's history
export does) blocks only the worker. In process, on the host's loop, the same call would wait
for an answer the blocked loop can never give. Functions whose durable client speaks gRPC (2.x)
therefore run here; 1.x functions stay on the host's loop, where they have always run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

__all__ = ["WorkerLoop"]


class WorkerLoop:
    """Started on first use; `close` stops it."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="durable-host-worker-loop", daemon=True
                )
                self._thread.start()
            return self._loop

    async def call(
        self, target: Callable[..., Coroutine[Any, Any, Any]], args: Mapping[str, Any]
    ) -> Any:
        """`await target(**args)` on this loop, with the caller's context variables (the
        invocation's log scope)."""
        loop = self._started()
        context = contextvars.copy_context()
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def start() -> None:
            task = context.run(loop.create_task, target(**args))
            task.add_done_callback(lambda t: _settle(t, done))

        loop.call_soon_threadsafe(start)
        return await asyncio.wrap_future(done)

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()


def _settle(task: asyncio.Task[Any], done: concurrent.futures.Future[Any]) -> None:
    if task.cancelled():
        done.cancel()
    elif task.exception() is not None:
        done.set_exception(task.exception())
    else:
        done.set_result(task.result())
