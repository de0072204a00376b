"""Throwaway servers for fault tests, all on loopback: a port that accepts and never answers,
and a real server binary (redis-server, nats-server) on a free port, killed and restarted at
will, for what the shared servers must not be put through (passwords, restarts)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

__all__ = ["PrivateServer", "free_port", "silent_listener"]

# A guard against a hang while a server starts, not a timing claim.
START_BOUND = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port whose connections the kernel accepts (its backlog) and nobody answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


class PrivateServer:
    """``argv(port)`` run on a free loopback port; ``start`` returns once it accepts.

    Args:
        argv: The command line for a port.
    """

    def __init__(self, argv: Callable[[int], Sequence[str]]) -> None:
        self.port = free_port()
        self._argv = argv
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self._argv(self.port),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(START_BOUND):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.02)
                    continue
                writer.close()
                await writer.wait_closed()
                return

    async def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            await self.process.wait()
            self.process = None
