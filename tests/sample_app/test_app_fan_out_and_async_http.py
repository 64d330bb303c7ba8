"""Fan-out/fan-in (analyze_documents) and the async HTTP API export (export_report)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from app_history import T0, History

DOCUMENTS = [
    {"name": "q1-report", "text": "Revenue grew. Revenue and margin grew in the north region."},
    {"name": "q2-report", "text": "Margin fell; revenue held. The north region led."},
    {"name": "q3-report", "text": ""},
]


def test_fan_out_schedules_one_activity_per_document_in_one_when_all(handle: Any) -> None:
    episode = History("analyze_documents", {"documents": DOCUMENTS}).run(
        handle("analyze_documents")
    )
    [when_all] = episode.actions
    assert when_all["actionType"] == 12
    children = when_all["compoundActions"]
    assert [c["actionType"] for c in children] == [0, 0, 0]
    assert {c["functionName"] for c in children} == {"analyze_document"}
    assert [json.loads(c["input"]) for c in children] == DOCUMENTS


def test_fan_in_waits_for_every_document_then_aggregates(handle: Any, activity: Any) -> None:
    history = History("analyze_documents", {"documents": DOCUMENTS, "top": 3})
    history.run(handle("analyze_documents"))
    ids = [history.task_scheduled("analyze_document", json.dumps(d)) for d in DOCUMENTS]
    results = [activity("analyze_document", d) for d in DOCUMENTS]

    # Completions arrive out of order, over two episodes.
    history.next_episode().task_completed(ids[2], results[2]).task_completed(ids[0], results[0])
    partial = history.run(handle("analyze_documents"))
    assert not partial.is_done
    assert len(partial.actions) == 1  # replay schedules nothing new

    history.next_episode().task_completed(ids[1], results[1])
    done = history.run(handle("analyze_documents"))
    assert done.is_done
    assert done.output == {
        "documents": 3,
        "totalWords": 10 + 8 + 0,
        "wordsPerDocument": {"q1-report": 10, "q2-report": 8, "q3-report": 0},
        "topWords": [
            {"word": "revenue", "count": 3},
            {"word": "grew", "count": 2},
            {"word": "margin", "count": 2},
        ],
    }


def test_fan_out_fails_when_a_document_fails(handle: Any) -> None:
    history = History("analyze_documents", {"documents": DOCUMENTS})
    history.run(handle("analyze_documents"))
    ids = [history.task_scheduled("analyze_document", None) for _ in DOCUMENTS]
    history.next_episode().task_failed(ids[1], "analyze_document", "ValueError: corrupt")
    episode = history.run(handle("analyze_documents"))
    assert episode.error is not None
    assert "Activity function 'analyze_document' failed: ValueError: corrupt" in episode.error


def test_fan_out_rejects_duplicate_names_and_empty_requests(handle: Any) -> None:
    duplicate = History("analyze_documents", {"documents": [DOCUMENTS[0], DOCUMENTS[0]]})
    assert duplicate.run(handle("analyze_documents")).error == (
        "Document analysis request: document names must be unique, repeated: ['q1-report']."
    )
    empty = History("analyze_documents", {"documents": []}).run(handle("analyze_documents"))
    assert empty.error == (
        "Document analysis request: field 'documents' must hold at least 1 item(s), got 0."
    )


EXPORT = {"dataset": "sales-2024", "rows": 1000, "stepDelaySeconds": 30}


def test_export_reports_progress_between_durable_timers(handle: Any, activity: Any) -> None:
    history = History("export_report", EXPORT, instance_id="export-1")
    previous: dict[str, Any] = {}
    for done, step in enumerate(["extract", "transform", "publish"]):
        episode = history.run(handle("export_report"))
        assert not episode.is_done
        assert episode.custom_status == {
            "stage": step,
            "completedSteps": done,
            "totalSteps": 3,
            "percent": done * 100 // 3,
        }
        action = episode.actions[-1]
        assert action["functionName"] == "run_export_step"
        request = json.loads(action["input"])
        assert request == {
            "step": step,
            "dataset": "sales-2024",
            "rows": 1000,
            "previous": previous,
        }
        scheduled = history.task_scheduled("run_export_step", action["input"])
        previous = activity("run_export_step", request)
        history.next_episode().task_completed(scheduled, previous)
        if step == "publish":
            break
        waiting = history.run(handle("export_report"))
        timer = waiting.actions[-1]
        assert timer["actionType"] == 5
        fire_at = history.now + timedelta(seconds=30)
        # SDK format for fireAt: microseconds, Z.
        assert timer["fireAt"] == fire_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert timer["isCanceled"] is False
        timer_id = history.timer_created(fire_at)
        history.next_episode(after=timedelta(seconds=30)).timer_fired(timer_id, fire_at)

    done = history.run(handle("export_report"))
    assert done.is_done
    assert done.custom_status == {
        "stage": "done",
        "completedSteps": 3,
        "totalSteps": 3,
        "percent": 100,
    }
    assert done.output["dataset"] == "sales-2024"
    assert done.output["rows"] == 1000 - 1000 // 97
    assert done.output["location"] == f"exports/sales-2024/{done.output['checksum']}.csv"
    assert [a["actionType"] for a in done.actions] == [0, 5, 0, 5, 0]


def test_export_without_delay_schedules_no_timer(handle: Any) -> None:
    history = History("export_report", {**EXPORT, "stepDelaySeconds": 0})
    history.run(handle("export_report"))
    scheduled = history.task_scheduled("run_export_step", None)
    history.next_episode().task_completed(scheduled, {"step": "extract", "rows": 1000})
    episode = history.run(handle("export_report"))
    assert [a["actionType"] for a in episode.actions] == [0, 0]


def test_export_validates_its_input(handle: Any) -> None:
    episode = History("export_report", {"dataset": "sales", "rows": "many"}).run(
        handle("export_report")
    )
    assert episode.error == "Export request: field 'rows' must be an integer, got str \"many\"."
    assert episode.actions == []
    assert History("export_report", {"rows": 5}).run(handle("export_report")).error == (
        "Export request: field 'dataset' must be a non-empty string, got nothing (null or missing)."
    )


def test_time_comes_from_orchestrator_started_not_the_clock(handle: Any) -> None:
    history = History("export_report", EXPORT, at=T0 + timedelta(days=400))
    history.run(handle("export_report"))
    scheduled = history.task_scheduled("run_export_step", None)
    history.next_episode(after=timedelta(minutes=7)).task_completed(scheduled, {"rows": 1})
    timer = history.run(handle("export_report")).actions[-1]
    expected = T0 + timedelta(days=400, minutes=7, seconds=30)
    assert timer["fireAt"] == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
