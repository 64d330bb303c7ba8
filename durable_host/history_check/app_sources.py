"""The app's own source line of a frame: where in the app an orchestrator asked for an action."""

from __future__ import annotations

import linecache
import sys
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from durable_host.functions.app_files import AppFiles
from durable_host.history_check.verdicts import SourceLine

_Hook = TypeVar("_Hook", bound="ProfileHook")


class ProfileHook:
    """`_profile` is this thread's profile function for the length of a `with` block: the
    orchestrator runs inline, on the thread that replays it."""

    _previous: Any = None

    def __enter__(self: _Hook) -> _Hook:
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.setprofile(self._previous)

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        raise NotImplementedError


class AppSources:
    def __init__(self, app_dir: Path | str) -> None:
        self._files = AppFiles(app_dir)

    def is_app_file(self, path: str) -> bool:
        return self._files.contains(path)

    def line(self, frame: FrameType) -> SourceLine:
        path = frame.f_code.co_filename
        text = linecache.getline(path, frame.f_lineno).strip()
        return SourceLine(self._files.relative(path), frame.f_lineno, text)

    def caller_line(self, frame: FrameType) -> SourceLine | None:
        """The innermost app frame on the stack at or above `frame` (a running orchestrator
        is on the stack while it asks for an action)."""
        current: FrameType | None = frame
        while current is not None:
            if self.is_app_file(current.f_code.co_filename):
                return self.line(current)
            current = current.f_back
        return None
