"""Which source files are the app's own: under the app folder, but not an installed package
(a virtualenv inside the app folder) nor durable_host itself."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_DURABLE_HOST_DIR = str(Path(__file__).resolve().parents[1])


class AppFiles:
    def __init__(self, app_dir: Path | str) -> None:
        self.root = str(Path(app_dir).resolve())
        self._outside = tuple(
            str(Path(p).resolve()) + os.sep
            for p in {sys.prefix, sys.base_prefix, _DURABLE_HOST_DIR}
        )

    def contains(self, path: str) -> bool:
        full = os.path.realpath(path)
        return (
            full.startswith(self.root + os.sep)
            and not full.startswith(self._outside)
            and f"{os.sep}site-packages{os.sep}" not in full
        )

    def relative(self, path: str) -> str:
        return Path(os.path.relpath(os.path.realpath(path), self.root)).as_posix()
