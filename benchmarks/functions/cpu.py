"""Where the CPU goes during one load run: the server, its workers, the load generator, the box.

``cpu_during(pid, run)`` reads, before and after ``run()``:

* the server's utime + stime and those of each of its live children (the workers; or only
  the worker pids given, when the server runs other pools beside), from /proc/PID/stat
  (workers that exit during the run are left out);
* the load generator's: this process plus its reaped children (``wrk``), from getrusage;
* the whole machine's busy time over all cores, from /proc/stat.

All cost two reads of a few /proc files, nothing during the run. The resolution is a clock
tick (10 ms at USER_HZ = 100), well under 0.1 % of a 10 s run on 2 cores.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from benchmarks.functions.machine import cpu_times
from benchmarks.functions.processes import CLOCK_TICKS, children, cpu_seconds

__all__ = ["CpuUse", "cpu_during"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds used during one run, by whom."""

    wall_s: float
    server_s: float
    workers_s: float
    workers: int  # worker processes measured (0 for the bare app)
    client_s: float  # load generator: this process and wrk
    machine_s: float  # every core's busy time, everyone included

    def per_request_us(self, requests: int) -> tuple[float, float, float, float]:
        """(server, workers, client, machine) CPU µs per request."""
        scale = 1e6 / max(1, requests)
        return (
            self.server_s * scale,
            self.workers_s * scale,
            self.client_s * scale,
            self.machine_s * scale,
        )


def _client_seconds() -> float:
    used = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        used += usage.ru_utime + usage.ru_stime
    return used


def _machine_seconds() -> float:
    idle, total = cpu_times()
    return (total - idle) / CLOCK_TICKS


def _seconds(pid: int) -> float:
    used = cpu_seconds(pid)
    if used is None:
        raise RuntimeError(f"process {pid} is gone; cannot read its CPU time")
    return used


def cpu_during(
    pid: int, run: Callable[[], T], workers: Sequence[int] | None = None
) -> tuple[T, CpuUse]:
    """``run()``'s result, and the CPU the server ``pid``, its ``workers`` (by default all its
    children) and the rest used."""
    workers = children(pid) if workers is None else list(workers)
    server0 = _seconds(pid)
    workers0 = {worker: cpu_seconds(worker) for worker in workers}
    client0, machine0, wall0 = _client_seconds(), _machine_seconds(), time.monotonic()
    result = run()
    wall1, machine1, client1 = time.monotonic(), _machine_seconds(), _client_seconds()
    server1 = _seconds(pid)
    workers_s = 0.0
    measured = 0
    for worker, before in workers0.items():
        after = cpu_seconds(worker)
        if before is not None and after is not None:
            workers_s += after - before
            measured += 1
    return result, CpuUse(
        wall_s=wall1 - wall0,
        server_s=server1 - server0,
        workers_s=workers_s,
        workers=measured,
        client_s=client1 - client0,
        machine_s=machine1 - machine0,
    )
