"""An HTTP starter that answers through a named http output binding (func.Out)."""

import azure.durable_functions as df
import azure.functions as func


async def main(req: func.HttpRequest, starter: str, message: func.Out[func.HttpResponse]) -> None:
    client = df.DurableOrchestrationClient(starter)
    instance_id = await client.start_new("CounterOrchestration")
    message.set(client.create_check_status_response(req, instance_id))
