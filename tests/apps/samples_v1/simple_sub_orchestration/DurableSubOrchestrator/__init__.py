import azure.durable_functions as df


def orchestrator_function(context: df.DurableOrchestrationContext):
    greeting = yield context.call_activity("Hello", context.get_input())
    return greeting


main = df.Orchestrator.create(orchestrator_function)
