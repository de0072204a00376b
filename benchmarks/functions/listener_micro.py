"""The hardened listener's own CPU per request, measured in-process where load noise is small.

The load runs of ``run.py --only listener`` compare the bare app on both protocols through
real sockets, but on a shared 2-core machine their spread (a few %) is larger than what is
measured. This script times what differs and nothing else: one protocol instance per kind
(uvicorn's stock ``HttpToolsProtocol``, Lockgate's ``HardenedHttpToolsProtocol`` with the
default limits) on an in-memory transport, fed the request wrk sends, one keep-alive request
after the other, with a minimal ASGI app. It reports the time spent in ``data_received``
(parsing and every parser callback, up to the app's task being created) and for the whole
request (the app's task and the response included), the minimum and median over rounds
that alternate the two kinds.

Run: ``.venv/bin/python benchmarks/functions/listener_micro.py [--rounds 15] [--requests 3000]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from lockgate.controllers.http.listener.limits import ListenerLimits
from lockgate.controllers.http.listener.protocol import HardenedHttpToolsProtocol, ListenerConfig

__all__ = ["MicroResult", "Timing", "measure"]

# What wrk sends for GET /echo/{name} (benchmarks/functions/run.py).
REQUEST = b"GET /echo/bench HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__({"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)})

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


async def _app(_scope: Any, _receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def _one_round(kind: str, requests: int) -> tuple[float, float]:
    """(µs in data_received, µs per whole request) for ``requests`` keep-alive requests."""
    config: uvicorn.Config
    if kind == "stock":
        config = uvicorn.Config(_app, http="httptools", log_config=None, proxy_headers=False)
        protocol_class: type[HttpToolsProtocol] = HttpToolsProtocol
    else:
        config = ListenerConfig(_app, limits=ListenerLimits(), log_config=None, proxy_headers=False)
        protocol_class = HardenedHttpToolsProtocol
    config.load()
    protocol = protocol_class(config, ServerState(), {}, asyncio.get_running_loop())
    protocol.connection_made(_Transport())
    clock = time.perf_counter
    parsing = 0.0
    started = clock()
    for _ in range(requests):
        before = clock()
        protocol.data_received(REQUEST)
        parsing += clock() - before
        await asyncio.sleep(0)  # the app's task runs and answers
        await asyncio.sleep(0)
    whole = clock() - started
    protocol.connection_lost(None)
    return parsing / requests * 1e6, whole / requests * 1e6


async def _measure(rounds: int, requests: int) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {"stock": [], "hardened": []}
    for kind in results:  # warm-up, unmeasured
        await _one_round(kind, requests)
    for _ in range(rounds):
        for kind, found in results.items():
            found.append(await _one_round(kind, requests))
    return results


@dataclass(frozen=True, slots=True)
class Timing:
    """µs per request over the rounds of one protocol."""

    parse_min: float
    parse_median: float
    whole_min: float
    whole_median: float


@dataclass(frozen=True, slots=True)
class MicroResult:
    rounds: int
    requests: int
    stock: Timing
    hardened: Timing

    @property
    def added_parse_us(self) -> float:
        """The listener's µs per request in parsing and callbacks (minimum over rounds)."""
        return self.hardened.parse_min - self.stock.parse_min

    @property
    def added_whole_us(self) -> float:
        """The listener's µs per whole request (minimum over rounds)."""
        return self.hardened.whole_min - self.stock.whole_min


def measure(rounds: int = 15, requests: int = 3000) -> MicroResult:
    """Both protocols, ``rounds`` alternating rounds of ``requests`` keep-alive GETs each
    (runs its own event loop)."""
    results = uvloop.run(_measure(rounds, requests))
    timings = {}
    for kind, found in results.items():
        parse = [p for p, _ in found]
        whole = [w for _, w in found]
        timings[kind] = Timing(
            min(parse), statistics.median(parse), min(whole), statistics.median(whole)
        )
    return MicroResult(rounds, requests, timings["stock"], timings["hardened"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=3000, help="per round and kind")
    args = parser.parse_args()
    result = measure(args.rounds, args.requests)
    print(f"{args.rounds} rounds x {args.requests} keep-alive GETs per protocol, µs per request")
    print(f"{'':10} {'parse min':>10} {'parse med':>10} {'whole min':>10} {'whole med':>10}")
    for kind, timing in (("stock", result.stock), ("hardened", result.hardened)):
        figures = (timing.parse_min, timing.parse_median, timing.whole_min, timing.whole_median)
        print(f"{kind:10} " + " ".join(f"{value:10.2f}" for value in figures))
    added = (
        result.added_parse_us,
        result.hardened.parse_median - result.stock.parse_median,
        result.added_whole_us,
        result.hardened.whole_median - result.stock.whole_median,
    )
    print(f"{'added':10} " + " ".join(f"{value:+10.2f}" for value in added))


if __name__ == "__main__":
    main()
