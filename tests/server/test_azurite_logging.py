"""Azurite's debug log still carries every message the logging patch guards (durable_host/
server/patches, applied by `npm ci`; see docs/azurite-logging.md): the patch skips building
them only while logging is off, so with `--debug` the log holds the same lines as before.
"""

from __future__ import annotations

from pathlib import Path

from azure.data.tables.aio import TableServiceClient
from azure.storage.queue.aio import QueueServiceClient

from durable_host.server.azurite import AzuriteProcess

PROJECT_DIR = Path(__file__).resolve().parents[2]


class _DebugAzurite(AzuriteProcess):
    """Azurite writing its debug log to `log`."""

    def __init__(self, log: Path) -> None:
        super().__init__(PROJECT_DIR)
        self.log = log

    def _arguments(self) -> list[str]:
        return [*super()._arguments(), "--debug", str(self.log)]


async def test_with_debug_on_the_guarded_messages_are_still_logged(tmp_path: Path) -> None:
    log = tmp_path / "debug.log"
    async with _DebugAzurite(log) as azurite:
        async with QueueServiceClient.from_connection_string(azurite.connection_string) as qs:
            queue = await qs.create_queue("logged")
            await queue.send_message("hello")
        async with TableServiceClient.from_connection_string(azurite.connection_string) as ts:
            table = await ts.create_table("logged")
            await table.create_entity({"PartitionKey": "p", "RowKey": "r", "V": 1})
            await table.submit_transaction([("upsert", {"PartitionKey": "p", "RowKey": "s"})])
            assert [e["RowKey"] async for e in table.query_entities("PartitionKey eq 'p'")] == [
                "r",
                "s",
            ]
            await table.get_entity("p", "r")
    text = log.read_text(encoding="utf-8")
    for line in (
        "QueueStorageContextMiddleware: RequestMethod=",
        "TableStorageContextMiddleware: RequestMethod=",
        "HandlerMiddleware: DeserializedParameters=",
        "QueueSharedKeyAuthenticator:validate() [STRING TO SIGN]:",
        "TableSharedKeyAuthenticator:validate() [STRING TO SIGN]:",
        "TableHandler:insertEntity() Raw response string is",
        "TableHandler:batch() Raw request string is",
        "TableHandler:batch() Raw response string is",
        "TableHandler:queryEntities() Raw response string is",
    ):
        assert line in text, f"the debug log lacks {line!r}"
