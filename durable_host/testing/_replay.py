"""`replay_history`: keep histories of important orchestrations as test fixtures and replay
them against the current code on every change."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from durable_host.history_check import HistoryReplayer, RecordedHistory, ReplayReport


def replay_history(
    source: str | Path | Mapping[str, Any], app_dir: str | Path = "."
) -> ReplayReport:
    """Replay a history written by `durable-host export` (a path, or the parsed JSON) through
    the app in `app_dir`; `report.ok`, else `report.describe()` says where the code differs.

    Callable from sync and async tests alike: inside a running event loop the replay runs on
    a thread of its own.
    """
    recorded = RecordedHistory.load(source)

    async def replay() -> ReplayReport:
        with HistoryReplayer(app_dir) as replayer:
            return await replayer.replay(recorded)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(replay())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, replay()).result()
