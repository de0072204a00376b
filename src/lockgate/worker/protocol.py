"""The frames a gateway and its worker exchange over the worker's stdin/stdout pipes.

A frame is a 12-byte header (three big-endian unsigned 32-bit lengths), then a JSON
``meta`` object, then a raw ``body`` (the event or the handler's JSON result), then raw
``logs``. Keeping payloads out of the JSON means they are never re-encoded.

Gateway → worker: ``{"type": "invoke", "request_id", "deadline_ms", "arn", "client_context"}``,
and ``"traceparent"`` (W3C's spelling; the worker makes X-Ray's from it) when the
invocation is traced.
Worker → gateway: ``{"type": "ready"}``, ``{"type": "init_error", "error": {...}}`` or
``{"type": "result", "error": {...} | null, "duration_ms", "logs_dropped"}``.
"""

from __future__ import annotations

import os
import struct

from lockgate.worker import fastjson

# typing costs a worker ~15 ms to import; type checkers still read this block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["HEADER", "MAX_FRAME_PART", "FrameReader", "decode_header", "encode_frame", "pack_frame"]

HEADER = struct.Struct(">III")
# A sanity bound, far above any real payload (Lambda's own limit is 6 MB): a garbled header
# must not make the gateway try to allocate gigabytes.
MAX_FRAME_PART = 256 * 1024 * 1024


def encode_frame(meta: dict[str, Any], body: bytes = b"", logs: bytes = b"") -> bytes:
    return pack_frame(fastjson.dumps(meta), body, logs)


def pack_frame(meta: bytes, body: bytes = b"", logs: bytes = b"") -> bytes:
    """A frame from an already-encoded ``meta`` (the gateway encodes it with orjson)."""
    return b"".join((HEADER.pack(len(meta), len(body), len(logs)), meta, body, logs))


def decode_header(header: bytes) -> tuple[int, int, int]:
    """The three part lengths; ValueError when any is beyond reason."""
    lengths: tuple[int, int, int] = HEADER.unpack(header)
    if max(lengths) > MAX_FRAME_PART:
        raise ValueError(f"frame part of {max(lengths)} bytes is over the limit")
    return lengths


class FrameReader:
    """Reads frames off a blocking file descriptor with as few ``read`` calls as possible:
    one per frame when the frame fits in the buffer, instead of one per part."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()

    def read(self) -> tuple[dict[str, Any], bytes] | None:
        """The next frame's meta and body, or None once the other end closed the pipe."""
        if not self._fill(HEADER.size):
            return None
        meta_len, body_len, logs_len = decode_header(bytes(self._buffer[: HEADER.size]))
        end = HEADER.size + meta_len + body_len + logs_len
        if not self._fill(end):
            return None
        meta_end = HEADER.size + meta_len
        meta = fastjson.loads(self._buffer[HEADER.size : meta_end])
        body = bytes(self._buffer[meta_end : meta_end + body_len])
        del self._buffer[:end]
        return meta, body

    def _fill(self, size: int) -> bool:
        while len(self._buffer) < size:
            chunk = os.read(self._fd, max(65536, size - len(self._buffer)))
            if not chunk:
                return False
            self._buffer += chunk
        return True
