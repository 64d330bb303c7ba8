"""The `durable-host` command line (console script `durable-host`, `python -m durable_host`)."""

from durable_host.cli.program import main

__all__ = ["main"]
