"""Queries, instance id listings and purges through durabletask's clients."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from durabletask.client import AsyncTaskHubGrpcClient, OrchestrationQuery, OrchestrationStatus


async def _finished(aclient: AsyncTaskHubGrpcClient, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        instance_id = await aclient.schedule_new_orchestration(
            "wait_event", instance_id=f"{prefix}{n}"
        )
        await aclient.wait_for_orchestration_start(instance_id, timeout=30)
        await aclient.raise_orchestration_event(instance_id, "Go", data=n)
        ids.append(instance_id)
    for instance_id in ids:
        await aclient.wait_for_orchestration_completion(instance_id, timeout=30)
    return ids


async def test_query_pages_through_continuation(aclient: AsyncTaskHubGrpcClient) -> None:
    ids = await _finished(aclient, 5, "q-")
    running = await aclient.schedule_new_orchestration("wait_event", instance_id="q-running")
    query = OrchestrationQuery(
        runtime_status=[OrchestrationStatus.COMPLETED],
        max_instance_count=2,
        fetch_inputs_and_outputs=True,
        instance_id_prefix="q-",
    )
    states = await aclient.get_all_orchestration_states(query)
    assert sorted(s.instance_id for s in states) == sorted(ids)
    assert {s.get_output() for s in states} == set(range(5))
    everything = await aclient.get_all_orchestration_states(OrchestrationQuery())
    assert running in {s.instance_id for s in everything}
    assert all(s.serialized_output is None for s in everything)


async def test_list_instance_ids_lists_finished_ones(aclient: AsyncTaskHubGrpcClient) -> None:
    ids = await _finished(aclient, 3, "l-")
    await aclient.schedule_new_orchestration("wait_event", instance_id="l-running")
    page = await aclient.list_instance_ids(
        runtime_status=[OrchestrationStatus.COMPLETED],
        completed_time_from=datetime.now(timezone.utc) - timedelta(hours=1),
    )
    assert sorted(page.items) == sorted(ids)


async def test_purge_one_and_by_filter(aclient: AsyncTaskHubGrpcClient) -> None:
    first, *rest = await _finished(aclient, 3, "p-")
    running = await aclient.schedule_new_orchestration("wait_event", instance_id="p-running")
    result = await aclient.purge_orchestration(first)
    assert result.deleted_instance_count == 1
    assert await aclient.get_orchestration_state(first) is None
    assert (await aclient.purge_orchestration(running)).deleted_instance_count == 0
    result = await aclient.purge_orchestrations_by(
        created_time_from=datetime.now(timezone.utc) - timedelta(hours=1),
        runtime_status=[OrchestrationStatus.COMPLETED],
    )
    assert result.deleted_instance_count == len(rest)
    assert result.is_complete is True
    for instance_id in rest:
        assert await aclient.get_orchestration_state(instance_id) is None
    assert await aclient.get_orchestration_state(running) is not None
