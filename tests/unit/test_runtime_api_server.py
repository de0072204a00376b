"""The Runtime API server's HTTP handling, spoken to byte by byte over loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lockgate.gateways.workers.runtime_api.output import OutputTail, runs_after
from lockgate.gateways.workers.runtime_api.server import (
    MAX_BODY_BYTES,
    RuntimeApiServer,
    RuntimeReply,
)
from lockgate.models.invocation import HandlerError, WorkerInvocation
from tests.support import eventually

LIMIT = 1024
RUNTIME = "/2018-06-01/runtime"
NEXT = f"{RUNTIME}/invocation/next"
Response = tuple[int, dict[str, str], bytes]


@pytest.fixture
async def server() -> AsyncIterator[RuntimeApiServer]:
    server = RuntimeApiServer(max_body_bytes=LIMIT)
    await server.start()
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()


async def connect(server: RuntimeApiServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = server.address.split(":")
    return await asyncio.open_connection(host, int(port))


def request(method: str, path: str, body: bytes = b"", *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: runtime", *headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> Response:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for line in lines:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def exchange(server: RuntimeApiServer, raw: bytes) -> Response:
    reader, writer = await connect(server)
    try:
        writer.write(raw)
        return await read_response(reader)
    finally:
        writer.close()


def invocation(request_id: str = "req-1", **changes: Any) -> WorkerInvocation:
    values: dict[str, Any] = {
        "request_id": request_id,
        "payload": b'{"hello": "world"}',
        "deadline_epoch_ms": 1_700_000_000_123,
        "invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:f:live",
    }
    values.update(changes)
    return WorkerInvocation(**values)


async def poll(
    server: RuntimeApiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> Response:
    """GET /next and wait until it has been answered."""
    writer.write(request("GET", NEXT))
    return await read_response(reader)


async def test_next_hands_out_the_event_with_the_lambda_headers(server: RuntimeApiServer) -> None:
    context = base64.b64encode(json.dumps({"custom": {"k": "é"}}).encode()).decode()
    reader, writer = await connect(server)
    writer.write(request("GET", NEXT))
    assert await server.started is None  # the first poll is the runtime saying it is ready
    reply = server.submit(invocation(client_context=context))
    status, headers, body = await read_response(reader)
    assert status == 200
    assert body == b'{"hello": "world"}'
    assert headers["lambda-runtime-aws-request-id"] == "req-1"
    assert headers["lambda-runtime-deadline-ms"] == "1700000000123"
    assert headers["lambda-runtime-invoked-function-arn"].endswith(":function:f:live")
    assert re.fullmatch(
        r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0",
        headers["lambda-runtime-trace-id"],
    )
    assert json.loads(headers["lambda-runtime-client-context"]) == {"custom": {"k": "é"}}
    assert headers["content-type"] == "application/json"
    assert server.handed_out
    assert not reply.done()
    writer.close()


async def test_one_connection_carries_poll_after_answer(server: RuntimeApiServer) -> None:
    reader, writer = await connect(server)
    for n in range(3):
        next_event = asyncio.ensure_future(poll(server, reader, writer))
        await server.started
        reply = server.submit(invocation(f"req-{n}", payload=f'{{"n": {n}}}'.encode()))
        status, headers, body = await next_event
        assert (status, body) == (200, f'{{"n": {n}}}'.encode())
        assert "connection" not in headers
        writer.write(request("POST", f"{RUNTIME}/invocation/req-{n}/response", b'"done"'))
        status, _, body = await read_response(reader)
        assert (status, json.loads(body)) == (202, {"status": "OK"})
        answer = await reply
        assert answer.payload == b'"done"'
        assert answer.error is None
        assert answer.duration_ms >= 0
    writer.close()


async def handed_out(
    server: RuntimeApiServer, request_id: str = "req-1"
) -> tuple[asyncio.Future[RuntimeReply], asyncio.StreamReader, asyncio.StreamWriter]:
    """An invocation handed to a runtime over a fresh connection, not yet answered."""
    reader, writer = await connect(server)
    reply = server.submit(invocation(request_id))
    status, _, _ = await poll(server, reader, writer)
    assert status == 200
    return reply, reader, writer


async def test_a_chunked_body_is_reassembled(server: RuntimeApiServer) -> None:
    reply, reader, writer = await handed_out(server)
    writer.write(
        f"POST {RUNTIME}/invocation/req-1/response HTTP/1.1\r\nHost: r\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    for piece in (b'{"part": ', b'"one', b' and two"}'):
        writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    status, _, _ = await read_response(reader)
    assert status == 202
    assert (await reply).payload == b'{"part": "one and two"}'
    writer.close()


async def test_expect_100_continue_is_honoured(server: RuntimeApiServer) -> None:
    reply, reader, writer = await handed_out(server)
    writer.write(
        request(
            "POST", f"{RUNTIME}/invocation/req-1/response", b"", "Expect: 100-continue"
        ).replace(b"Content-Length: 0", b"Content-Length: 4")
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100 ")
    writer.write(b"true")
    assert (await read_response(reader))[0] == 202
    assert (await reply).payload == b"true"
    writer.close()


async def test_an_unknown_or_stale_request_id_is_rejected(server: RuntimeApiServer) -> None:
    reply, reader, writer = await handed_out(server)
    writer.write(request("POST", f"{RUNTIME}/invocation/other/response", b'"wrong"'))
    status, _, body = await read_response(reader)
    assert (status, json.loads(body)["errorType"]) == (400, "InvalidRequestID")
    assert not reply.done()  # nothing recorded; the connection stays usable
    writer.write(request("POST", f"{RUNTIME}/invocation/req-1/response", b'"right"'))
    assert (await read_response(reader))[0] == 202
    assert (await reply).payload == b'"right"'
    writer.write(request("POST", f"{RUNTIME}/invocation/req-1/error", b"{}"))
    status, _, body = await read_response(reader)
    assert (status, json.loads(body)["errorType"]) == (400, "InvalidRequestID")
    writer.close()


async def test_a_post_before_any_event_is_rejected(server: RuntimeApiServer) -> None:
    status, _, body = await exchange(
        server, request("POST", f"{RUNTIME}/invocation/req-1/response", b"{}")
    )
    assert (status, json.loads(body)["errorType"]) == (400, "InvalidRequestID")


async def test_an_error_post_becomes_a_handler_error(server: RuntimeApiServer) -> None:
    reply, reader, writer = await handed_out(server)
    error = {"errorMessage": "boom", "errorType": "KeyError", "stackTrace": ["a", "b"]}
    writer.write(
        request(
            "POST",
            f"{RUNTIME}/invocation/req-1/error",
            json.dumps(error).encode(),
            "Lambda-Runtime-Function-Error-Type: Unhandled",
        )
    )
    assert (await read_response(reader))[0] == 202
    answer = await reply
    assert answer.payload == b""
    assert answer.error == HandlerError("boom", "KeyError", ("a", "b"))
    writer.close()


async def test_a_non_json_error_body_keeps_its_text_and_header_type(
    server: RuntimeApiServer,
) -> None:
    reply, reader, writer = await handed_out(server)
    writer.write(
        request(
            "POST",
            f"{RUNTIME}/invocation/req-1/error",
            b"segfault in libfoo",
            "Lambda-Runtime-Function-Error-Type: Runtime.Crash",
        )
    )
    assert (await read_response(reader))[0] == 202
    assert (await reply).error == HandlerError("segfault in libfoo", "Runtime.Crash")
    writer.close()


async def test_init_error_is_accepted_once_before_the_first_poll(
    server: RuntimeApiServer,
) -> None:
    body = b'{"errorMessage": "no config", "errorType": "Runtime.ConfigError"}'
    status, _, answer = await exchange(server, request("POST", f"{RUNTIME}/init/error", body))
    assert (status, json.loads(answer)) == (202, {"status": "OK"})
    assert await server.started == HandlerError("no config", "Runtime.ConfigError")
    status, _, answer = await exchange(server, request("POST", f"{RUNTIME}/init/error", body))
    assert (status, json.loads(answer)["errorType"]) == (403, "InvalidStateTransition")


async def test_a_second_poll_while_an_event_is_in_flight_is_refused(
    server: RuntimeApiServer,
) -> None:
    reply, _, writer = await handed_out(server)
    status, _, body = await exchange(server, request("GET", NEXT))
    assert (status, json.loads(body)["errorType"]) == (403, "InvalidStateTransition")
    assert not reply.done()
    with pytest.raises(RuntimeError, match="in flight"):
        server.submit(invocation("req-2"))
    writer.close()


async def test_wrong_paths_and_methods(server: RuntimeApiServer) -> None:
    status, _, body = await exchange(server, request("GET", "/2018-06-01/runtime/nope"))
    assert (status, json.loads(body)["errorType"]) == (404, "NotFound")
    status, headers, _ = await exchange(server, request("POST", NEXT, b"{}"))
    assert (status, headers["allow"]) == (405, "GET")
    status, headers, _ = await exchange(server, request("GET", f"{RUNTIME}/invocation/x/response"))
    assert (status, headers["allow"]) == (405, "POST")
    status, headers, _ = await exchange(server, request("PUT", f"{RUNTIME}/init/error", b"{}"))
    assert (status, headers["allow"]) == (405, "POST")


async def test_a_bad_request_line_gets_400_and_the_server_keeps_serving(
    server: RuntimeApiServer,
) -> None:
    reader, writer = await connect(server)
    writer.write(b"\x16\x03\x01 this is not http\r\n\r\n")
    status, headers, _ = await read_response(reader)
    assert (status, headers["connection"]) == (400, "close")
    assert await reader.read() == b""  # closed
    writer.close()
    status, _, _ = await exchange(server, request("GET", "/elsewhere"))
    assert status == 404


async def test_a_malformed_chunk_gets_400(server: RuntimeApiServer) -> None:
    reply, reader, writer = await handed_out(server)
    writer.write(
        f"POST {RUNTIME}/invocation/req-1/response HTTP/1.1\r\nHost: r\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n".encode()
    )
    assert (await read_response(reader))[0] == 400
    assert not reply.done()
    writer.close()


async def test_an_oversized_response_fails_the_invocation_with_413(
    server: RuntimeApiServer,
) -> None:
    reply, reader, writer = await handed_out(server)
    # Declared too large: refused before a byte of the body is read.
    writer.write(
        f"POST {RUNTIME}/invocation/req-1/response HTTP/1.1\r\nHost: r\r\n"
        f"Content-Length: {LIMIT + 1}\r\n\r\n".encode()
    )
    status, headers, body = await read_response(reader)
    assert (status, headers["connection"]) == (413, "close")
    assert json.loads(body)["errorType"] == "RequestEntityTooLarge"
    answer = await reply
    assert answer.error is not None
    assert answer.error.error_type == "Function.ResponseSizeTooLarge"
    writer.close()


async def test_an_oversized_chunked_body_gets_413(server: RuntimeApiServer) -> None:
    reader, writer = await connect(server)
    chunk = b"x" * 600
    writer.write(
        b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: r\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        * 2
    )
    assert (await read_response(reader))[0] == 413
    assert not server.started.done()  # nothing recorded
    writer.close()


async def test_the_default_limit_is_lambdas_payload_limit() -> None:
    assert MAX_BODY_BYTES == 6 * 1024 * 1024 + 100
    server = RuntimeApiServer()
    await server.start()
    try:
        status, _, _ = await exchange(
            server,
            f"POST {RUNTIME}/init/error HTTP/1.1\r\nHost: r\r\n"
            f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode(),
        )
        assert status == 413
    finally:
        server.close()
        await server.wait_closed()


async def test_a_client_that_hangs_up_mid_body_costs_nothing(server: RuntimeApiServer) -> None:
    reply, _, writer = await handed_out(server)
    writer.write(
        f"POST {RUNTIME}/invocation/req-1/response HTTP/1.1\r\nHost: r\r\n"
        "Content-Length: 100\r\n\r\nonly part".encode()
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    assert not reply.done()
    reader2, writer2 = await connect(server)
    writer2.write(request("POST", f"{RUNTIME}/invocation/req-1/response", b"1"))
    assert (await read_response(reader2))[0] == 202
    assert (await reply).payload == b"1"
    writer2.close()


async def test_abort_fails_whoever_waits(server: RuntimeApiServer) -> None:
    reply = server.submit(invocation())
    server.abort()
    with pytest.raises(Exception, match="exited"):
        await reply
    with pytest.raises(Exception, match="exited"):
        await server.started
    assert not server.handed_out


@pytest.mark.parametrize(
    ("runs", "skipped", "left"),
    [
        ([1, 10, 2, 5], 0, [1, 10, 2, 5]),
        ([1, 10, 2, 5], 4, [1, 6, 2, 5]),
        ([1, 10, 2, 5], 10, [2, 5]),
        ([1, 10, 2, 5], 12, [2, 3]),
        ([1, 10, 2, 5], 15, []),
        ([1, 10, 2, 5], 99, []),
    ],
)
def test_runs_after_cuts_the_bytes_handed_on_already(
    runs: list[int], skipped: int, left: list[int]
) -> None:
    assert runs_after(runs, skipped) == left


async def test_live_output_without_line_breaks_goes_on_in_pieces_of_the_limit() -> None:
    """A runtime writing with no line break (a progress bar) cannot make the gateway hold
    its output without bound: past the tail's limit, what waits goes on as it is."""
    tail = OutputTail(16)
    stdout = os.dup(tail.stdout_fd)
    handed: list[bytes] = []
    try:
        tail.attach()
        tail.arm(lambda _runs, data: handed.append(data))
        tail.clear()  # the event's handout
        os.write(stdout, b"#" * 40)
        await eventually(lambda: sum(map(len, handed)) >= 16)
        assert all(b"\n" not in piece for piece in handed)
        taken = tail.take_runs()
        assert taken.live == len(taken.data) - (40 - sum(map(len, handed)))
    finally:
        os.close(stdout)
        tail.close()
