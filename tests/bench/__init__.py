"""The benchmark scripts of bench/ (run from the repository, not installed)."""
