"""Where the Azurite to run comes from: the app's node_modules, PATH, or a per-user cache.

The order: `node_modules/azurite` in the app folder or one of its parents (what the app
pinned), the durable_host source checkout's (development), an `azurite` on PATH, then the
version durable_host pins, installed once from the npm registry into a per-user cache folder
(`~/.cache/durable-host/azurite-<version>`). The cache is a small npm project shipped in the
package (`azurite_npm/package.json`) whose postinstall runs patch-package over durable_host's
own patches (`patches/`), so the fixes apply there as in the repository; a bare
`npx azurite@<version>` could not be patched.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from durable_host.errors import ConfigurationError

__all__ = [
    "AZURITE_VERSION",
    "NO_INSTALL_ENV",
    "AzuriteLauncher",
    "AzuriteSource",
    "cache_root",
    "locate_azurite",
    "npm_manifest",
    "patch_files",
]

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_MANIFEST = _HERE / "azurite_npm" / "package.json"
PATCHES_DIR = _HERE / "patches"
# The source checkout durable_host runs from in development (its node_modules has Azurite).
_CHECKOUT = _HERE.parents[1]

CACHE_ENV = "DURABLE_HOST_CACHE_DIR"
# Set (to anything) to never install Azurite: the error then names the command to run.
NO_INSTALL_ENV = "DURABLE_HOST_NO_AZURITE_INSTALL"
_INSTALL_TIMEOUT = 900.0


def npm_manifest() -> dict[str, object]:
    """The shipped package.json that pins Azurite (and patch-package) for the cache install."""
    data: dict[str, object] = json.loads(_MANIFEST.read_text(encoding="utf-8"))
    return data


def _pinned(package: str) -> str:
    dependencies = npm_manifest()["dependencies"]
    assert isinstance(dependencies, dict)
    return str(dependencies[package])


AZURITE_VERSION = _pinned("azurite")
PATCH_PACKAGE_VERSION = _pinned("patch-package")


def patch_files() -> list[Path]:
    """durable_host's patch-package patches (none is fine)."""
    return sorted(PATCHES_DIR.glob("*.patch")) if PATCHES_DIR.is_dir() else []


class AzuriteSource(enum.Enum):
    NODE_MODULES = "node_modules"
    PATH = "PATH"
    USER_CACHE = "user cache"


@dataclass(frozen=True)
class AzuriteLauncher:
    """The command line that runs Azurite (before its own options), and where it was found."""

    command: tuple[str, ...]
    source: AzuriteSource
    location: Path
    version: str | None

    def describe(self) -> str:
        version = f"Azurite {self.version}" if self.version else "Azurite"
        return f"{version} from {self.source.value} ({self.location})"


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """`$DURABLE_HOST_CACHE_DIR`, else the platform's per-user cache folder + durable-host."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV])
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "durable-host" / "cache"
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "durable-host"


def locate_azurite(
    search_from: str | os.PathLike[str],
    *,
    node: str,
    environ: Mapping[str, str] | None = None,
    fallback_dirs: tuple[Path, ...] = (_CHECKOUT,),
) -> AzuriteLauncher:
    """Find (or install into the user cache) the Azurite to run; ConfigurationError says the fix."""
    env = os.environ if environ is None else environ
    start = Path(search_from).resolve()
    for folder in (start, *start.parents, *fallback_dirs):
        found = _in_node_modules(folder / "node_modules", node, AzuriteSource.NODE_MODULES)
        if found is not None:
            return found
    on_path = _on_path(env, node)
    if on_path is not None:
        return on_path
    cached_project = cache_root(env) / f"azurite-{AZURITE_VERSION}"
    cached = _in_node_modules(cached_project / "node_modules", node, AzuriteSource.USER_CACHE)
    if cached is not None:
        return cached
    npm = shutil.which("npm", path=env.get("PATH"))
    if npm is None or env.get(NO_INSTALL_ENV):
        why = "npm is not on PATH" if npm is None else f"{NO_INSTALL_ENV} is set"
        raise ConfigurationError(
            f"Azurite was not found in {start}/node_modules (or a parent's), nor on PATH, and "
            f"durable_host cannot install it ({why}). Run `{install_command(start)}` in {start}."
        )
    _install(cached_project, npm, start)
    cached = _in_node_modules(cached_project / "node_modules", node, AzuriteSource.USER_CACHE)
    if cached is None:
        raise ConfigurationError(
            f"npm installed {cached_project} but it has no node_modules/azurite; delete that "
            f"folder and retry, or run `{install_command(start)}` in {start}."
        )
    return cached


def install_command(app_dir: Path) -> str:
    """The one command that puts the pinned Azurite into an app folder's node_modules: `npm
    install` where a package.json (as `durable-host init` writes) names it, else an npm install
    of the pinned version."""
    try:
        manifest = (app_dir / "package.json").read_text(encoding="utf-8")
    except OSError:
        manifest = ""
    if '"azurite"' in manifest:
        return "npm install"
    return f"npm install --save-dev azurite@{AZURITE_VERSION}"


def _package_field(package_dir: Path, key: str) -> str | None:
    try:
        meta = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
        return str(meta[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _package_version(package_dir: Path) -> str | None:
    return _package_field(package_dir, "version")


def _package_name(package_dir: Path) -> str | None:
    return _package_field(package_dir, "name")


def _in_node_modules(
    node_modules: Path, node: str, source: AzuriteSource
) -> AzuriteLauncher | None:
    package = node_modules / "azurite"
    # The script named by the package's "bin" is run with `node` directly: on Windows
    # .bin/azurite is a shell shim, not a symlink to it.
    try:
        meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
        script = package / str(meta["bin"]["azurite"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not script.is_file():
        return None
    return AzuriteLauncher(
        (node, str(script.resolve())), source, package.resolve(), _package_version(package)
    )


def _on_path(environ: Mapping[str, str], node: str) -> AzuriteLauncher | None:
    found = shutil.which("azurite", path=environ.get("PATH"))
    if found is None:
        return None
    target = Path(found).resolve()
    version = next(
        (_package_version(f) for f in target.parents if _package_name(f) == "azurite"), None
    )
    if version and version != AZURITE_VERSION:
        log.warning(
            "Using Azurite %s from PATH (%s); durable_host is tested with %s.",
            version,
            found,
            AZURITE_VERSION,
        )
    # npm links `azurite` to the JavaScript entry point; run that with the node we checked.
    command = (node, str(target)) if target.suffix == ".js" else (str(found),)
    return AzuriteLauncher(command, AzuriteSource.PATH, Path(found), version)


def _install(project: Path, npm: str, app_dir: Path) -> None:
    """npm-install the shipped manifest plus patches into a staging folder, then move it into
    place in one rename, so a half-finished install is never taken for a finished one."""
    project.parent.mkdir(parents=True, exist_ok=True)
    staging = project.parent / f".{project.name}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        shutil.copyfile(_MANIFEST, staging / "package.json")
        (staging / "patches").mkdir()
        for patch in patch_files():
            shutil.copyfile(patch, staging / "patches" / patch.name)
        log.info(
            "Azurite is not in %s/node_modules nor on PATH: installing Azurite %s from the npm "
            "registry into %s (once; about a minute)...",
            app_dir,
            AZURITE_VERSION,
            project,
        )
        _run_npm(npm, staging, app_dir)
        try:
            staging.rename(project)
        except OSError:
            if not project.is_dir():
                raise
            # Another process finished the same install first; theirs is as good as ours.
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _run_npm(npm: str, staging: Path, app_dir: Path) -> None:
    try:
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=_INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise ConfigurationError(
            f"Installing Azurite {AZURITE_VERSION} from the npm registry took over "
            f"{_INSTALL_TIMEOUT:.0f}s. Check the network (or npm's proxy settings), or run "
            f"`{install_command(app_dir)}` in {app_dir}."
        ) from None
    if result.returncode != 0:
        said = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ConfigurationError(
            f"Installing Azurite {AZURITE_VERSION} from the npm registry failed (npm exited "
            f"with {result.returncode}). Fix what npm says, or run `{install_command(app_dir)}` in "
            f"{app_dir}. npm said:\n{said}"
        )
