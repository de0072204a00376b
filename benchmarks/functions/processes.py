"""The servers the benchmark starts, and what /proc says about them.

``Server`` is a context manager that starts a command on a free loopback port, waits until a
URL answers 200 and, on exit (normal, failure or Ctrl-C), stops the process with SIGTERM, then
SIGKILL, and finally kills any of its descendants that outlived it (Lockgate's workers run in
their own sessions, so they are not in the server's process group).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

__all__ = [
    "CLOCK_TICKS",
    "Server",
    "children",
    "cmdline",
    "cpu_seconds",
    "free_port",
    "serve_argv",
    "vm_rss_mb",
]

_STOP_GRACE = 20.0
_POLL = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc's CPU times


def serve_argv(config: Path, port: int) -> list[str]:
    """``lockgate serve`` of ``config`` on loopback at ``port``, with this interpreter."""
    argv = [sys.executable, "-m", "lockgate", "serve", "--config", str(config)]
    return [*argv, "--host", "127.0.0.1", "--port", str(port)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _parents() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, start time) of every live, non-zombie process."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), fields[19])
    return found


def children(pid: int) -> list[int]:
    """Live direct children of ``pid``."""
    return sorted(child for child, (parent, _) in _parents().items() if parent == pid)


def _descendants(pid: int) -> dict[int, str]:
    """Live descendants of ``pid`` -> their start time (to recognise them later, not a reuse)."""
    table = _parents()
    found: dict[int, str] = {}
    frontier = {pid}
    while frontier:
        frontier = {child for child, (parent, _) in table.items() if parent in frontier}
        found |= {child: table[child][1] for child in frontier}
    return found


def vm_rss_mb(pid: int) -> float | None:
    """``VmRSS`` of ``pid`` in MiB, from /proc/PID/status; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """CPU time ``pid`` has used so far (utime + stime of its own threads, not of its
    children), from /proc/PID/stat; None when it is gone."""
    fields = _stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Server:
    """``with Server(name, argv, ready_url, log) as server:`` a running, ready server.

    Args:
        name: For messages.
        argv: The command; it must listen on loopback only.
        ready_url: Polled until it answers 200.
        log: File the server's stdout and stderr go to.
        ready_timeout: Seconds to wait for ``ready_url``.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ready_url: str,
        log: Path,
        *,
        ready_timeout: float = 60.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._argv = list(argv)
        self._ready_url = ready_url
        self.log = log
        self._ready_timeout = ready_timeout
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._process.pid

    def __enter__(self) -> Server:
        with self.log.open("wb") as out:
            # A new session: Ctrl-C reaches only run.py, which then stops servers in order.
            self._process = subprocess.Popen(
                self._argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._env,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self._process.returncode} before it was "
                    f"ready; the end of its log ({self.log}):\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self._ready_url, timeout=1.0).status_code == 200:
                    return
            time.sleep(_POLL)
        raise RuntimeError(
            f"{self.name} was not ready within {self._ready_timeout:.0f} s; "
            f"the end of its log ({self.log}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period, then kill leftover descendants."""
        process = self._process
        if process is None:
            return
        # A second Ctrl-C must not cut the clean-up short; it is delivered once we are done.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            leftovers = _descendants(process.pid) if process.poll() is None else {}
            _terminate(process)
            _kill_leftovers(leftovers)
        finally:
            self._process = None
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(_STOP_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def _kill_leftovers(started: dict[int, str]) -> None:
    """SIGKILL each process still alive with the same start time (so never a reused pid)."""
    deadline = time.monotonic() + 2.0
    while started and time.monotonic() < deadline:
        alive = _parents()
        started = {pid: t for pid, t in started.items() if alive.get(pid, (0, ""))[1] == t}
        time.sleep(_POLL)
    for pid in started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
