"""The trigger payload (replay/context.py) as the 1.x SDK reads it.

tests/engine/test_context_json.py proves the payload's bytes; this proves what the SDK's
context makes of them.
"""

from __future__ import annotations

import azure.durable_functions as df

from durable_host.engine.replay.context import (
    build_context_json,
    event_json_text,
    parse_json_or_text,
)
from durable_host.taskhub.event_json import event_to_json
from durable_host.taskhub.events import ExecutionStarted, OrchestrationInstance, ParentInstance
from tests.engine.replay._histories import (
    INSTANCE,
    T0,
    completed,
    episode,
    later,
    scheduled,
    started,
)


def test_the_sdk_context_reads_the_instance_the_input_and_the_parent() -> None:
    parent = ParentInstance("parent_fn", "", OrchestrationInstance("parent-1", "pe"), 4)
    history = [*started({"city": "Oslo"}, parent=parent), scheduled(0, "a")]
    history += episode(later(1), completed(0, "hi"))
    texts = [event_json_text(event_to_json(e, with_type=False)) for e in history]
    start = history[1]
    assert isinstance(start, ExecutionStarted)

    payload = build_context_json(INSTANCE, texts, start, is_replaying=True)
    context = df.DurableOrchestrationContext.from_json(payload)

    assert context.instance_id == INSTANCE
    assert context.parent_instance_id == "parent-1"
    assert context.is_replaying is True
    assert context.get_input() == {"city": "Oslo"}
    assert len(context.histories) == len(history)
    # The episode's clock starts at the first OrchestratorStarted (the SDK's tzinfo varies).
    assert context.current_utc_datetime.replace(tzinfo=None) == T0.replace(tzinfo=None)


def test_stored_text_that_is_not_json_is_passed_as_text() -> None:
    assert parse_json_or_text('{"a": 1}') == {"a": 1}
    assert parse_json_or_text("plain words") == "plain words"
    assert parse_json_or_text(None) is None
