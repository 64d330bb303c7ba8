"""Start and stop a local Azurite (the Azure Storage emulator).

Which Azurite runs (the app's node_modules, PATH, or the per-user cache) is decided by
durable_host.server.azurite_install.

Azurite is asked for port 0 by default, so the OS picks free loopback ports with no
race between "find a free port" and "bind it"; the real ports are read from
Azurite's startup lines and then checked to accept connections.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from durable_host.errors import ConfigurationError
from durable_host.server.azurite_install import AzuriteLauncher, locate_azurite

__all__ = [
    "DEV_ACCOUNT_KEY",
    "DEV_ACCOUNT_NAME",
    "AzuriteProcess",
    "development_storage_connection_string",
    "is_listening",
]

# Azurite's public, documented development account; not a secret, but still kept out of logs.
DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

_SERVICES = ("Blob", "Queue", "Table")
# Seconds an idle keep-alive connection stays open (Azurite's default is 5 s). Well above
# the storage client's pool idle limit (taskhub/connections.py), so a request never goes
# out on a connection the server is closing, however late the client's event loop runs.
SERVER_KEEP_ALIVE_SECONDS = 60
_LISTENING = re.compile(
    r"Azurite (Blob|Queue|Table) service is successfully listening at https?://[^\s]+?:(\d+)"
)


def development_storage_connection_string(
    blob_port: int = 10000,
    queue_port: int = 10001,
    table_port: int = 10002,
    *,
    host: str = "127.0.0.1",
) -> str:
    """The connection string for Azurite's well-known account on the given loopback ports."""
    base = f"http://{host}"
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={DEV_ACCOUNT_NAME};"
        f"AccountKey={DEV_ACCOUNT_KEY};"
        f"BlobEndpoint={base}:{blob_port}/{DEV_ACCOUNT_NAME};"
        f"QueueEndpoint={base}:{queue_port}/{DEV_ACCOUNT_NAME};"
        f"TableEndpoint={base}:{table_port}/{DEV_ACCOUNT_NAME};"
    )


def is_listening(host: str, port: int, *, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class AzuriteProcess:
    """One Azurite child process serving blob, queue and table on loopback.

    `project_dir` is the folder Azurite is looked for from (see azurite_install.locate_azurite).
    Use as a (sync or async) context manager, or call `start()`/`stop()`.
    Ports of 0 (the default) let the OS choose free ports; `location=None`
    keeps all data in memory, otherwise data persists in that directory.
    `keep_alive` is the seconds an idle client connection stays open. `node_flags` go to Node
    itself, before Azurite's script (e.g. `--cpu-prof`: bench/azurite_profile.py); they need
    an Azurite that runs as `node <script>` (node_modules or the cache, not a PATH shim).
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        blob_port: int = 0,
        queue_port: int = 0,
        table_port: int = 0,
        location: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        keep_alive: int = SERVER_KEEP_ALIVE_SECONDS,
        node_flags: Sequence[str] = (),
    ) -> None:
        self.node_flags = tuple(node_flags)
        self.project_dir = Path(project_dir)
        self.keep_alive = keep_alive
        self.host = host
        self.location = Path(location) if location is not None else None
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._requested = {"Blob": blob_port, "Queue": queue_port, "Table": table_port}
        self._ports: dict[str, int] = {}
        self._process: subprocess.Popen[str] | None = None
        self.launcher: AzuriteLauncher | None = None
        self._output: deque[str] = deque(maxlen=50)
        self._ready_lines: dict[str, int] = {}
        self._line_event = threading.Condition()
        self._reader: threading.Thread | None = None

    def __repr__(self) -> str:
        # Deliberately without the connection string: it carries the account key.
        return f"AzuriteProcess(host={self.host!r}, ports={self._ports or self._requested})"

    # ------------------------------------------------------------------ properties

    @property
    def blob_port(self) -> int:
        return self._port("Blob")

    @property
    def queue_port(self) -> int:
        return self._port("Queue")

    @property
    def table_port(self) -> int:
        return self._port("Table")

    @property
    def ports(self) -> tuple[int, int, int]:
        return self.blob_port, self.queue_port, self.table_port

    @property
    def connection_string(self) -> str:
        return development_storage_connection_string(*self.ports, host=self.host)

    @property
    def pid(self) -> int | None:
        """The emulator's process id while it runs (the benchmark reads its CPU time)."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _port(self, service: str) -> int:
        if service not in self._ports:
            raise RuntimeError("Azurite is not started yet: call start() first.")
        return self._ports[service]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AzuriteProcess:
        """Start Azurite and wait until blob, queue and table accept connections."""
        if self._process is not None:
            raise RuntimeError("This AzuriteProcess was already started.")
        node = shutil.which("node")
        if node is None:
            raise ConfigurationError(
                "Node.js is not installed (no `node` on PATH), and Azurite, the storage emulator "
                "durable_host runs on, needs it. Install Node.js 18 or later (with npm) from "
                "https://nodejs.org or your package manager, then try again."
            )
        self.launcher = locate_azurite(self.project_dir, node=node)
        command = list(self.launcher.command)
        if self.node_flags:
            if command[0] != node:
                raise ConfigurationError(
                    f"Node options {' '.join(self.node_flags)} need Azurite run by node, but "
                    f"{self.launcher.describe()} is a program of its own: install it in the "
                    "app's node_modules (npm ci)."
                )
            command[1:1] = self.node_flags
        if self.location is not None:
            self.location.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [*command, *self._arguments()],
            cwd=str(self.location or self.project_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            # Own session: a Ctrl-C in the terminal reaches us, and we stop Azurite in order.
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_output, name="azurite-output", daemon=True
        )
        self._reader.start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate Azurite; kill it if it has not exited within `stop_timeout` seconds."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self.stop_timeout)
        if self._reader is not None:
            self._reader.join(timeout=self.stop_timeout)
        if process.stdout is not None:
            process.stdout.close()

    def _arguments(self) -> list[str]:
        args: list[str] = []
        for service in _SERVICES:
            flag = service.lower()
            args += [f"--{flag}Host", self.host, f"--{flag}Port", str(self._requested[service])]
            args += [f"--{flag}KeepAliveTimeout", str(self.keep_alive)]
        if self.location is None:
            args.append("--inMemoryPersistence")
        else:
            args += ["--location", str(self.location)]
        args += [
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
            "--disableProductStyleUrl",
            "--disableTelemetry",
        ]
        return args

    def _read_output(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            with self._line_event:
                self._output.append(line.rstrip())
                match = _LISTENING.search(line)
                if match:
                    self._ready_lines[match.group(1)] = int(match.group(2))
                self._line_event.notify_all()
        with self._line_event:
            self._line_event.notify_all()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        process = self._process
        assert process is not None
        with self._line_event:
            while len(self._ready_lines) < len(_SERVICES):
                if process.poll() is not None:
                    raise ConfigurationError(self._failure("exited during startup"))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConfigurationError(self._failure("did not start in time"))
                self._line_event.wait(timeout=min(remaining, 0.2))
            self._ports = dict(self._ready_lines)
        # "Listening" is logged after listen(); confirm each port really accepts connections.
        while not all(is_listening(self.host, port) for port in self._ports.values()):
            if process.poll() is not None:
                raise ConfigurationError(self._failure("exited during startup"))
            if time.monotonic() > deadline:
                raise ConfigurationError(self._failure("did not accept connections in time"))
            time.sleep(0.02)

    def _failure(self, what: str) -> str:
        with self._line_event:
            tail = "\n".join(self._output) or "(no output)"
        where = self.launcher.describe() if self.launcher else "Azurite"
        return (
            f"Azurite {what} (timeout {self.startup_timeout:.0f}s). "
            "If a port is in use, choose other ports or stop the other emulator; "
            f"if the install is broken, reinstall {where}. "
            f"Azurite said:\n{tail}"
        )

    # ------------------------------------------------------------------ context managers

    def __enter__(self) -> AzuriteProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> AzuriteProcess:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
