"""A blueprint in a package of the app, like the real project layout."""

import azure.durable_functions as df

bp = df.Blueprint()


@bp.activity_trigger(input_name="text")
def shout(text: str) -> str:
    return text.upper()
