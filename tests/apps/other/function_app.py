"""A second app with an `activities` package of its own, to test loading two apps in turn."""

import azure.durable_functions as df

# mypy resolves `activities` to the sample app at the repository root; when the host loads
# this app, its own folder is first on sys.path.
from activities import bp  # type: ignore[attr-defined]

app = df.DFApp()
app.register_functions(bp)
