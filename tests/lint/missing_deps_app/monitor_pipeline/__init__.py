"""Starts a training pipeline, then polls it until it ends (the aml_monitoring sample's shape)."""

from datetime import datetime, timedelta

import azure.durable_functions as df


def watch_pipeline(context: df.DurableOrchestrationContext):
    run_id = yield context.call_activity("start_pipeline", {"experiment": "churn"})
    started = datetime.utcnow()
    deadline = context.current_utc_datetime + timedelta(minutes=30)
    while context.current_utc_datetime < deadline:
        state = yield context.call_activity("poll_pipelines", run_id)
        if state != "running":
            return {"state": state, "started": started.isoformat()}
        yield context.create_timer(context.current_utc_datetime + timedelta(minutes=1))
    return {"state": "timed out"}


main = df.Orchestrator.create(watch_pipeline)
