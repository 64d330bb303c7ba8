"""The SDK sample's Counter entity."""

import azure.durable_functions as df


def entity_function(context: df.DurableEntityContext) -> None:
    current_value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        current_value += context.get_input()
    elif operation == "reset":
        current_value = 0
    context.set_state(current_value)
    context.set_result(current_value)


main = df.Entity.create(entity_function)
