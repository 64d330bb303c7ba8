"""A web dashboard for task hubs: instances, histories, entities, functions and actions.

Served by `durable-host start` under DASHBOARD_PATH, or alone by `durable-host dashboard`.
Reads and actions go through the engine's management client, as the Durable HTTP API's do.
"""

from durable_host.dashboard.app import create_dashboard, standalone_app
from durable_host.dashboard.hubs import DashboardHub, StandaloneHubs, account_label
from durable_host.dashboard.render import DASHBOARD_PATH

__all__ = [
    "DASHBOARD_PATH",
    "DashboardHub",
    "StandaloneHubs",
    "account_label",
    "create_dashboard",
    "standalone_app",
]
