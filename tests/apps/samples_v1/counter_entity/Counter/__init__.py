import azure.durable_functions as df


def entity_function(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    elif context.operation_name == "reset":
        value = 0
    context.set_state(value)
    context.set_result(value)


main = df.Entity.create(entity_function)
