"""A second app with an `activities` package of its own, to test loading two apps in turn."""

import azure.durable_functions as df

from activities import bp

app = df.DFApp()
app.register_functions(bp)
