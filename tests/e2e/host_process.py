"""`python -m durable_host start` as a child process, driven the way a user drives it.

The host is asked for port 0 so the OS picks a free port with no race; the port is
read back from the banner line the host prints when it is ready.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["HUB_NAME_SETTING", "HostProcess"]

HUB_NAME_SETTING = "AzureFunctionsJobHost__extensions__durableTask__hubName"
_READY = re.compile(r"Host started; listening on (http://\S+?)\. ")
START_DEADLINE = 60.0
STOP_DEADLINE = 30.0


class HostProcess:
    """One host process; its console output is collected line by line for assertions."""

    def __init__(
        self,
        app_dir: Path,
        *,
        storage: str | None,
        hub_name: str | None,
        program: Sequence[str] = (sys.executable, "-m", "durable_host"),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`storage`/`hub_name` None: the app's own settings decide (the host may start
        Azurite); `program` runs durable_host (e.g. an installed `durable-host` script);
        `environ` replaces this process's environment."""
        self.app_dir = app_dir
        self.hub_name = hub_name
        self.storage = storage
        self.program = tuple(program)
        self.base_environ = dict(os.environ if environ is None else environ)
        self.start_deadline = START_DEADLINE
        self.start_options: tuple[str, ...] = ()  # more `start` options, e.g. ("--verbose",)
        self.lines: list[str] = []
        self.base_url = ""
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def process(self) -> subprocess.Popen[str]:
        assert self._process is not None, "start() the host first"
        return self._process

    def environment(self) -> Mapping[str, str]:
        env = dict(self.base_environ)
        # The session's Azurite, so the host does not start its own; a hub no other test uses.
        if self.storage is not None:
            env["AzureWebJobsStorage"] = self.storage
        if self.hub_name is not None:
            env[HUB_NAME_SETTING] = self.hub_name
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> HostProcess:
        command = [
            *self.program,
            "start",
            "--app-dir",
            str(self.app_dir),
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            *self.start_options,
        ]
        self._process = subprocess.Popen(
            command,
            cwd=self.app_dir,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
        )
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        found = self.wait_for_line(_READY, timeout=self.start_deadline)
        match = _READY.search(found)
        assert match is not None
        self.base_url = match.group(1)
        return self

    def _read_output(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: re.Pattern[str], *, timeout: float) -> str:
        """The first console line matching `pattern`; fails with the output if none comes."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if pattern.search(line):
                        return line
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if self.process.poll() is not None and seen == len(self.lines):
                    raise AssertionError(
                        f"the host exited with {self.process.returncode} before printing "
                        f"{pattern.pattern!r}:\n{self.output_unlocked()}"
                    )
                if remaining <= 0:
                    raise AssertionError(
                        f"no console line matched {pattern.pattern!r} within {timeout:g}s:\n"
                        f"{self.output_unlocked()}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def output_unlocked(self) -> str:
        return "\n".join(self.lines)

    def stop(self, *, timeout: float = STOP_DEADLINE) -> int:
        """SIGTERM, as a supervisor or Ctrl-C would; returns the exit code (kills on timeout)."""
        process = self.process
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                    raise AssertionError(
                        f"the host did not exit within {timeout:g}s of SIGTERM:\n{self.output}"
                    ) from None
        finally:
            self._close_output()
        return process.returncode

    def _close_output(self) -> None:
        # The reader ends at EOF once the process has exited; then the pipe can be closed.
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
