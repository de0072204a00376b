"""The frames a gateway and its worker exchange over the worker's stdin/stdout pipes.

A frame is a 12-byte header (three big-endian unsigned 32-bit lengths), then a JSON
``meta`` object, then a raw ``body`` (the event or the handler's JSON result), then raw
``logs``. Keeping payloads out of the JSON means they are never re-encoded.

Gateway → worker: ``{"type": "invoke", "request_id", "deadline_ms", "arn", "client_context"}``.
Worker → gateway: ``{"type": "ready"}``, ``{"type": "init_error", "error": {...}}`` or
``{"type": "result", "error": {...} | null, "duration_ms", "logs_dropped"}``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

__all__ = ["HEADER", "MAX_FRAME_PART", "decode_header", "encode_frame"]

HEADER = struct.Struct(">III")
# A sanity bound, far above any real payload (Lambda's own limit is 6 MB): a garbled header
# must not make the gateway try to allocate gigabytes.
MAX_FRAME_PART = 256 * 1024 * 1024


def encode_frame(meta: dict[str, Any], body: bytes = b"", logs: bytes = b"") -> bytes:
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode()
    return b"".join((HEADER.pack(len(meta_bytes), len(body), len(logs)), meta_bytes, body, logs))


def decode_header(header: bytes) -> tuple[int, int, int]:
    """The three part lengths; ValueError when any is beyond reason."""
    lengths: tuple[int, int, int] = HEADER.unpack(header)
    if max(lengths) > MAX_FRAME_PART:
        raise ValueError(f"frame part of {max(lengths)} bytes is over the limit")
    return lengths
