"""Closed-loop load: ``wrk`` when installed, else a Python fallback whose numbers are client-bound.

Both keep ``connections`` keep-alive connections busy for ``duration`` seconds and report
requests per second and latency percentiles of the requests they completed.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["LoadResult", "Request", "percentile", "run_load", "wrk_path"]

HOOKS = Path(__file__).with_name("wrk_hooks.lua")
_MARKER = "LOCKGATE_BENCH "
_WRK_TIMEOUT = "10s"


@dataclass(frozen=True, slots=True)
class Request:
    """What every request of a run is: a GET of ``url``, or a POST of ``body`` to it, with
    ``headers`` besides the load generator's own (a bearer token, a SigV4 signature)."""

    url: str
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LoadResult:
    """One closed-loop run at one concurrency."""

    connections: int
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int  # connect/read/write errors, timeouts and 4xx/5xx answers
    client: str  # "wrk" or "python"
    added_p50_ms: float | None = None  # X-Lockgate-Latency, when collected and present
    added_p99_ms: float | None = None


def wrk_path() -> str | None:
    return shutil.which("wrk")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0-100) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def run_load(
    request: Request,
    connections: int,
    duration: float,
    *,
    threads: int,
    use_wrk: bool,
    latency_header: bool = False,
) -> LoadResult:
    """Drive ``request`` at ``connections`` concurrency for ``duration`` seconds.

    ``latency_header`` also collects each response's ``X-Lockgate-Latency``.
    """
    if use_wrk:
        return _run_wrk(request, connections, duration, threads, latency_header)
    return asyncio.run(_run_python(request, connections, duration, latency_header))


def _header_ms(value: float) -> float | None:
    return None if value < 0 else value


def _run_wrk(
    request: Request, connections: int, duration: float, threads: int, latency_header: bool
) -> LoadResult:
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    argv = [
        wrk,
        f"--threads={min(threads, connections)}",
        f"--connections={connections}",
        f"--duration={max(1, round(duration))}s",
        f"--timeout={_WRK_TIMEOUT}",
        f"--script={HOOKS}",
        request.url,
    ]
    env = dict(
        os.environ,
        WRK_BODY=request.body or "",
        WRK_HEADERS="".join(f"{name}\t{value}\n" for name, value in request.headers),
        WRK_LATENCY_HEADER="1" if latency_header else "",
    )
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=duration + 30, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith(_MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    stats = json.loads(line.removeprefix(_MARKER))
    errors = sum(stats[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        connections=connections,
        requests=stats["requests"],
        requests_per_s=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=errors,
        client="wrk",
        added_p50_ms=_header_ms(stats["added_p50_ms"]),
        added_p99_ms=_header_ms(stats["added_p99_ms"]),
    )


@dataclass(slots=True)
class _Tally:
    latencies: list[float] = field(default_factory=list)
    added: list[float] = field(default_factory=list)
    errors: int = 0


async def _run_python(
    request: Request, connections: int, duration: float, latency_header: bool
) -> LoadResult:
    tally = _Tally()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(_python_loop(request, deadline, tally) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    added = tally.added if latency_header and tally.added else None
    return LoadResult(
        connections=connections,
        requests=len(tally.latencies),
        requests_per_s=len(tally.latencies) / elapsed,
        p50_ms=percentile(tally.latencies, 50),
        p99_ms=percentile(tally.latencies, 99),
        errors=tally.errors,
        client="python",
        added_p50_ms=percentile(added, 50) if added else None,
        added_p99_ms=percentile(added, 99) if added else None,
    )


def _raw_request(request: Request) -> tuple[str, int, bytes]:
    """Host, port and the bytes of one keep-alive HTTP/1.1 request."""
    url = urlsplit(request.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    lines = [
        f"{'GET' if request.body is None else 'POST'} {url.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
    ]
    body = (request.body or "").encode()
    if request.body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in request.headers]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _python_loop(request: Request, deadline: float, tally: _Tally) -> None:
    """One keep-alive connection, a request at a time (a minimal HTTP/1.1 client: httpx's
    pool is far slower than the servers under test at 64 connections)."""
    host, port, raw = _raw_request(request)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            writer.write(raw)
            status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            await reader.readexactly(int(headers.get("content-length", "0")))
            tally.latencies.append((time.perf_counter() - sent) * 1000)
            tally.errors += status >= 400
            if "x-lockgate-latency" in headers:
                tally.added.append(float(headers["x-lockgate-latency"]))
    except (OSError, asyncio.IncompleteReadError, ValueError):
        tally.errors += 1
    finally:
        writer.close()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers
