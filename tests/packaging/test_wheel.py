"""The wheel, installed into a fresh virtualenv, runs a user's app outside this repository.

One virtualenv for the module (building and installing it takes about a minute). Each way
of finding Azurite gets its own app folder: the app's (here: a parent's) node_modules, an
`azurite` on PATH, and the per-user cache that durable_host fills from the npm registry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from durable_host.server.azurite_install import AZURITE_VERSION, patch_files
from tests.e2e.host_process import HostProcess

ROOT = Path(__file__).resolve().parents[2]
STANDALONE_APP = ROOT / "tests" / "apps" / "standalone" / "function_app.py"
REPO_AZURITE = ROOT / "node_modules" / "azurite"
NODE = shutil.which("node")
DEADLINE = 60.0
STARTED_AZURITE = re.compile(r"Started Azurite")


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    def tool(self, name: str) -> Path:
        return self.bin / name


def run(
    *command: str | Path, cwd: Path, env: dict[str, str], timeout: float = 300, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == expect, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """The wheel (built from a copy of the package files only) in a fresh virtualenv."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "durable_host", source / "durable_host", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = dict(os.environ)
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        work / "dist",
        source,
        cwd=work,
        env=env,
    )
    wheels = list((work / "dist").glob("durable_host-*.whl"))
    assert len(wheels) == 1, wheels
    venv = Venv(work / "venv")
    run(sys.executable, "-m", "venv", venv.root, cwd=work, env=env)
    run(
        venv.tool("python"),
        "-m",
        "pip",
        "install",
        "-q",
        f"{wheels[0]}[testing]",
        cwd=work,
        env=env,
        timeout=600,
    )
    return venv


def clean_environment(venv: Venv, path: list[Path], **extra: str) -> dict[str, str]:
    """No trace of this repository: its venv, its node_modules and PYTHONPATH are not visible."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "USERPROFILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = os.pathsep.join(str(p) for p in [venv.bin, *path])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def node_only_path(tmp_path: Path) -> list[Path]:
    """PATH with `node`, `npm` and the shell npm runs scripts with, and no azurite."""
    folder = tmp_path / "node-bin"
    folder.mkdir()
    for tool in ("node", "npm", "npx"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed for these tests"
        (folder / tool).symlink_to(found)
    shell = shutil.which("sh")
    assert shell is not None
    system = Path(shell).parent
    assert shutil.which("azurite", path=str(system)) is None, f"{system} has an azurite"
    return [folder, system]


def no_install_environment(venv: Venv, tmp_path: Path, *path: Path) -> dict[str, str]:
    """Azurite only from what is on disk: an empty user cache that may not be filled."""
    return clean_environment(
        venv,
        [*path, *node_only_path(tmp_path)],
        DURABLE_HOST_CACHE_DIR=str(tmp_path / "empty-cache"),
        DURABLE_HOST_NO_AZURITE_INSTALL="1",
    )


def new_app(folder: Path, venv: Venv, env: dict[str, str]) -> Path:
    """The user's app: their function_app.py, then `durable-host init`."""
    folder.mkdir(parents=True)
    shutil.copy(STANDALONE_APP, folder / "function_app.py")
    out = run(venv.tool("durable-host"), "init", folder, cwd=folder, env=env).stdout
    assert "wrote local.settings.json" in out
    return folder


@pytest.fixture
def hold_azurite_port() -> Iterator[None]:
    """Keeps one of 127.0.0.1:10000-10002 busy, so the host starts its own Azurite on free
    ports and never joins an emulator another test (or the developer) left on the
    well-known ones: the host joins only when all three listen."""
    holder = socket.socket()
    for port in (10000, 10001, 10002):
        try:
            holder.bind(("127.0.0.1", port))
        except OSError:
            continue
        holder.listen(128)  # probes are never accepted; room for all of them
        break
    else:
        holder.close()
        pytest.fail(
            "A storage emulator listens on 127.0.0.1:10000-10002, so the host would join it "
            "instead of starting its own Azurite, which is what this test checks: stop that "
            "emulator and run the test again."
        )
    try:
        yield
    finally:
        holder.close()


def start_hello_and_wait(base_url: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"{base_url}/api/orchestrators/hello",
        data=b'"ada"',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        status_url = json.loads(response.read())["statusQueryGetUri"]
    deadline = time.monotonic() + DEADLINE
    while True:
        with urllib.request.urlopen(status_url, timeout=30) as response:
            status: dict[str, object] = json.loads(response.read())
        if status["runtimeStatus"] not in ("Pending", "Running"):
            return status
        assert time.monotonic() < deadline, f"not finished within {DEADLINE}s: {status}"
        time.sleep(0.1)


def serve_and_run_hello(app: Path, venv: Venv, env: dict[str, str], source: str) -> HostProcess:
    host = HostProcess(
        app, storage=None, hub_name=None, program=[str(venv.tool("durable-host"))], environ=env
    ).start()
    try:
        started = host.wait_for_line(STARTED_AZURITE, timeout=5)
        assert f"from {source}" in started, host.output
        status = start_hello_and_wait(host.base_url)
        assert status["runtimeStatus"] == "Completed", status
        assert status["output"] == "Hello ada!"
    finally:
        code = host.stop()
    assert code == 0, host.output
    return host


def start_failing(venv: Venv, app: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`durable-host start` that must stop at once with status 1 (its message on stderr)."""
    return run(venv.tool("durable-host"), "start", "--port", "0", cwd=app, env=env, expect=1)


def test_init_writes_the_app_files_and_keeps_them_without_force(venv: Venv, tmp_path: Path) -> None:
    env = clean_environment(venv, node_only_path(tmp_path))
    app = new_app(tmp_path / "app", venv, env)
    package = json.loads((app / "package.json").read_text())
    assert package["devDependencies"]["azurite"] == AZURITE_VERSION
    assert package["scripts"]["postinstall"] == "patch-package"
    settings = json.loads((app / "local.settings.json").read_text())
    assert settings["Values"]["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert json.loads((app / "host.json").read_text()) == {"version": "2.0"}
    sample = (app / "tests" / "test_durable_sample.py").read_text()
    assert "ORCHESTRATOR = 'hello'" in sample
    ignored = (app / ".gitignore").read_text().splitlines()
    assert ".azurite/" in ignored and "local.settings.json" in ignored
    assert sorted(p.name for p in (app / "patches").glob("*.patch")) == [
        p.name for p in patch_files()
    ]

    (app / "local.settings.json").write_text('{"Values": {"Mine": "1"}}')
    again = run(venv.tool("durable-host"), "init", app, cwd=app, env=env).stdout
    assert "kept local.settings.json (exists; --force overwrites it)" in again
    assert "added to .gitignore" not in again
    assert json.loads((app / "local.settings.json").read_text()) == {"Values": {"Mine": "1"}}
    assert (app / ".gitignore").read_text().splitlines() == ignored
    forced = run(venv.tool("durable-host"), "init", "--force", app, cwd=app, env=env).stdout
    assert "wrote local.settings.json" in forced
    assert "Mine" not in (app / "local.settings.json").read_text()


@pytest.mark.usefixtures("hold_azurite_port")
def test_start_with_azurite_in_a_parent_folders_node_modules(venv: Venv, tmp_path: Path) -> None:
    # The repository's installed Azurite, as if the user had run `npm install` one folder up.
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "azurite").symlink_to(REPO_AZURITE)
    env = no_install_environment(venv, tmp_path)
    app = new_app(tmp_path / "app", venv, env)
    serve_and_run_hello(app, venv, env, "node_modules")


@pytest.mark.usefixtures("hold_azurite_port")
def test_start_with_azurite_on_path(venv: Venv, tmp_path: Path) -> None:
    # What `npm install -g azurite` leaves: a bin folder with `azurite` linked to its script.
    global_bin = tmp_path / "global-bin"
    global_bin.mkdir()
    script = json.loads((REPO_AZURITE / "package.json").read_text())["bin"]["azurite"]
    (global_bin / "azurite").symlink_to(REPO_AZURITE / script)
    env = no_install_environment(venv, tmp_path, global_bin)
    app = new_app(tmp_path / "app", venv, env)
    serve_and_run_hello(app, venv, env, "PATH")


@pytest.mark.usefixtures("hold_azurite_port")
def test_start_installs_azurite_into_the_user_cache_and_the_plugin_uses_it(
    venv: Venv, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    env = clean_environment(venv, node_only_path(tmp_path), DURABLE_HOST_CACHE_DIR=str(cache))
    app = new_app(tmp_path / "app", venv, env)
    host = HostProcess(
        app, storage=None, hub_name=None, program=[str(venv.tool("durable-host"))], environ=env
    )
    host.start_deadline = 600.0  # the first start runs `npm install` (about a minute)
    host.start()
    try:
        assert f"installing Azurite {AZURITE_VERSION} from the npm registry" in host.output
        started = host.wait_for_line(STARTED_AZURITE, timeout=5)
        assert "from user cache" in started
        status = start_hello_and_wait(host.base_url)
        assert status["runtimeStatus"] == "Completed" and status["output"] == "Hello ada!"
    finally:
        assert host.stop() == 0, host.output
    installed = cache / f"azurite-{AZURITE_VERSION}"
    assert (
        json.loads((installed / "node_modules" / "azurite" / "package.json").read_text())["version"]
        == AZURITE_VERSION
    )
    # The patches went along, for patch-package (npm's postinstall) to apply.
    assert sorted(p.name for p in (installed / "patches").iterdir()) == [
        p.name for p in patch_files()
    ]
    # ...and were applied: the GC fix (docs/azurite-gc.md) and the table lookups
    # (docs/azurite-tables.md) are in the installed Azurite.
    dist = installed / "node_modules" / "azurite" / "dist" / "src"
    extents = (dist / "common" / "persistence" / "MemoryExtentStore.js").read_text()
    assert "metadataStore.deleteExtents(ids)" in extents
    queries = (dist / "table" / "persistence" / "LokiTableStoreQueryGenerator.js").read_text()
    assert "partitionKeyPinnedBy" in queries

    # The app's own tests, on the plugin: storage comes from the same cached Azurite.
    tests = run(
        venv.tool("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=app, env=env
    )
    assert "1 passed" in tests.stdout


def test_a_missing_node_is_reported_plainly(venv: Venv, tmp_path: Path) -> None:
    env = clean_environment(venv, node_only_path(tmp_path))
    app = new_app(tmp_path / "app", venv, env)
    no_node = clean_environment(venv, [])
    result = start_failing(venv, app, no_node)
    assert "Node.js is not installed (no `node` on PATH)" in result.stderr


def test_without_an_install_the_message_names_the_one_command(venv: Venv, tmp_path: Path) -> None:
    env = no_install_environment(venv, tmp_path)
    app = new_app(tmp_path / "app", venv, env)
    result = start_failing(venv, app, env)
    assert f"Run `npm install` in {app}" in result.stderr
