"""Where Azurite comes from: node_modules up the folders, then PATH, then the user cache.

The npm install itself runs in tests/packaging (it needs the registry and a minute).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from durable_host.errors import ConfigurationError
from durable_host.server.azurite_install import (
    AZURITE_VERSION,
    NO_INSTALL_ENV,
    AzuriteSource,
    cache_root,
    locate_azurite,
    npm_manifest,
)

ROOT = Path(__file__).resolve().parents[2]
NODE = "/path/to/node"


def fake_azurite(node_modules: Path, version: str = AZURITE_VERSION) -> Path:
    package = node_modules / "azurite"
    (package / "dist" / "src").mkdir(parents=True)
    (package / "package.json").write_text(
        json.dumps(
            {"name": "azurite", "version": version, "bin": {"azurite": "dist/src/azurite.js"}}
        )
    )
    script = package / "dist" / "src" / "azurite.js"
    script.write_text("#!/usr/bin/env node\n")
    script.chmod(0o755)
    return script


def environ(tmp_path: Path, *path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": ":".join(str(p) for p in path),
        "DURABLE_HOST_CACHE_DIR": str(tmp_path / "cache"),
        **extra,
    }


def test_the_apps_node_modules_come_first_then_a_parents(tmp_path: Path) -> None:
    app = tmp_path / "repo" / "services" / "app"
    app.mkdir(parents=True)
    parent_script = fake_azurite(tmp_path / "repo" / "node_modules")
    found = locate_azurite(app, node=NODE, environ=environ(tmp_path), fallback_dirs=())
    assert found.source is AzuriteSource.NODE_MODULES
    assert found.command == (NODE, str(parent_script.resolve()))
    assert found.version == AZURITE_VERSION

    own_script = fake_azurite(app / "node_modules", version="3.30.0")
    nearest = locate_azurite(app, node=NODE, environ=environ(tmp_path), fallback_dirs=())
    assert nearest.command == (NODE, str(own_script.resolve()))
    assert nearest.version == "3.30.0"


def test_path_comes_after_node_modules_and_before_the_cache(tmp_path: Path) -> None:
    script = fake_azurite(tmp_path / "global" / "lib" / "node_modules")
    bin_dir = tmp_path / "global" / "bin"
    bin_dir.mkdir()
    (bin_dir / "azurite").symlink_to(script)
    fake_azurite(tmp_path / "cache" / f"azurite-{AZURITE_VERSION}" / "node_modules")
    app = tmp_path / "app"
    app.mkdir()

    found = locate_azurite(app, node=NODE, environ=environ(tmp_path, bin_dir), fallback_dirs=())
    assert found.source is AzuriteSource.PATH
    assert found.command == (NODE, str(script.resolve()))
    assert found.version == AZURITE_VERSION
    assert "from PATH" in found.describe()

    cached = locate_azurite(app, node=NODE, environ=environ(tmp_path), fallback_dirs=())
    assert cached.source is AzuriteSource.USER_CACHE
    assert (
        cached.location
        == tmp_path / "cache" / f"azurite-{AZURITE_VERSION}" / "node_modules" / "azurite"
    )


def test_with_nothing_found_and_no_install_the_one_command_is_named(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    npm_bin = tmp_path / "npm-bin"
    npm_bin.mkdir()
    (npm_bin / "npm").write_text("#!/bin/sh\nexit 99\n")
    (npm_bin / "npm").chmod(0o755)
    no_install = environ(tmp_path, npm_bin, **{NO_INSTALL_ENV: "1"})
    with pytest.raises(ConfigurationError) as error:
        locate_azurite(app, node=NODE, environ=no_install, fallback_dirs=())
    assert f"Run `npm install --save-dev azurite@{AZURITE_VERSION}` in {app}" in str(error.value)
    assert f"{NO_INSTALL_ENV} is set" in str(error.value)

    # Where `durable-host init` wrote a package.json pinning Azurite, `npm install` is enough.
    (app / "package.json").write_text(json.dumps({"devDependencies": {"azurite": "3.37.0"}}))
    no_npm = environ(tmp_path)  # an empty PATH: no npm to install with
    with pytest.raises(ConfigurationError, match=r"npm is not on PATH\). Run `npm install` in"):
        locate_azurite(app, node=NODE, environ=no_npm, fallback_dirs=())


def test_the_cache_folder_follows_the_platform_conventions(tmp_path: Path) -> None:
    assert cache_root({"DURABLE_HOST_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert cache_root({"XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/durable-host")


def test_the_pinned_versions_agree_with_the_repositorys_package_json() -> None:
    """The shipped manifest is where the version is set; the repository's npm files must
    install the same Azurite and the same patch-package."""
    shipped = npm_manifest()["dependencies"]
    assert isinstance(shipped, dict)
    repo = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    assert repo["azurite"] == shipped["azurite"] == AZURITE_VERSION
    assert lock["node_modules/azurite"]["version"] == AZURITE_VERSION
    # The repository's postinstall runs patch-package too (durable_host/server/patches).
    assert repo["patch-package"] == shipped["patch-package"]


def test_the_patches_fit_the_pinned_version() -> None:
    from durable_host.server.azurite_install import patch_files

    patches = patch_files()
    assert patches, "durable_host/server/patches holds no patch: the pinned Azurite ships unfixed"
    for patch in patches:
        assert patch.name.startswith(f"azurite+{AZURITE_VERSION}"), patch.name


def test_the_repository_checkout_is_the_last_node_modules_looked_at(tmp_path: Path) -> None:
    if not (ROOT / "node_modules" / "azurite").is_dir():
        pytest.fail("run `make setup` first: the repository's node_modules has no azurite")
    found = locate_azurite(tmp_path, node=NODE, environ=environ(tmp_path))
    assert found.location == (ROOT / "node_modules" / "azurite").resolve()
