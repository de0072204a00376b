"""What ``lockgate jobs`` and ``lockgate invocations`` share: calling a running gateway's
operator APIs over HTTP and turning its answers into output and exit codes.

Exit codes: 0 done, 1 the thing asked about failed (a job run ended ``ERROR``, a run had
already finished, the gateway failed: 5xx), 2 bad input (a malformed option, no such job or
run, a refused token: 4xx), 3 the gateway is unreachable, 130 interrupted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich import box
from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

from lockgate.controllers.cli.token import TokenOption, resolve_token

__all__ = [
    "DEFAULT_URL",
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "Gateway",
    "GatewayError",
    "JsonOption",
    "TokenOption",
    "UrlOption",
    "ago",
    "fail",
    "gateway",
    "raise_for_error",
    "table",
    "when",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

DEFAULT_URL = "http://127.0.0.1:8000"
# A table's last column (a message) is never cut shorter than this, nor a name column.
_MIN_LAST, _MIN_FLEXIBLE = 12, 8
# Starting a job may wait for its runner (AWS retries throttling): give it time.
_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

UrlOption = Annotated[
    str, typer.Option("--url", envvar="LOCKGATE_URL", help="The gateway's base URL.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]


class GatewayError(Exception):
    """The gateway answered with an error: ``status``, its ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def fail(message: str, code: int) -> NoReturn:
    """``lockgate: <message>`` on stderr, then exit with ``code``."""
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def when(value: Any) -> str:
    """Unix seconds as local time; ``-`` for none."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return datetime.fromtimestamp(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Text]],
    width: int,
    *,
    right: Sequence[str] = (),
    flexible: Sequence[str] = (),
    folding: Sequence[str] = (),
) -> Table:
    """One line per row, every column whole but the last, cut with an ellipsis to what
    ``width`` leaves; when even that is not enough, the ``flexible`` ones are cut too and the
    ``folding`` ones (ids to copy: never cut) wrap onto more lines."""
    widths = [
        max(len(header), *(len(row[i].plain) for row in rows)) if rows else len(header)
        for i, header in enumerate(headers[:-1])
    ]
    # rich shrinks every column of a too-wide table, ids included; size them ourselves.
    spare = width - sum(widths) - 2 * len(widths)
    fits = spare >= _MIN_LAST
    grid = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True
    )
    for header, size in zip(headers[:-1], widths, strict=True):
        justify: JustifyMethod = "right" if header in right else "left"
        if fits or header not in (*flexible, *folding):
            grid.add_column(header, no_wrap=True, min_width=size, justify=justify)
        elif header in folding:
            grid.add_column(header, overflow="fold", min_width=_MIN_FLEXIBLE, justify=justify)
        else:  # rich shrinks the columns that may wrap: only these
            grid.add_column(
                header,
                no_wrap=False,
                overflow="ellipsis",
                min_width=min(size, _MIN_FLEXIBLE),
                justify=justify,
            )
    grid.add_column(
        headers[-1],
        no_wrap=True,
        overflow="ellipsis",
        min_width=_MIN_LAST,
        max_width=max(_MIN_LAST, spare),
    )
    for row in rows:
        grid.add_row(*row)
    return grid


def ago(value: Any) -> str:
    """Unix seconds as ``5s ago``, ``3m ago``, ``2h ago``, ``4d ago``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    seconds = max(0, int(time.time() - value))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


class Gateway:
    """Calls to one gateway; each answers the decoded JSON or raises ``GatewayError``
    (``httpx.TransportError`` when there is no answer)."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._http.request(method, path, params=query, json=body)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and data is not None:
            return data
        raise _error(response, data, f"{method} {path}")

    def send(
        self, method: str, path: str, *, content: bytes, headers: Mapping[str, str]
    ) -> httpx.Response:
        """The gateway's response to a raw request, success or not (the Lambda Invoke API
        answers a payload that need not be JSON, and its metadata in headers)."""
        return self._http.request(method, path, content=content, headers=headers)

    def stream(self, path: str, *, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Each line of a streamed NDJSON answer, decoded, as it arrives (no read timeout:
        a quiet stream is not a dead one)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        timeout = httpx.Timeout(None, connect=_TIMEOUT.connect)
        with self._http.stream("GET", path, params=query, timeout=timeout) as response:
            if not response.is_success:
                response.read()
                raise_for_error(response, f"GET {path}")
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)


def _error(response: httpx.Response, data: Any, request: str) -> GatewayError:
    """Lockgate's ``{"error": {"code", "message"}}``, or AWS's ``x-amzn-errortype`` and
    ``{"message"}`` (the Lambda API's), or the status and the start of the body."""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return GatewayError(response.status_code, str(error.get("code")), error["message"])
    aws_type = response.headers.get("x-amzn-errortype")
    if aws_type and isinstance(data, dict):
        message = data.get("message", data.get("Message"))
        if isinstance(message, str):
            return GatewayError(response.status_code, aws_type, f"{aws_type}: {message}")
    text = response.text.strip()[:200] or "no body"
    return GatewayError(
        response.status_code,
        "HTTPError",
        f"the gateway answered {response.status_code} to {request} ({text})",
    )


def raise_for_error(response: httpx.Response, request: str) -> None:
    """Raise the ``GatewayError`` a failed ``response`` (to ``request``) describes."""
    if response.is_success:
        return
    try:
        data = response.json()
    except ValueError:
        data = None
    raise _error(response, data, request)


@contextmanager
def gateway(
    url: str,
    token: str | None,
    *,
    conflict: int = EXIT_FAILED,
    timeout: httpx.Timeout = _TIMEOUT,
) -> Iterator[Gateway]:
    """A ``Gateway`` at ``url``; its errors become a message and an exit code (``conflict``
    for a 409)."""
    token = resolve_token(token, url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=timeout) as http:
            yield Gateway(http)
    except httpx.InvalidURL as exc:
        fail(f"--url {url!r} is not a URL: {exc}", EXIT_BAD_INPUT)
    except httpx.UnsupportedProtocol:
        fail(f"--url {url!r} must start with http:// or https://", EXIT_BAD_INPUT)
    except httpx.TransportError as exc:
        reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
        fail(
            f"cannot reach the gateway at {url} ({reason}); is `lockgate serve` running "
            "there? (--url or LOCKGATE_URL names another)",
            EXIT_UNREACHABLE,
        )
    except GatewayError as exc:
        message = exc.message
        if exc.status == 401:
            message += " (pass --token or set LOCKGATE_TOKEN)"
        if exc.status == 409:
            fail(message, conflict)
        fail(message, EXIT_BAD_INPUT if 400 <= exc.status < 500 else EXIT_FAILED)
