"""The physical limit of one warm process per in-flight invocation: the bare app plus a hop.

``bare_app.py`` with the same server settings (uvloop, httptools, one process, no access log,
no log config) and the same two request shapes, except that every request is answered by one
of N warm worker processes (``hop_worker.py``, 8 by default), each serving one request at a
time, as Lockgate's warm pool does:

* ``GET /echo/{name}`` sends ``{"pathParameters": {"name": name}}`` to a worker, which answers
  ``{"name": name}`` with the benchmark's echo handler;
* ``POST /2015-03-31/functions/{name}/invocations`` sends the request body as it came; the
  worker decodes it and echoes it.

The app checks a worker out of the idle ones (or waits, first come first served, for the next
one returned), writes one length-prefixed frame to its stdin and awaits one frame from its
stdout, read by a ``SubprocessProtocol`` (the same transport Lockgate's gateway uses), then
returns the worker and answers with the reply bytes as they came, without decoding them.
Nothing else: no event building, request ids, deadlines, circuit breaker, metrics, log capture
or latency header. A worker whose call fails or is cancelled half-way is killed and replaced,
since its pipes may hold half a frame.

Uvicorn's lifespan is on (the bare app has it off) only to start the workers before the port
opens and stop them on the way out; it costs nothing per request.

Run: ``python benchmarks/functions/hop_app.py --port 8002 [--workers 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import struct
import sys
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lockgate.controllers.server_options import server_config

WORKER = Path(__file__).resolve().with_name("hop_worker.py")
LENGTH = struct.Struct(">I")
STOP_GRACE = 5.0  # seconds a worker gets to exit after its stdin closes, before SIGKILL


class WorkerGoneError(Exception):
    """The worker exited or closed its stdout before it answered."""


class _WorkerProtocol(asyncio.SubprocessProtocol):
    """Cuts the worker's stdout into frames and hands each to the call waiting for it."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.gone = False
        self.exited = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes) -> None:  # noqa: ARG002 (stdout only)
        self._buffer += data
        if len(self._buffer) < LENGTH.size:
            return
        (size,) = LENGTH.unpack_from(self._buffer)
        end = LENGTH.size + size
        if len(self._buffer) < end:
            return
        reply = bytes(self._buffer[LENGTH.size : end])
        del self._buffer[:end]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:  # noqa: ARG002
        if fd == 1:
            self._fail()

    def process_exited(self) -> None:
        self._fail()
        self.exited.set()

    def _fail(self) -> None:
        self.gone = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(WorkerGoneError("the worker is gone"))


class _Worker:
    """One worker process and its two pipes; one call at a time."""

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _WorkerProtocol) -> None:
        stdin = transport.get_pipe_transport(0)
        if stdin is None:
            raise RuntimeError("the worker has no stdin pipe")
        self._transport = transport
        self._protocol = protocol
        self._stdin = cast(asyncio.WriteTransport, stdin)

    async def call(self, payload: bytes) -> bytes:
        if self._protocol.gone:
            raise WorkerGoneError("the worker is gone")
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._protocol.waiter = reply
        self._stdin.write(LENGTH.pack(len(payload)) + payload)
        return await reply

    def kill(self) -> None:
        if not self._protocol.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                self._transport.kill()
        self._transport.close()

    async def stop(self) -> None:
        """Close its stdin (it exits at end of file); SIGKILL it if it has not within the grace."""
        self._stdin.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE):
                await self._protocol.exited.wait()
        self.kill()


class WorkerPool:
    """``size`` warm workers, each checked out by one request at a time.

    Requests that find no idle worker wait in a FIFO and a returned worker is handed straight
    to the oldest one. (``asyncio.Queue`` lets a newly arrived ``get`` take an item before the
    waiter it was put for, which sends that waiter to the back of the line: same throughput,
    but a p99 several times the median at c=64.)
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._idle: list[_Worker] = []  # never non-empty while someone waits
        self._waiting: deque[asyncio.Future[_Worker]] = deque()
        self._workers: set[_Worker] = set()
        self._replacing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for worker in await asyncio.gather(*(self._spawn() for _ in range(self._size))):
            self._release(worker)

    async def stop(self) -> None:
        for task in self._replacing:
            task.cancel()
        await asyncio.gather(*self._replacing, return_exceptions=True)
        await asyncio.gather(*(worker.stop() for worker in self._workers))
        self._workers.clear()

    async def call(self, payload: bytes) -> bytes:
        worker = self._idle.pop() if self._idle else await self._wait()
        try:
            reply = await worker.call(payload)
        except BaseException:
            self._retire(worker)
            raise
        self._release(worker)
        return reply

    async def _wait(self) -> _Worker:
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a worker, then cancelled
                self._release(waiter.result())
            raise

    def _release(self, worker: _Worker) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # skip the cancelled
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    async def _spawn(self) -> _Worker:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.subprocess_exec(
            _WorkerProtocol,
            sys.executable,
            str(WORKER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # the app's own stderr: the benchmark's server log
        )
        worker = _Worker(transport, protocol)
        self._workers.add(worker)
        try:
            await worker.call(b"{}")  # warm: its imports are done once this answers
        except BaseException:
            worker.kill()
            self._workers.discard(worker)
            raise
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker whose call failed or was cancelled half-way, and start another."""
        worker.kill()
        self._workers.discard(worker)
        task = asyncio.get_running_loop().create_task(self._replace())
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replace(self) -> None:
        self._release(await self._spawn())


class _State:
    pool: WorkerPool | None = None


def _pool() -> WorkerPool:
    if _State.pool is None:
        raise RuntimeError("the worker pool is not running")
    return _State.pool


async def _forward(payload: bytes) -> Response:
    try:
        reply = await _pool().call(payload)
    except WorkerGoneError:
        return Response(b'{"message":"worker gone"}', 502, media_type="application/json")
    return Response(reply, media_type="application/json")


async def echo_name(request: Request) -> Response:
    event = {"pathParameters": {"name": request.path_params["name"]}}
    return await _forward(json.dumps(event, separators=(",", ":")).encode())


async def echo_body(request: Request) -> Response:
    return await _forward(await request.body())


def make_app(workers: int) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pool = WorkerPool(workers)
        _State.pool = pool
        try:
            await pool.start()
            yield
        finally:
            _State.pool = None
            await pool.stop()

    return Starlette(
        routes=[
            Route("/echo/{name}", echo_name, methods=["GET"]),
            Route("/2015-03-31/functions/{name}/invocations", echo_body, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=8, help="warm worker processes")
    args = parser.parse_args()
    # uvicorn's stock protocol, as the bare app's default: a reference without Lockgate.
    config = server_config(
        make_app(args.workers), limits=None, host=args.host, port=args.port, lifespan="on"
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
