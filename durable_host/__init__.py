"""durable_host: run Azure Durable Functions Python apps locally on the real task hub layout."""

from importlib.metadata import PackageNotFoundError, version

# pyproject.toml is the one place the version is set (CHANGELOG.md says what each one changed);
# a checkout imported without being installed has no metadata to read it from.
try:
    __version__ = version("durable-host")
except PackageNotFoundError:
    __version__ = "0+unknown"
