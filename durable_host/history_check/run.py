"""Replay one recorded history against the app's current code, in the protocol its
orchestrator speaks: the 1.x JSON protocol (`json_run.py`, through azure-functions-durable
1.x) or the Durable Task protobuf protocol (`proto_run.py`, through the app's own 2.x worker).

Nothing is written and nothing runs but the orchestrator. Each protocol's module is imported
for its first history: each needs its own SDK, and an environment may have only one of them.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from durable_host.errors import FunctionNotFoundError
from durable_host.functions.function_index import DurableProtocol, FunctionIndex
from durable_host.functions.invoker import FunctionInvoker
from durable_host.functions.loader import load_app
from durable_host.functions.sdk_generation import require_1x_sdk
from durable_host.history_check.recorded import RecordedHistory
from durable_host.history_check.verdicts import ReplayReport, Verdict

# The durabletask whose executor proto_run follows (pyproject.toml pins the same).
DURABLETASK_PIN = "1.12.0"


def durabletask_version() -> str:
    try:
        return importlib.metadata.version("durabletask")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class HistoryReplayer:
    """Loads the app in `app_dir` (as the host does) and replays histories against it;
    `index`: an app already loaded (a running host's), replayed with its modules as they are."""

    def __init__(self, app_dir: Path | str = ".", *, index: FunctionIndex | None = None) -> None:
        self.app_dir = Path(app_dir).resolve()
        loaded = index if index is not None else load_app(self.app_dir)
        self.invoker = FunctionInvoker(loaded, max_workers=1)

    def close(self) -> None:
        self.invoker.close()

    def __enter__(self) -> HistoryReplayer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def replay(self, recorded: RecordedHistory) -> ReplayReport:
        try:
            protocol = self.invoker.index.get_orchestrator(recorded.name).protocol
        except FunctionNotFoundError as exc:
            return ReplayReport(recorded.instance_id, recorded.name, Verdict.FAILED, error=str(exc))
        if protocol is DurableProtocol.PROTOBUF:
            try:
                from durable_host.history_check.proto_run import replay_protobuf
            except AttributeError as exc:
                # proto_run follows durabletask's executor by its private names.
                return ReplayReport(
                    recorded.instance_id,
                    recorded.name,
                    Verdict.FAILED,
                    error=f"This durabletask ({durabletask_version()}) does not have what the "
                    f"replayer follows ({exc}); it is built for durabletask {DURABLETASK_PIN}.",
                )
            return await replay_protobuf(self.invoker, self.app_dir, recorded)
        require_1x_sdk(f"Replaying '{recorded.name}' (a 1.x-protocol orchestrator)")
        from durable_host.history_check.json_run import replay_json

        return await replay_json(self.invoker, self.app_dir, recorded)
