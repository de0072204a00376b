"""``lockgate invoke FUNCTION``: run a function once and print what it returned.

Through a running gateway it calls the AWS Lambda Invoke API with ``LogType=Tail``, as
``aws lambda invoke --log-type Tail`` does; with ``--local`` it needs no gateway: it builds
the function from the lockgate.toml, runs it in a real worker process, and stops, as
``sam local invoke`` does. Either way the result goes to stdout and the log tail (the last
4 KB the handler printed) to stderr.

Exit codes: 0 the handler returned, 1 it failed (raised, timed out, crashed), 2 bad input
(no such function, a bad event, a refused token), 3 the gateway is unreachable.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

import httpx
import typer

from lockgate.controllers.cli.gateway_client import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    TokenOption,
    UrlOption,
    fail,
    gateway,
    raise_for_error,
)

if TYPE_CHECKING:
    from lockgate.models.invocation import InvocationResult

__all__ = ["invoke"]

_LOG_TAIL_BYTES = 4096  # what the Lambda API's LogType=Tail returns
# No read timeout: the gateway holds the function to its own ``timeout``.
_NO_READ_LIMIT = httpx.Timeout(None, connect=10.0)

EventOption = Annotated[
    Path | None,
    typer.Option(
        "--event", "-e", help="A JSON file to pass as the event ('-': stdin).", show_default=False
    ),
]
PayloadOption = Annotated[
    str | None, typer.Option("--payload", "-p", help="The event as JSON text.")
]
LocalOption = Annotated[
    bool,
    typer.Option("--local", help="Run the function from the config, without a gateway."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="LOCKGATE_CONFIG",
        help="With --local: the lockgate.toml declaring the function (./lockgate.toml by default).",
    ),
]


def invoke(
    function: Annotated[str, typer.Argument(help="The function's name.")],
    *,
    event: EventOption = None,
    payload: PayloadOption = None,
    local: LocalOption = False,
    config: ConfigOption = None,
    url: UrlOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
) -> None:
    """Invoke a function once and print its result (and its log tail on stderr)."""
    body = _event(event, payload)
    if local:
        result = _run_locally(function, body, config)
        _print_local(result)
        return
    with gateway(url, token, timeout=_NO_READ_LIMIT) as client:
        path = f"/2015-03-31/functions/{quote(function, safe='')}/invocations"
        response = client.send(
            "POST",
            path,
            content=body,
            headers={"content-type": "application/json", "x-amz-log-type": "Tail"},
        )
        raise_for_error(response, f"POST {path}")
    tail = response.headers.get("x-amz-log-result")
    _print(
        response.content,
        base64.b64decode(tail) if tail else b"",
        failed=response.headers.get("x-amz-function-error") is not None,
    )


def _event(file: Path | None, payload: str | None) -> bytes:
    """The event as JSON bytes (``{}`` when none is given).

    Exits 2 when both or a bad one is given, naming the option (and the file)."""
    if file is not None and payload is not None:
        fail("give the event with --event FILE or --payload JSON, not both", EXIT_BAD_INPUT)
    if file is None:
        text, source = payload or "{}", "--payload"
    elif str(file) == "-":
        text, source = sys.stdin.read(), "--event - (stdin)"
    else:
        try:
            text, source = file.read_text(encoding="utf-8"), f"--event {file}"
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read --event {file}: {exc}", EXIT_BAD_INPUT)
    try:
        json.loads(text)
    except ValueError as exc:
        fail(f"{source} is not JSON: {exc}", EXIT_BAD_INPUT)
    return text.encode()


def _print(payload: bytes, logs: bytes, *, failed: bool) -> None:
    if logs:
        sys.stderr.write(logs.decode(errors="replace").rstrip("\n") + "\n")
        sys.stderr.flush()
    typer.echo(payload.decode(errors="replace"))
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _run_locally(function: str, body: bytes, config: Path | None) -> InvocationResult:
    """Build the function from ``config`` and run it once in a worker process."""
    from lockgate.bootstrap import build  # noqa: PLC0415
    from lockgate.config.settings import load_settings  # noqa: PLC0415
    from lockgate.errors import LockgateError  # noqa: PLC0415

    if config is None and not os.environ.get("LOCKGATE_CONFIG"):
        config = Path("lockgate.toml")
        if not config.is_file():
            fail(
                f"--local needs a config: no lockgate.toml in {Path.cwd()}; pass --config "
                "PATH or run it in a project's folder (lockgate init makes one)",
                EXIT_BAD_INPUT,
            )
    try:
        # Its output is printed once, as the log tail: not also as the gateway's log lines.
        settings, declared = load_settings(config, function_logs=False, access_log=False)
        if function not in declared.functions:
            known = ", ".join(sorted(declared.functions)) or "none"
            fail(
                f"no function {function!r} in {settings.config} (functions: {known})",
                EXIT_BAD_INPUT,
            )
        application = build(settings, declared)
    except LockgateError as exc:
        fail(exc.message, EXIT_BAD_INPUT)

    async def once() -> InvocationResult:
        try:
            return await application.invoker.invoke_function(function, body)
        finally:
            await application.stop()  # ends the worker process

    return asyncio.run(once())


def _print_local(result: InvocationResult) -> None:
    """As the gateway answers: a handler's error object is the payload; a failure that
    kept it from answering (a timeout, a crash, a failed init) becomes Lambda's."""
    failure = result.failure
    payload = result.payload or b""
    if failure is not None:
        error = {"errorMessage": failure.message, "errorType": failure.code}
        payload = json.dumps(error).encode()
    failed = failure is not None or result.function_error is not None
    _print(payload, result.logs[-_LOG_TAIL_BYTES:], failed=failed)
