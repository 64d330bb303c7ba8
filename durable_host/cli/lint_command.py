"""`durable-host lint [APP_DIR] [--format text|json|sarif]`: exit 1 on findings, 2 on errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from durable_host.errors import DurableHostError
from durable_host.lint.linter import lint_app
from durable_host.lint.report import OutputFormat, explain, render
from durable_host.server.settings import export_values, load_local_settings


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lint = commands.add_parser(
        "lint",
        help="check orchestrators and entities for non-deterministic code",
        description="Load the app as the host does and check each orchestrator, each entity "
        "and the app functions they call (a rule's text: --explain RULE). Exit status 1 when "
        "there are findings. An app whose imports fail (its requirements are not installed) "
        "is checked from its source.",
    )
    lint.add_argument(
        "app_dir", nargs="?", type=Path, default=Path("."), help="folder with function_app.py"
    )
    lint.add_argument(
        "--format",
        dest="output",
        choices=[f.value for f in OutputFormat],
        default=OutputFormat.TEXT.value,
        help="text (default), json, or sarif (for code scanning)",
    )
    lint.add_argument(
        "--explain",
        metavar="RULE",
        default=None,
        help="print a rule's text (why, a bad and a good example), e.g. --explain DF101",
    )


def export_app_settings(app_dir: Path) -> None:
    """The app's local.settings.json Values into os.environ (never overriding what is set),
    as the host does before it imports the app: module-level code may read them."""
    export_values(load_local_settings(app_dir).values, os.environ)


def run(args: argparse.Namespace) -> int:
    try:
        if args.explain is not None:
            print(explain(args.explain))
            return 0
        export_app_settings(args.app_dir)
        result = lint_app(args.app_dir)
    except (DurableHostError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if result.note is not None:
        print(f"note: {result.note}", file=sys.stderr)
    print(render(result, OutputFormat(args.output)), flush=True)
    return 1 if result.findings else 0
