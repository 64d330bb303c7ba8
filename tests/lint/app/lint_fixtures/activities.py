import os
from datetime import datetime

import azure.durable_functions as df

bp = df.Blueprint()


@bp.activity_trigger(input_name="name")
def greet(name: str) -> str:
    # Activities run once per scheduling, not on replay: clock and environment are fine here.
    return f"Hello {name} at {datetime.now()} in {os.environ.get('REGION')}"  # trap
