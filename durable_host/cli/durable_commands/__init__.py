"""`durable-host durable <command>`: the Core Tools `func durable` commands on an app's task hub.

Same command and option names as Core Tools; they work on storage directly (EngineClient),
whether or not a host runs the hub. See README "Managing a task hub from the command line".
"""

from durable_host.cli.durable_commands.parser import add_durable_command, run_durable

__all__ = ["add_durable_command", "run_durable"]
