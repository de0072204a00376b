"""The hardened listener's side of the functions benchmark: what its limits cost.

The bare app is measured twice in the same run, on uvicorn's stock httptools protocol and on
Lockgate's hardened listener (``bare_app.py --listener hardened``), alternating for
``--rounds`` rounds: the two differ by the protocol alone. On a shared 2-core machine the
load runs spread by more than the listener costs, so the same run also times the two
protocols in-process (``listener_micro.py``), where the difference is measured to a fraction
of a µs. The target is stated against the route: "the listener's limits cost ≤ 3 % of
today's route throughput". The route's throughput is bound by the gateway process at one
core, so its cost is the listener's µs per request over the route's gateway CPU per request
(measured in the same run); the same µs over the bare app's is shown beside it, a stricter
reading (the bare app does less per request, so the same µs weigh more there).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from benchmarks.functions.listener_micro import MicroResult
from benchmarks.functions.report import Setup
from benchmarks.tables import Section

__all__ = [
    "LISTENER_COST",
    "LISTENER_LEGEND",
    "ListenerComparison",
    "ListenerRound",
    "listener_sections",
]

LISTENER_COST = 0.03  # of the route's throughput
LISTENER_LEGEND = [
    "listener rounds: the bare app on uvicorn's stock httptools protocol and on Lockgate's "
    "hardened listener (header/body deadlines, header meter, header count and Host checks, "
    "connection slots; default limits), same settings otherwise, one after the other (stock "
    "first in odd rounds, hardened first in even ones); "
    "hardened / stock is the throughput ratio at c=64, added µs the difference in the server "
    "process's CPU per request.",
    "listener cost on the route = the in-process added µs per whole request (minimum over "
    "rounds, both protocols timed alike) over the route's gateway CPU per request in the same "
    "run: the share of the route's throughput the listener takes, since the gateway process "
    "is the route's bottleneck at one core.",
]


@dataclass(frozen=True, slots=True)
class ListenerRound:
    """One round: each request shape on each protocol."""

    stock_get: Setup
    hardened_get: Setup
    stock_post: Setup
    hardened_post: Setup


@dataclass(frozen=True, slots=True)
class ListenerComparison:
    rounds: list[ListenerRound]
    micro: MicroResult  # the protocols' own CPU per request, in-process
    route: Setup | None  # Lockgate's route in the same run; None with --only listener


def _server_us(setup: Setup) -> float:
    assert setup.cpu is not None
    return setup.cpu.per_request_us(setup.c64.requests)[0]


def _ratio(hardened: Setup, stock: Setup) -> float:
    return hardened.c64.requests_per_s / stock.c64.requests_per_s


def _added_us(hardened: Setup, stock: Setup) -> float:
    return _server_us(hardened) - _server_us(stock)


def _pairs(comparison: ListenerComparison, shape: str) -> list[tuple[Setup, Setup]]:
    if shape == "GET":
        return [(r.hardened_get, r.stock_get) for r in comparison.rounds]
    return [(r.hardened_post, r.stock_post) for r in comparison.rounds]


def _rounds_section(comparison: ListenerComparison) -> Section:
    rows = []
    for shape in ("GET", "POST"):
        pairs = _pairs(comparison, shape)
        for index, (hardened, stock) in enumerate(pairs, 1):
            rows.append(
                [
                    f"bare {shape}, round {index}",
                    f"{stock.c64.requests_per_s:,.0f}",
                    f"{hardened.c64.requests_per_s:,.0f}",
                    f"{_ratio(hardened, stock):.3f}x",
                    f"{_server_us(stock):.1f}",
                    f"{_server_us(hardened):.1f}",
                    f"{_added_us(hardened, stock):+.1f}",
                    f"{stock.c1.p50_ms:.3f} / {hardened.c1.p50_ms:.3f}",
                ]
            )
        if len(pairs) > 1:
            rows.append(
                [
                    f"bare {shape}, median of {len(pairs)}",
                    f"{statistics.median(s.c64.requests_per_s for _, s in pairs):,.0f}",
                    f"{statistics.median(h.c64.requests_per_s for h, _ in pairs):,.0f}",
                    f"{statistics.median(_ratio(h, s) for h, s in pairs):.3f}x",
                    f"{statistics.median(_server_us(s) for _, s in pairs):.1f}",
                    f"{statistics.median(_server_us(h) for h, _ in pairs):.1f}",
                    f"{statistics.median(_added_us(h, s) for h, s in pairs):+.1f}",
                    "—",
                ]
            )
    headers = [
        "setup", "stock req/s c=64", "hardened req/s c=64", "hardened / stock",
        "stock server µs/req", "hardened server µs/req", "added µs/req",
        "p50 ms c=1 stock / hardened",
    ]  # fmt: skip
    return Section("The hardened listener against uvicorn's stock protocol", headers, rows)


def _micro_section(micro: MicroResult) -> Section:
    rows = [
        [
            kind,
            f"{timing.parse_min:.2f}",
            f"{timing.parse_median:.2f}",
            f"{timing.whole_min:.2f}",
            f"{timing.whole_median:.2f}",
        ]
        for kind, timing in (("stock", micro.stock), ("hardened", micro.hardened))
    ]
    rows.append(
        [
            "added",
            f"{micro.added_parse_us:+.2f}",
            f"{micro.hardened.parse_median - micro.stock.parse_median:+.2f}",
            f"{micro.added_whole_us:+.2f}",
            f"{micro.hardened.whole_median - micro.stock.whole_median:+.2f}",
        ]
    )
    headers = [
        "protocol", "parse µs, min", "parse µs, median", "whole request µs, min",
        "whole request µs, median",
    ]  # fmt: skip
    title = (
        f"The listener's own CPU per request, in-process ({micro.rounds} rounds x "
        f"{micro.requests} keep-alive GETs per protocol)"
    )
    return Section(title, headers, rows)


def _verdict_section(comparison: ListenerComparison) -> Section:
    micro = comparison.micro
    pairs = _pairs(comparison, "GET")
    stock_us = statistics.median(_server_us(s) for _, s in pairs)
    rows = []
    if comparison.route is not None:
        route_us = _server_us(comparison.route)
        cost = micro.added_whole_us / route_us
        rows.append(
            [
                "listener cost on the route's throughput",
                f"≤ {LISTENER_COST:.0%}",
                f"{cost:.1%} ({micro.added_whole_us:+.2f} µs of {route_us:.0f} µs of gateway "
                "CPU per route request)",
                "PASS" if cost <= LISTENER_COST else "MISS",
            ]
        )
    bare_cost = micro.added_whole_us / stock_us
    rows.append(
        [
            "listener cost on the bare app's throughput (stricter, for information)",
            f"≤ {LISTENER_COST:.0%}",
            f"{bare_cost:.1%} ({micro.added_whole_us:+.2f} µs of {stock_us:.0f} µs per bare GET)",
            "PASS" if bare_cost <= LISTENER_COST else "MISS",
        ]
    )
    ratio = statistics.median(_ratio(h, s) for h, s in pairs)
    rows.append(
        [
            "the load runs' own reading: median hardened / stock, bare GET c=64",
            "—",
            f"{ratio:.3f}x (rounds from {min(_ratio(h, s) for h, s in pairs):.3f}x to "
            f"{max(_ratio(h, s) for h, s in pairs):.3f}x)",
            "—",
        ]
    )
    return Section("Listener target", ["target", "goal", "measured", "verdict"], rows)


def listener_sections(comparison: ListenerComparison) -> list[Section]:
    """The load rounds, the in-process timing, then the verdict on the listener's target."""
    return [
        _rounds_section(comparison),
        _micro_section(comparison.micro),
        _verdict_section(comparison),
    ]
