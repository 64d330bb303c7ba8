"""An app whose module-level code reads a setting of local.settings(.sample).json."""

import os

import azure.durable_functions as df
import azure.functions as func

GREETING = os.environ["LINT_SETTINGS_APP_GREETING"]

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("say", GREETING))


@app.activity_trigger(input_name="text")
def say(text: str) -> str:
    return text
