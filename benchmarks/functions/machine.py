"""What the benchmark ran on: cores, CPU, versions, and how busy the machine already was."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from pathlib import Path

__all__ = ["busy_percent", "cpu_model", "cpu_times", "describe", "first_line"]

REPO = Path(__file__).resolve().parents[2]


def first_line(argv: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    return "unknown"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _virtualised() -> bool:
    with contextlib.suppress(OSError):
        return " hypervisor" in Path("/proc/cpuinfo").read_text()
    return False


def cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)  # idle + iowait


def busy_percent(seconds: float = 1.0) -> float:
    """Percent of all cores busy over ``seconds``: other work skews every number."""
    idle0, total0 = cpu_times()
    time.sleep(seconds)
    idle1, total1 = cpu_times()
    return 100.0 * (1 - (idle1 - idle0) / max(1, total1 - total0))


def describe(use_wrk: bool, threads: int, busy: float) -> dict[str, str]:
    """The machine and tools, as the report's header lists them."""
    client = "Python asyncio fallback (client-bound)"
    if use_wrk:
        client = first_line(["wrk", "-v"]).split(" [")[0] + f", {threads} thread(s)"
    return {
        "cores": f"{os.cpu_count()} (nproc), CPU model name: {cpu_model()}"
        + (", a virtual machine (hypervisor flag set)" if _virtualised() else ""),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load generator": f"{client}, keep-alive connections",
        "lockgate commit": first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
        "machine busy before the run": f"{busy:.0f}% of all cores (1 s sample)",
    }
