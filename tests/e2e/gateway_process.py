"""Runs ``lockgate serve`` as a real process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from tests.servers import free_port

APP_DIR = Path(__file__).parent / "app"


def children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc), workers and what they started."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class GatewayProcess:
    """``with GatewayProcess(config) as gateway:`` starts, waits until ready, and stops it.

    ``wait_for`` is the probe that must answer 200 first: ``/healthz`` for a test of a
    gateway that is up but not ready.
    """

    def __init__(
        self,
        config: Path = APP_DIR / "lockgate.toml",
        *,
        ready_timeout: float = 30,
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        preexec_fn: Callable[[], None] | None = None,
        wait_for: str = "/readyz",
        args: Sequence[str] = (),
    ) -> None:
        self.config = config
        self._wait_for = wait_for
        self.args = tuple(args)  # more options for ``lockgate serve`` (``--reload``)
        self._files = tempfile.TemporaryDirectory()  # removed by stop()
        # Runs are kept in memory unless a test names a store: nothing lands in the repo;
        # the local admin token goes to a file of the test's own.
        self.env = {
            "LOCKGATE_RUN_STORE": "memory://",
            "LOCKGATE_ADMIN_TOKEN_FILE": str(Path(self._files.name) / "admin.token"),
            **(env or {}),
        }
        self.host = host
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"  # a wildcard listener answers here too
        self._ready_timeout = ready_timeout
        self._preexec_fn = preexec_fn  # runs in the child before exec (e.g. to set rlimits)
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()

    def __enter__(self) -> GatewayProcess:
        # free_port() cannot reserve its port: another process may take it before the
        # gateway binds it. A start that failed on that alone is tried again on another.
        for _ in range(3):
            output = self._start()
            if output is None:
                return self
            if b"Address already in use" not in output:
                break
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self._log.seek(0)
            self._log.truncate()
        self.stop()
        raise RuntimeError(f"gateway did not start: {output!r}")

    def _start(self) -> bytes | None:
        """Start the gateway and wait until it is ready (None), or its output when it
        exited or did not get ready in time (it is stopped then)."""
        env = {**os.environ, "LOCKGATE_LOG_LEVEL": "WARNING", **self.env}  # a test's env wins
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lockgate",
                "serve",
                "--config",
                str(self.config),
                "--host",
                self.host,
                "--port",
                str(self.port),
                *self.args,
            ],
            # A file, not a pipe: a pipe nobody reads would block a chatty gateway.
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=self._preexec_fn,  # noqa: PLW1509 - only sets resource limits
        )
        deadline = time.monotonic() + self._ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return self.read_output()
            try:
                if httpx.get(f"{self.url}{self._wait_for}", timeout=1).status_code == 200:
                    return None
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        output = self.read_output() + f"\n(not ready in {self._ready_timeout} s)".encode()
        self._terminate()
        return output

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def admin_token(self) -> str:
        """The local admin token the gateway wrote (``LOCKGATE_ADMIN_TOKEN_FILE``)."""
        return Path(self.env["LOCKGATE_ADMIN_TOKEN_FILE"]).read_text().strip()

    @property
    def admin_headers(self) -> dict[str, str]:
        """Headers that make a request an operator's."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def send_signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def read_output(self) -> bytes:
        """Everything the gateway printed so far."""
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> None:
        self._terminate()
        self._log.close()
        self._files.cleanup()

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.wait(5)
