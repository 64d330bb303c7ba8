"""The replayer on a 2.x-style app: its orchestrators run on the protobuf protocol, which the
replayer does not speak yet; it says so instead of failing inside the SDK's decoder."""

from __future__ import annotations

from durable_host.engine.runtime import Engine
from durable_host.history_check import HistoryReplayer, Verdict
from durable_host.history_check.recorded import read_recorded
from tests.engine._helpers import finish
from tests.v2.conftest import APP_DIR


async def test_a_protobuf_orchestrator_is_reported_as_not_replayable(engine: Engine) -> None:
    instance_id = await engine.client.start_new("hello_chain", "v2-replay", "null")
    await finish(engine, instance_id)
    recorded = await read_recorded(engine.storage, instance_id)
    with HistoryReplayer(APP_DIR, index=engine.index) as replayer:
        report = await replayer.replay(recorded)
    # On main: "failed to replay", "Error: Incorrect padding".
    assert report.verdict is Verdict.FAILED
    assert report.error == (
        "'hello_chain' runs on the Durable Task protobuf protocol (the 2.x SDK); the replayer "
        "replays orchestrators of the 1.x protocol only (azure-functions-durable 1.x)."
    )
