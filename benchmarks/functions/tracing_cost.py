"""The tracing side of the functions benchmark (``--only tracing``): the route and the Invoke
API with ``[tracing]`` on beside the same gateway with it off, in one run.

Two gateways serve the benchmark's ``lockgate.toml`` (the warm echo pool of 8), one as it
is and one with ``[tracing] enabled = true, exporter = "none"``: every span is made, batched
and handed to an in-process exporter that drops it, so the cost measured is the gateway's
own (spans, attributes, propagation, the batch thread), not a collector's. They are measured
one after the other, ``--rounds`` times, the order alternating (off first in odd rounds), so
a drift in a shared machine's load weighs on both alike; the verdict is on the median of
the rounds' ratios. The issue's target: tracing on ≥ 0.85x of off, at c=64.
"""

from __future__ import annotations

import json
import shutil
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.functions.report import Setup
from benchmarks.tables import Section

__all__ = ["TRACING_LEGEND", "TRACING_RATIO", "TracingRound", "tracing_config", "tracing_sections"]

TRACING_RATIO = 0.85  # of tracing off's requests/s at c=64
TRACING_LEGEND = [
    "tracing rounds: the same gateway config served twice, as it is and with [tracing] "
    'enabled = true, exporter = "none" (spans made, batched and dropped in-process), one '
    "after the other (off first in odd rounds); on / off is the requests/s ratio at c=64 "
    "(median over rounds), gateway CPU µs the gateway process's CPU per request at c=64, "
    "c=1 added the difference in X-Lockgate-Latency p50. CPU on / off = the gateway "
    "process's CPU per request off over on: the requests/s ratio where that process is the "
    "bottleneck (a quiet machine); on a machine others keep busy, requests/s follow them more "
    "than the gateway, so both verdicts are shown.",
]


@dataclass(frozen=True, slots=True)
class TracingRound:
    """One round: the route and the Invoke API, tracing off and on."""

    route_off: Setup
    route_on: Setup
    invoke_off: Setup
    invoke_on: Setup


def tracing_config(
    source: Path, folder: Path, *, traced: bool, gateway: Mapping[str, object] | None = None
) -> Path:
    """``source`` (with its handlers beside it) in ``folder``, ``[tracing]`` added when
    ``traced`` (and ``gateway``'s settings as a ``[gateway]`` table): the two gateways
    differ by that table alone."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(source.parent / "handlers.py", folder / "handlers.py")
    text = source.read_text()
    if gateway:
        settings = "".join(f"{key} = {json.dumps(value)}\n" for key, value in gateway.items())
        text = f"[gateway]\n{settings}\n{text}"
    if traced:
        text += '\n[tracing]\nenabled = true\nexporter = "none"\n'
    path = folder / "lockgate.toml"
    path.write_text(text)
    return path


def _ratio(off: Setup, on: Setup) -> float:
    return on.c64.requests_per_s / off.c64.requests_per_s if off.c64.requests_per_s else 0.0


def _cpu_ratio(off: Setup, on: Setup) -> float:
    """Off's gateway CPU per request over on's: the throughput ratio where the gateway
    process is the bottleneck (a quiet machine), whatever else shares the cores."""
    return _server_us(off) / _server_us(on)


def _server_us(setup: Setup) -> float:
    return setup.cpu.per_request_us(setup.c64.requests)[0] if setup.cpu else float("nan")


def _added_c1_ms(off: Setup, on: Setup) -> str:
    if off.header is None or on.header is None:
        return "-"
    return f"{on.header.added_p50_ms - off.header.added_p50_ms:+.3f}"


_HEADERS = [
    "setup",
    "off req/s c=64",
    "on req/s c=64",
    "on / off",
    "gateway CPU µs off",
    "on",
    "CPU on / off",
    "c=1 added ms",
]
_SHAPES: tuple[tuple[str, Callable[[TracingRound], tuple[Setup, Setup]]], ...] = (
    ("route GET /echo/{name}", lambda r: (r.route_off, r.route_on)),
    ("Invoke API", lambda r: (r.invoke_off, r.invoke_on)),
)


def tracing_sections(rounds: list[TracingRound]) -> list[Section]:
    """Each round's figures, then the verdict on the median ratio per request shape."""
    rows = []
    for index, one in enumerate(rounds, 1):
        for label, pick in _SHAPES:
            off, on = pick(one)
            rows.append(
                [
                    f"round {index}: {label}",
                    f"{off.c64.requests_per_s:,.0f}",
                    f"{on.c64.requests_per_s:,.0f}",
                    f"{_ratio(off, on):.3f}",
                    f"{_server_us(off):.0f}",
                    f"{_server_us(on):.0f}",
                    f"{_cpu_ratio(off, on):.3f}",
                    _added_c1_ms(off, on),
                ]
            )
    verdicts = []
    for label, pick in _SHAPES:
        ratio = statistics.median(_ratio(*pick(one)) for one in rounds)
        cpu = statistics.median(_cpu_ratio(*pick(one)) for one in rounds)
        verdicts.append(
            [
                label,
                f"{ratio:.3f}",
                "PASS" if ratio >= TRACING_RATIO else "MISS",
                f"{cpu:.3f}",
                "PASS" if cpu >= TRACING_RATIO else "MISS",
            ]
        )
    return [
        Section(
            "Tracing on (exporter none) beside off, one gateway each, same run",
            _HEADERS,
            rows,
        ),
        Section(
            "Tracing verdict (median over rounds)",
            ["setup", "req/s on / off", f"≥ {TRACING_RATIO}", "CPU on / off", f"≥ {TRACING_RATIO}"],
            verdicts,
        ),
    ]
