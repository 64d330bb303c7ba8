"""CPU time of the host (this process) and of Azurite during a workload, beside its wall time.

On a shared machine a slow workload can be bound by the host's CPU, by Azurite's, or by
neither (both waiting for the cores other work holds): the shares of a core each used, with
the load average, tell which.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

__all__ = ["CpuMeter"]


def _process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # utime and stime: fields 14 and 15 of the line, 12 and 13 after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Sample:
    wall: float
    host: float
    azurite: float


class CpuMeter:
    def __init__(self, azurite_pid: int | None) -> None:
        self._pid = azurite_pid

    def _sample(self) -> _Sample:
        azurite = _process_cpu_s(self._pid) if self._pid is not None else 0.0
        return _Sample(time.perf_counter(), time.process_time(), azurite)

    async def metered(self, workload: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """The workload's figures, with `cpu`: host and Azurite CPU seconds, wall seconds and
        the load average at the end (warm-ups included)."""
        start = self._sample()
        figures = await workload
        end = self._sample()
        figures["cpu"] = {
            "wall_s": end.wall - start.wall,
            "host_s": end.host - start.host,
            "azurite_s": end.azurite - start.azurite,
            "load": round(os.getloadavg()[0], 2),
        }
        return figures
