"""Turns the measurements into tables and target verdicts, printed with rich and as Markdown
(with the tables of other modules, such as the custom-runtime comparison, beside them)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from benchmarks.functions.cpu import CpuUse
from benchmarks.functions.loadgen import LoadResult
from benchmarks.functions.probes import ColdStart, HeaderProbe
from benchmarks.tables import Section, markdown_table, print_sections
from rich.console import Console
from rich.markup import escape

__all__ = ["LEGEND", "Results", "Setup", "print_report", "sections", "to_markdown"]

THROUGHPUT_RATIO = 0.5
ADDED_P50_MS = 0.5
ADDED_P99_MS = 2.0
COLD_START_MS = 150.0
WORKER_RSS_MIB = 30.0
LEGEND = [
    "bare rows are the physical limit of the HTTP stack: the same request shapes answered by a "
    "bare Starlette app on uvicorn with Lockgate's server settings (uvloop, httptools, 1 process, "
    "no access log).",
    "bare + hop rows are the physical limit of one warm process per in-flight invocation: the "
    "same app, but each request is answered by one of 8 warm worker processes (one request at a "
    "time each, waiting requests served first come first served) through a length-prefixed "
    "JSON frame over the worker's stdin/stdout pipes; none of Lockgate's features.",
    "vs bare c=64 and vs bare + hop c=64 = the setup's requests/s over that reference's, same "
    "request shape, c=64. The official throughput target is against bare.",
    "CPU per request = CPU seconds used during the c=64 run over the requests it completed: the "
    "server process and its worker processes from utime + stime in /proc/PID/stat, the load "
    "generator (wrk and run.py) from getrusage, the whole machine (every core, everyone, kernel "
    "included) from /proc/stat.",
    "gateway-added = X-Lockgate-Latency, the gateway's time minus the handler's own; the "
    "verdicts use the sequential httpx probe (a request at a time after a warm-up, idle "
    "between requests), beside it the same header collected by wrk during the c=1 run.",
    "RSS is VmRSS from /proc/PID/status in MiB; cold start is the client's wall time of the "
    "first Invoke API call of a min_warm = 0 function, worker start and import included.",
]


@dataclass(frozen=True, slots=True)
class Setup:
    """One server and request shape, measured at concurrency 1 and 64."""

    label: str
    c1: LoadResult
    c64: LoadResult
    header: HeaderProbe | None = None  # Lockgate only
    cpu: CpuUse | None = None  # during the c=64 run

    @property
    def errors(self) -> int:
        return self.c1.errors + self.c64.errors


@dataclass(frozen=True, slots=True)
class Results:
    """Everything one run measured."""

    machine: dict[str, str]
    bare_get: Setup
    bare_post: Setup
    hop_get: Setup
    hop_post: Setup
    route: Setup
    invoke: Setup
    jwt_route: Setup  # the route behind a JWT authorizer, same gateway
    sigv4_invoke: Setup  # the Invoke API signed with SigV4, same gateway
    cold: ColdStart
    spawn_ms: list[float]
    gateway_rss_ready_mib: float
    gateway_rss_loaded_mib: float
    worker_rss_mib: list[float]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Verdict:
    target: str
    goal: str
    measured: str
    ratio: float  # measured / goal
    passed: bool
    beside: str = "—"  # the same measure against the process-hop limit, where it applies


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _rps(value: float) -> str:
    return f"{value:,.0f}"


@dataclass(frozen=True, slots=True)
class _Row:
    """A setup with the references of its request shape (None where it is one itself)."""

    setup: Setup
    bare: Setup
    hop: Setup | None


def _rows(results: Results) -> list[_Row]:
    return [
        _Row(results.bare_get, results.bare_get, None),
        _Row(results.hop_get, results.bare_get, results.hop_get),
        _Row(results.route, results.bare_get, results.hop_get),
        _Row(results.jwt_route, results.bare_get, results.hop_get),
        _Row(results.bare_post, results.bare_post, None),
        _Row(results.hop_post, results.bare_post, results.hop_post),
        _Row(results.invoke, results.bare_post, results.hop_post),
        _Row(results.sigv4_invoke, results.bare_post, results.hop_post),
    ]


def _vs(setup: Setup, reference: Setup | None) -> str:
    if reference is None:
        return "—"
    return f"{setup.c64.requests_per_s / reference.c64.requests_per_s:.2f}x"


def _throughput_section(results: Results) -> Section:
    rows = [
        [
            row.setup.label,
            _rps(row.setup.c1.requests_per_s),
            _ms(row.setup.c1.p50_ms),
            _ms(row.setup.c1.p99_ms),
            _rps(row.setup.c64.requests_per_s),
            _ms(row.setup.c64.p50_ms),
            _ms(row.setup.c64.p99_ms),
            _vs(row.setup, row.bare),
            _vs(row.setup, row.hop),
            str(row.setup.errors),
        ]
        for row in _rows(results)
    ]
    headers = [
        "setup", "req/s c=1", "p50 c=1", "p99 c=1", "req/s c=64", "p50 c=64", "p99 c=64",
        "vs bare c=64", "vs bare + hop c=64", "errors",
    ]  # fmt: skip
    return Section("Throughput and latency (latencies in ms)", headers, rows)


def _cpu_section(results: Results) -> Section:
    rows = []
    for row in _rows(results):
        cpu = row.setup.cpu
        if cpu is None:
            continue
        server, workers, client, machine = cpu.per_request_us(row.setup.c64.requests)
        rows.append(
            [
                row.setup.label,
                f"{server:.0f}",
                f"{workers:.0f} ({cpu.workers})" if cpu.workers else "—",
                f"{server + workers:.0f}",
                f"{client:.0f}",
                f"{machine:.0f}",
                f"{cpu.server_s / cpu.wall_s:.2f} / {cpu.machine_s / cpu.wall_s:.2f}",
            ]
        )
    headers = [
        "setup",
        "server process",
        "workers (how many)",
        "server + workers",
        "load generator",
        "whole machine",
        "cores busy: server / machine",
    ]
    return Section("CPU per request at c=64 (µs)", headers, rows)


def _optional_ms(value: float | None) -> str:
    return "—" if value is None else _ms(value)


def _added_section(results: Results) -> Section:
    rows = []
    for row in _rows(results):
        setup = row.setup
        if setup.header is None or row.hop is None:
            continue
        rows.append(
            [
                setup.label,
                _ms(setup.header.added_p50_ms),
                _ms(setup.header.added_p99_ms),
                _optional_ms(setup.c1.added_p50_ms),
                _optional_ms(setup.c1.added_p99_ms),
                _ms(setup.c1.p50_ms - row.bare.c1.p50_ms),
                _ms(setup.c1.p50_ms - row.hop.c1.p50_ms),
            ]
        )
    headers = [
        "setup",
        "p50, sequential httpx",
        "p99, sequential httpx",
        "p50, during the c=1 load run",
        "p99, during the c=1 load run",
        "end-to-end p50 minus bare p50, c=1",
        "end-to-end p50 minus bare + hop p50, c=1",
    ]
    return Section("Gateway-added latency at c=1 (X-Lockgate-Latency, ms)", headers, rows)


def _cold_and_memory_section(results: Results) -> Section:
    cold, spawn = results.cold.median_ms, statistics.median(results.spawn_ms)
    workers = results.worker_rss_mib
    rows = [
        [
            f"cold start, median of {len(results.cold.client_ms)} never-called functions",
            f"{cold:.1f} ms (min {min(results.cold.client_ms):.1f}, "
            f"max {max(results.cold.client_ms):.1f}; X-Lockgate-Latency median "
            f"{statistics.median(results.cold.header_ms):.1f})",
            f"{spawn:.1f} ms (`python -c pass`, median of {len(results.spawn_ms)})",
            f"{cold / spawn:.2f}x",
        ],
        [
            "gateway process RSS (ready / after the load runs)",
            f"{results.gateway_rss_ready_mib:.1f} / {results.gateway_rss_loaded_mib:.1f} MiB",
            "—",
            "—",
        ],
        [
            f"idle worker RSS (median / max of {len(workers)})",
            f"{statistics.median(workers):.1f} / {max(workers):.1f} MiB",
            "—",
            "—",
        ],
    ]
    return Section("Cold start and memory", ["metric", "Lockgate", "physical limit", "ratio"], rows)


def _at_most(target: str, measured: float, goal: float, unit: str) -> _Verdict:
    shown = f"{_ms(measured)} {unit}" if unit == "ms" else f"{measured:.1f} {unit}"
    return _Verdict(target, f"≤ {goal:g} {unit}", shown, measured / goal, measured <= goal)


def _ratio_of(setup: Setup, reference: Setup) -> str:
    ratio = setup.c64.requests_per_s / reference.c64.requests_per_s
    return f"{ratio:.2f}x ({_rps(setup.c64.requests_per_s)} / {_rps(reference.c64.requests_per_s)})"


def _at_least_ratio(target: str, lockgate: Setup, bare: Setup, hop: Setup) -> _Verdict:
    """The official verdict is against the bare app; the process-hop ratio is shown beside it."""
    ratio = lockgate.c64.requests_per_s / bare.c64.requests_per_s
    return _Verdict(
        target,
        f"≥ {THROUGHPUT_RATIO:g}x bare",
        _ratio_of(lockgate, bare),
        ratio / THROUGHPUT_RATIO,
        ratio >= THROUGHPUT_RATIO,
        beside=_ratio_of(lockgate, hop),
    )


def _verdicts(results: Results) -> list[_Verdict]:
    verdicts = [
        _at_least_ratio("route throughput, c=64", results.route, results.bare_get, results.hop_get),
        _at_least_ratio(
            "Invoke API throughput, c=64", results.invoke, results.bare_post, results.hop_post
        ),
    ]
    for name, setup in (("route", results.route), ("Invoke API", results.invoke)):
        assert setup.header is not None
        verdicts += [
            _at_most(
                f"{name} gateway-added p50, c=1", setup.header.added_p50_ms, ADDED_P50_MS, "ms"
            ),
            _at_most(
                f"{name} gateway-added p99, c=1", setup.header.added_p99_ms, ADDED_P99_MS, "ms"
            ),
        ]
    verdicts += [
        _at_most("cold start (median)", results.cold.median_ms, COLD_START_MS, "ms"),
        _at_most("idle worker RSS (max)", max(results.worker_rss_mib), WORKER_RSS_MIB, "MiB"),
    ]
    return verdicts


def _verdict_section(results: Results) -> Section:
    rows = [
        [v.target, v.goal, v.measured, f"{v.ratio:.2f}", "PASS" if v.passed else "MISS", v.beside]
        for v in _verdicts(results)
    ]
    headers = [
        "target", "goal", "measured", "measured / goal", "verdict",
        "vs bare + hop (not the target)",
    ]  # fmt: skip
    return Section("Targets", headers, rows)


def sections(results: Results) -> list[Section]:
    """The tables of a full run."""
    return [
        _throughput_section(results),
        _cpu_section(results),
        _added_section(results),
        _cold_and_memory_section(results),
        _verdict_section(results),
    ]


def print_report(
    tables: list[Section], legend: list[str], notes: list[str], console: Console
) -> None:
    """The tables, then how to read them (dimmed), then the run's notes."""
    print_sections(tables, console)
    for line in legend:
        console.print(f"[dim]- {escape(line)}[/]")  # [aws_credentials] is not markup
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


def to_markdown(
    command: str,
    machine: dict[str, str],
    tables: list[Section],
    legend: list[str],
    notes: list[str],
) -> str:
    """The whole report as Markdown: command, machine, tables, how to read them, notes."""
    lines = ["# Functions benchmark results", "", f"Command: `{command}`", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    for section in tables:
        lines += ["", f"## {section.title}", ""]
        lines += markdown_table(section)
    lines += ["", "## How to read it", ""] + [f"- {line}" for line in legend]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
