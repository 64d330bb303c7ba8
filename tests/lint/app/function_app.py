"""An app written to trip every lint rule: an "expect" comment names the rule each marked
line must be reported with; a "trap" comment marks a line that must not be (see
tests/lint/test_lint_rules.py)."""

import azure.durable_functions as df
import azure.functions as func
from lint_fixtures import activities, bad, entities, traps

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for module in (activities, bad, entities, traps):
    app.register_functions(module.bp)
