"""The gateway's side of the worker pipe: a frame that arrives before anyone asks for it (the
worker's "ready", when the launcher is slow to resume on a busy machine) is kept for the
first ``expect_frame``, not dropped (it was, and the launch then timed out); and the last
frame of a worker whose exit was seen first still reaches its waiter."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from lockgate.gateways.workers.process import _WorkerGoneError, _WorkerProtocol
from lockgate.worker.protocol import pack_frame


async def test_a_frame_before_the_first_ask_is_kept_for_it() -> None:
    protocol = _WorkerProtocol()
    protocol.pipe_data_received(1, pack_frame(orjson.dumps({"type": "ready"})))
    meta, body, logs = await protocol.expect_frame()
    assert meta == {"type": "ready"}
    assert (body, logs) == (b"", b"")


async def test_the_next_frame_waits_for_its_own_ask() -> None:
    protocol = _WorkerProtocol()
    protocol.pipe_data_received(1, pack_frame(orjson.dumps({"type": "ready"})))
    assert (await protocol.expect_frame())[0] == {"type": "ready"}
    waiter = protocol.expect_frame()
    assert not waiter.done()
    protocol.pipe_data_received(1, pack_frame(orjson.dumps({"type": "result"}), b"{}", b"x"))
    assert await waiter == ({"type": "result"}, b"{}", b"x")


async def test_a_second_frame_nobody_asked_for_is_not_queued() -> None:
    protocol = _WorkerProtocol()
    frame = pack_frame(orjson.dumps({"type": "ready"}))
    protocol.pipe_data_received(1, frame + frame)
    assert (await protocol.expect_frame())[0] == {"type": "ready"}
    waiter = protocol.expect_frame()
    assert not waiter.done()  # the second one was refused, not queued behind the first


async def test_a_frame_read_after_the_exit_was_seen_still_reaches_its_waiter() -> None:
    # A busy loop can see a worker's exit before the last bytes of its control pipe (an
    # init error's frame): the frame is delivered, not a bare "worker exited".
    protocol = _WorkerProtocol()
    waiter = protocol.expect_frame()
    protocol.process_exited()
    protocol.pipe_data_received(1, pack_frame(orjson.dumps({"type": "init_error"})))
    protocol.pipe_connection_lost(1, None)
    assert (await waiter)[0] == {"type": "init_error"}
    with pytest.raises(_WorkerGoneError):  # and nothing more can come
        await protocol.expect_frame()


async def test_an_exit_whose_pipe_stays_open_fails_the_waiter_after_a_moment() -> None:
    # A process the handler started may hold the pipe open after the worker is gone.
    protocol = _WorkerProtocol()
    waiter = protocol.expect_frame()
    protocol.process_exited()
    with pytest.raises(_WorkerGoneError, match="worker exited"):
        await asyncio.wait_for(waiter, 10)
