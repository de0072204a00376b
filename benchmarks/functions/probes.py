"""Sequential probes: the gateway-added latency header, cold starts, and spawning Python.

These run one request at a time from a keep-alive ``httpx.Client``: the client is slow next
to wrk, but the numbers taken here are either measured by the server (``X-Lockgate-Latency``)
or much larger than the client's own cost (cold starts).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from benchmarks.functions.loadgen import Request, percentile

__all__ = [
    "ColdStart",
    "HeaderProbe",
    "PairedProbe",
    "cold_starts",
    "header_latency",
    "paired_added_us",
    "spawn_python_ms",
    "untouched",
]

LATENCY_HEADER = "x-lockgate-latency"


@dataclass(frozen=True, slots=True)
class HeaderProbe:
    """``X-Lockgate-Latency`` percentiles at concurrency 1, beside what the client saw."""

    samples: int
    added_p50_ms: float
    added_p99_ms: float
    client_p50_ms: float
    client_p99_ms: float


@dataclass(frozen=True, slots=True)
class ColdStart:
    """First calls of never-called functions: what the client waited, what the header said."""

    client_ms: list[float]
    header_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.client_ms)


def _send(client: httpx.Client, request: Request) -> httpx.Response:
    headers = dict(request.headers)
    if request.body is None:
        response = client.get(request.url, headers=headers)
    else:
        headers["content-type"] = "application/json"
        response = client.post(request.url, content=request.body, headers=headers)
    if response.status_code != 200 or response.headers.get("x-amz-function-error"):
        raise RuntimeError(
            f"{request.url} answered {response.status_code}: {response.text[:300]!r}"
        )
    return response


def _added_ms(response: httpx.Response) -> float:
    value = response.headers.get(LATENCY_HEADER)
    if value is None:
        raise RuntimeError(f"{response.request.url} answered without {LATENCY_HEADER}")
    return float(value)


def header_latency(request: Request, samples: int, warmup: int) -> HeaderProbe:
    """``samples`` sequential requests after ``warmup`` unmeasured ones."""
    added: list[float] = []
    seen: list[float] = []
    with httpx.Client(timeout=10.0) as client:
        for _ in range(warmup):
            _send(client, request)
        for _ in range(samples):
            sent = time.perf_counter()
            response = _send(client, request)
            seen.append((time.perf_counter() - sent) * 1000)
            added.append(_added_ms(response))
    return HeaderProbe(
        samples=samples,
        added_p50_ms=percentile(added, 50),
        added_p99_ms=percentile(added, 99),
        client_p50_ms=percentile(seen, 50),
        client_p99_ms=percentile(seen, 99),
    )


@dataclass(frozen=True, slots=True)
class PairedProbe:
    """What one request shape adds over another, sent in turns at concurrency 1."""

    pairs: int
    first_p50_us: float  # X-Lockgate-Latency of the first shape
    second_p50_us: float
    added_us: float  # the median of each pair's difference, second minus first


def paired_added_us(first: Request, second: Request, pairs: int, warmup: int) -> PairedProbe:
    """``X-Lockgate-Latency`` of ``second`` over ``first``: one of each in turn, each on its
    own keep-alive connection, ``pairs`` times after ``warmup`` unmeasured pairs. Both see
    the same moments of a shared machine, so its drift and its neighbours' bursts weigh on
    both alike; the median of the differences keeps the rest out."""
    firsts: list[float] = []
    seconds: list[float] = []
    with httpx.Client(timeout=10.0) as one, httpx.Client(timeout=10.0) as other:
        for index in range(warmup + pairs):
            a = _added_ms(_send(one, first)) * 1000
            b = _added_ms(_send(other, second)) * 1000
            if index >= warmup:
                firsts.append(a)
                seconds.append(b)
    return PairedProbe(
        pairs=pairs,
        first_p50_us=statistics.median(firsts),
        second_p50_us=statistics.median(seconds),
        added_us=statistics.median(b - a for a, b in zip(firsts, seconds, strict=True)),
    )


def untouched(base_url: str, names: Iterable[str]) -> None:
    """Raise unless every function in ``names`` has no worker and never had a cold start."""
    functions = httpx.get(f"{base_url}/health", timeout=10.0).json()["functions"]
    for name in names:
        pool = functions[name]
        if pool["warm"] + pool["busy"] + pool["starting"] or pool["cold_starts"]:
            raise RuntimeError(f"function {name!r} is not cold: {pool}")


def cold_starts(base_url: str, names: Iterable[str], body: str) -> ColdStart:
    """Invoke each function once, in turn, through the Invoke API."""
    client_ms: list[float] = []
    header_ms: list[float] = []
    with httpx.Client(timeout=60.0) as client:
        client.get(f"{base_url}/healthz")  # open the keep-alive connection first
        for name in names:
            request = Request(f"{base_url}/2015-03-31/functions/{name}/invocations", body)
            sent = time.perf_counter()
            response = _send(client, request)
            client_ms.append((time.perf_counter() - sent) * 1000)
            header_ms.append(_added_ms(response))
    return ColdStart(client_ms=client_ms, header_ms=header_ms)


def spawn_python_ms(runs: int) -> list[float]:
    """Wall time of ``python -c pass`` (this interpreter, as workers use), after one warm-up."""
    argv = [sys.executable, "-c", "pass"]
    subprocess.run(argv, check=True)
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times
