from datetime import datetime

import azure.durable_functions as df

bp = df.Blueprint()


@bp.entity_trigger(context_name="context", entity_name="counter")
def counter(context: df.DurableEntityContext) -> None:
    # Entities are not replayed: reading the clock is fine, but I/O holds the entity's lock.
    changed = datetime.now()  # trap
    with open("audit.log", "a") as log:  # expect: DF701
        log.write(f"{changed}\n")
    context.set_state((context.get_state(lambda: 0) or 0) + 1)
