"""The gateway's side of the worker protocol: frames whole, split across reads, or garbled."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from lockgate.gateways.workers.process import _WorkerGoneError, _WorkerProtocol
from lockgate.worker.protocol import HEADER, encode_frame

FRAME = encode_frame({"type": "result", "error": None}, b'{"ok": true}', b"log\n")


async def test_a_whole_frame_in_one_read_reaches_its_waiter() -> None:
    protocol = _WorkerProtocol()
    waiter = protocol.expect_frame()
    protocol.pipe_data_received(1, FRAME)
    meta, body, logs = await waiter
    assert meta == {"type": "result", "error": None}
    assert body == b'{"ok": true}'
    assert logs == b"log\n"


@pytest.mark.parametrize("cuts", [(1,), (5, 13), (12, 20, 30), tuple(range(1, len(FRAME)))])
async def test_a_frame_split_across_reads_is_put_back_together(cuts: tuple[int, ...]) -> None:
    protocol = _WorkerProtocol()
    waiter = protocol.expect_frame()
    bounds = (0, *cuts, len(FRAME))
    for start, end in itertools.pairwise(bounds):
        assert not waiter.done()
        protocol.pipe_data_received(1, FRAME[start:end])
    assert (await waiter)[1] == b'{"ok": true}'


async def test_a_frame_and_the_start_of_the_next_are_kept_apart() -> None:
    protocol = _WorkerProtocol()
    first = protocol.expect_frame()
    protocol.pipe_data_received(1, FRAME + FRAME[:7])
    assert (await first)[2] == b"log\n"
    second = protocol.expect_frame()
    protocol.pipe_data_received(1, FRAME[7:])
    assert (await second)[1] == b'{"ok": true}'


async def test_a_garbled_frame_fails_the_waiter() -> None:
    protocol = _WorkerProtocol()
    waiter = protocol.expect_frame()
    protocol.pipe_data_received(1, HEADER.pack(2**31, 0, 0) + b"junk")
    with pytest.raises(_WorkerGoneError, match="garbled"):
        await asyncio.wait_for(waiter, 1)


async def test_a_frame_nobody_asked_for_is_a_protocol_error() -> None:
    protocol = _WorkerProtocol()
    protocol.pipe_data_received(1, FRAME)  # no waiter: nothing to hand it to, nothing raised
    waiter = protocol.expect_frame()
    protocol.process_exited()
    with pytest.raises(_WorkerGoneError, match="exited"):
        await waiter
