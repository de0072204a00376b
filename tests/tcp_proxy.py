"""A TCP proxy on loopback that a test can cut and restore: a gateway or a store pointed at
it loses its server (connections reset, new ones refused) without the shared server, which
other tests use, ever being stopped."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from tests.servers import free_port

__all__ = ["TcpProxy", "threaded_proxy"]


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; ``cut`` resets every connection and stops
    listening, ``start`` listens again on the same port.

    Args:
        target_port: The loopback port to forward to.
    """

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connect, "127.0.0.1", self.port, reuse_address=True
        )

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            transport: Any = writer.transport
            transport.abort()  # a reset, as a failed host or a dropped route looks
        self._writers.clear()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._forward(reader, writer)
        finally:
            self._connections.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self._target
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()


class _ThreadedProxy:
    """A ``TcpProxy`` on an event loop of its own thread, for synchronous tests."""

    def __init__(self, proxy: TcpProxy, loop: asyncio.AbstractEventLoop) -> None:
        self.port = proxy.port
        self._proxy = proxy
        self._loop = loop

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self._proxy.cut(), self._loop).result()

    def restore(self) -> None:
        asyncio.run_coroutine_threadsafe(self._proxy.start(), self._loop).result()


@contextmanager
def threaded_proxy(target_port: int) -> Iterator[_ThreadedProxy]:
    """A started ``TcpProxy`` to ``target_port``, served from a thread; cut on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="tcp-proxy", daemon=True)
    thread.start()
    proxy = TcpProxy(target_port)
    started: Future[None] = asyncio.run_coroutine_threadsafe(proxy.start(), loop)
    try:
        started.result()
        yield _ThreadedProxy(proxy, loop)
    finally:
        asyncio.run_coroutine_threadsafe(proxy.cut(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
