"""Lockgate's functions benchmark, side by side with the physical limit of its stack.

Run from the repository root with the project's interpreter::

    .venv/bin/python benchmarks/functions/run.py [--duration 10]
                                                 [--only runtimes|listener|auth|tracing]
                                                 [--rounds N]

In one run it measures, one server at a time, on loopback only:

(a) a bare Starlette echo app on uvicorn with Lockgate's server settings (``bare_app.py``);
(a-h) the same app on Lockgate's hardened listener, beside (a) with the ratio: what the
     listener's limits cost (``listener_cost.py``; ``--rounds N`` alternates the two N times);
(a') the same app forwarding every request to one of 8 warm worker processes over pipes
     (``hop_app.py``): the limit of one warm process per in-flight invocation on this stack;
(b) Lockgate routing ``GET /echo/{name}`` (payload format 2.0) to a warm echo pool of 8;
(b-jwt) the same behind a JWT authorizer, in the same gateway (``auth_setups.py``);
(c) Lockgate's Invoke API on the same function;
(c-sigv4) the same signed with AWS SigV4 against an ``[aws_credentials]`` key;
(d) the Invoke API on the same handler run by 8 warm awslambdaric workers (``runtime =
    "provided"``, in the same gateway), beside (c) with the ratios (``runtimes.py``);

each at concurrency 1 and 64 with ``wrk`` (requests/s, p50/p99), with the CPU time the server,
its workers, the load generator and the whole machine used per request at concurrency 64
(/proc and getrusage), plus, for Lockgate, the ``X-Lockgate-Latency`` header at concurrency 1,
the cold start of never-called functions (native and awslambdaric) beside spawning
``python -c pass``, and the RSS of the gateway and of its idle workers. It prints the tables
with rich, the verdict on each target (against the bare app, with the ratio against (a')
beside it), and writes them to ``results.md`` beside it. ``--only runtimes`` measures (c),
(d) and the cold starts alone, in a few minutes, and writes ``results-runtimes.md``;
``--only listener`` measures (a) and (a-h) alone and writes ``results-listener.md``;
``--only auth`` measures (b), (b-jwt), (c) and (c-sigv4) alone, ``--rounds N`` times in one
gateway (the open and the authenticated setup of each pair in turns), and writes
``results-auth.md``; ``--only tracing`` measures (b) and (c) on a gateway with ``[tracing]``
on (spans exported to an in-process no-op exporter) beside one with it off, ``--rounds N``
times (``tracing_cost.py``), and writes ``results-tracing.md``.
Every process it starts is stopped on the way out, also on Ctrl-C, SIGTERM or failure.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import shlex
import signal
import statistics
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

import httpx
from benchmarks.functions.auth_setups import (
    AUTH_LEGEND,
    SECURE_ROUTE,
    AuthComparison,
    IdentityProvider,
    auth_sections,
    auth_tables,
    identity_provider,
    sigv4_request,
    store_secret_key,
)
from benchmarks.functions.cpu import CpuUse, cpu_during
from benchmarks.functions.listener_cost import (
    LISTENER_LEGEND,
    ListenerComparison,
    ListenerRound,
    listener_sections,
)
from benchmarks.functions.listener_micro import MicroResult
from benchmarks.functions.listener_micro import measure as measure_listener
from benchmarks.functions.loadgen import LoadResult, Request, run_load, wrk_path
from benchmarks.functions.machine import busy_percent, describe
from benchmarks.functions.probes import (
    ColdStart,
    HeaderProbe,
    PairedProbe,
    cold_starts,
    header_latency,
    paired_added_us,
    spawn_python_ms,
    untouched,
)
from benchmarks.functions.processes import (
    Server,
    children,
    cmdline,
    free_port,
    serve_argv,
    vm_rss_mb,
)
from benchmarks.functions.report import (
    LEGEND,
    Results,
    Setup,
    print_report,
    sections,
    to_markdown,
)
from benchmarks.functions.runtimes import (
    RIC_MARKER,
    RIC_PREFIX,
    RUNTIME_LEGEND,
    RuntimeComparison,
    ratio_line,
    runtime_section,
    write_config,
)
from benchmarks.functions.tracing_cost import (
    TRACING_LEGEND,
    TracingRound,
    tracing_config,
    tracing_sections,
)
from benchmarks.tables import Section
from rich.console import Console

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "lockgate.toml"
WARM_FUNCTION = "echo"
RIC_FUNCTION = f"{RIC_PREFIX}{WARM_FUNCTION}"
WARM_WORKERS = 8
COLD_PREFIX = "cold_"
BUSY_WARNING = 10.0  # percent
EVENT = '{"hello":"world","n":1,"items":[1,2,3]}'
# Wide enough for the tables when the output is a file or a pipe, not a terminal.
console = Console() if sys.stdout.isatty() else Console(width=130)


@dataclass(frozen=True, slots=True)
class Options:
    duration: float
    warmup: float
    samples: int
    threads: int
    use_wrk: bool
    output: Path
    only_runtimes: bool
    only_listener: bool
    only_auth: bool
    only_tracing: bool
    rounds: int


@dataclass(frozen=True, slots=True)
class _LockgateRun:
    route: Setup | None  # None with --only runtimes
    invoke: Setup
    ric: Setup | None  # None with --only auth
    cold: ColdStart | None
    ric_cold: ColdStart | None
    auth: list[AuthComparison]  # a round each; none with --only runtimes
    gateway_rss_ready_mib: float
    gateway_rss_loaded_mib: float
    worker_rss_mib: list[float]
    ric_worker_rss_mib: list[float]


@dataclass(frozen=True, slots=True)
class _Report:
    machine: dict[str, str]
    tables: list[Section]
    legend: list[str]
    notes: list[str]


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per load measurement (default 10)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds of unmeasured load before each setup (default 2)",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=3000,
        help="sequential requests for the latency header probe (default 3000)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="wrk threads (default 1: this benchmark's machine has 2 cores)",
    )
    parser.add_argument(
        "--python-loadgen",
        action="store_true",
        help="use the Python load generator even when wrk is installed",
    )
    parser.add_argument(
        "--only",
        choices=["runtimes", "listener", "auth", "tracing"],
        help="runtimes: only (c), (d) and the cold starts, native beside awslambdaric; "
        "listener: only the bare app on the stock and the hardened listener; "
        "auth: only (b), (b-jwt), (c) and (c-sigv4); "
        "tracing: only (b) and (c), with [tracing] on beside off",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of the bare app on the stock, then the hardened listener, or with "
        "--only auth of the open and authenticated setups, or with --only tracing of tracing "
        "off and on (default 1, or 3 with --only listener, auth or tracing)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="where the Markdown report goes (default results.md, or results-runtimes.md "
        "with --only runtimes, beside run.py)",
    )
    return parser.parse_args(argv)


def _options(args: argparse.Namespace) -> Options:
    use_wrk = not args.python_loadgen and wrk_path() is not None
    only_runtimes = args.only == "runtimes"
    only_listener = args.only == "listener"
    only_auth = args.only == "auth"
    only_tracing = args.only == "tracing"
    outputs = {
        "runtimes": "results-runtimes.md",
        "listener": "results-listener.md",
        "auth": "results-auth.md",
        "tracing": "results-tracing.md",
    }
    default = HERE / outputs.get(args.only, "results.md")
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        samples=args.samples,
        threads=args.threads,
        use_wrk=use_wrk,
        output=args.output or default,
        only_runtimes=only_runtimes,
        only_listener=only_listener,
        only_auth=only_auth,
        only_tracing=only_tracing,
        rounds=args.rounds or (3 if only_listener or only_auth or only_tracing else 1),
    )


def _loadgen_notes(options: Options) -> list[str]:
    if options.use_wrk:
        return []
    reason = "--python-loadgen was given"
    if wrk_path() is None:
        reason = "wrk is not installed"
        console.print(
            "[bold yellow]wrk is not installed[/]: install it with "
            "`apt-get update && apt-get install -y wrk` (Debian/Ubuntu) for real numbers."
        )
    warning = (
        f"The Python load generator was used ({reason}): on this machine it is slower than "
        "the servers, so requests/s and latencies measure the client, not the gateway."
    )
    console.print(f"[bold yellow]warning:[/] {warning}")
    return [warning]


def _load(request: Request, connections: int, options: Options, *, header: bool) -> LoadResult:
    return run_load(
        request,
        connections,
        options.duration,
        threads=options.threads,
        use_wrk=options.use_wrk,
        latency_header=header,
    )


def _show(label: str, result: LoadResult) -> None:
    console.print(
        f"  {label}, c={result.connections}: {result.requests_per_s:,.0f} req/s, "
        f"p50 {result.p50_ms:.3f} ms, p99 {result.p99_ms:.3f} ms, {result.errors} errors"
    )


def _show_cpu(label: str, cpu: CpuUse, requests: int) -> None:
    server, workers, client, machine = cpu.per_request_us(requests)
    console.print(
        f"  {label}, CPU per request at c=64: server {server:.0f} µs, "
        f"{cpu.workers} workers {workers:.0f} µs, load generator {client:.0f} µs, "
        f"whole machine {machine:.0f} µs ({cpu.machine_s / cpu.wall_s:.2f} cores busy)"
    )


def _measure(
    label: str,
    request: Request,
    options: Options,
    *,
    header: bool,
    server: int,
    workers: list[int] | None = None,
) -> Setup:
    """Warm-up, then c=1 (with the latency header when asked), then c=64 with its CPU use
    (the server's and its ``workers``', by default all its children)."""
    if options.warmup > 0:
        run_load(request, 64, options.warmup, threads=options.threads, use_wrk=options.use_wrk)
    c1 = _load(request, 1, options, header=header)
    _show(label, c1)
    c64, cpu = cpu_during(server, lambda: _load(request, 64, options, header=False), workers)
    _show(label, c64)
    _show_cpu(label, cpu, c64.requests)
    probe: HeaderProbe | None = None
    if header:
        probe = header_latency(request, options.samples, warmup=min(500, options.samples))
        console.print(
            f"  {label}, X-Lockgate-Latency at c=1: p50 {probe.added_p50_ms:.3f} ms, "
            f"p99 {probe.added_p99_ms:.3f} ms (client saw p50 {probe.client_p50_ms:.3f} ms)"
        )
    return Setup(label, c1, c64, probe, cpu)


def _check_echo(base: str) -> None:
    """Both request shapes answer what the echo should, before anything is timed."""
    got = httpx.get(f"{base}/echo/bench", timeout=10.0)
    if got.status_code != 200 or got.json() != {"name": "bench"}:
        raise RuntimeError(f"GET /echo/bench answered {got.status_code}: {got.text[:300]!r}")
    _check_invoke(base, WARM_FUNCTION)


def _check_invoke(base: str, function: str) -> None:
    invoked = httpx.post(
        f"{base}/2015-03-31/functions/{function}/invocations", content=EVENT, timeout=10.0
    )
    if invoked.status_code != 200 or invoked.json() != json.loads(EVENT):
        raise RuntimeError(
            f"the Invoke API on {function} answered {invoked.status_code}: {invoked.text!r}"
        )


def _bare(options: Options, logs: Path, listener: str = "stock") -> tuple[Setup, Setup]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        str(HERE / "bare_app.py"),
        "--port",
        str(port),
        "--listener",
        listener,
    ]
    hardened = listener == "hardened"
    console.rule(
        "(a-h) bare app on Lockgate's hardened listener"
        if hardened
        else "(a) bare Starlette echo app on uvicorn"
    )
    log = logs / f"bare-{listener}.log"
    with (
        Server(f"bare app ({listener})", argv, f"{base}/echo/ready", log) as server,
        _log_on_failure(server),
    ):
        _check_echo(base)
        return _measure_reference(
            "bare, hardened" if hardened else "bare", base, options, server.pid
        )


def _listener_rounds(options: Options, logs: Path) -> list[ListenerRound]:
    """The bare app on the stock and on the hardened listener, ``options.rounds`` times; the
    order alternates (stock first in odd rounds), so a drift in the machine's load over a
    round weighs on both alike."""
    rounds = []
    for index in range(options.rounds):
        if index % 2 == 0:
            stock_get, stock_post = _bare(options, logs, "stock")
            hardened_get, hardened_post = _bare(options, logs, "hardened")
        else:
            hardened_get, hardened_post = _bare(options, logs, "hardened")
            stock_get, stock_post = _bare(options, logs, "stock")
        rounds.append(ListenerRound(stock_get, hardened_get, stock_post, hardened_post))
    return rounds


def _listener_micro() -> MicroResult:
    console.rule("the listener's own CPU per request, in-process (listener_micro.py)")
    micro = measure_listener()
    console.print(
        f"  added per request: {micro.added_parse_us:+.2f} µs parsing, "
        f"{micro.added_whole_us:+.2f} µs whole (stock {micro.stock.whole_min:.2f} µs)"
    )
    return micro


def _measure_reference(
    name: str, base: str, options: Options, server_pid: int
) -> tuple[Setup, Setup]:
    """A reference app's GET and Invoke-shaped POST, measured the same way."""
    get = _measure(
        f"{name} GET /echo/{{name}}",
        Request(f"{base}/echo/bench"),
        options,
        header=False,
        server=server_pid,
    )
    post = _measure(
        f"{name} POST (Invoke-shaped)",
        Request(f"{base}/2015-03-31/functions/{WARM_FUNCTION}/invocations", EVENT),
        options,
        header=False,
        server=server_pid,
    )
    return get, post


def _hop(options: Options, logs: Path) -> tuple[Setup, Setup]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        str(HERE / "hop_app.py"),
        "--port",
        str(port),
        "--workers",
        str(WARM_WORKERS),
    ]
    console.rule(f"(a') bare app + process hop to {WARM_WORKERS} warm workers")
    with (
        Server("bare + hop app", argv, f"{base}/echo/ready", logs / "hop.log") as server,
        _log_on_failure(server),
    ):
        workers = [pid for pid in children(server.pid) if "hop_worker.py" in cmdline(pid)]
        if len(workers) != WARM_WORKERS:
            raise RuntimeError(f"expected {WARM_WORKERS} hop workers, found {len(workers)}")
        _check_echo(base)
        return _measure_reference("bare + hop", base, options, server.pid)


def _worker_pids(gateway: int, marker: str = "lockgate.worker") -> list[int]:
    """The gateway's native workers, or with ``marker=RIC_MARKER`` its awslambdaric ones."""
    return [pid for pid in children(gateway) if marker in cmdline(pid)]


def _rss(pid: int) -> float:
    rss = vm_rss_mb(pid)
    if rss is None:
        raise RuntimeError(f"process {pid} is gone; cannot read its RSS")
    return rss


def _cold_functions() -> list[str]:
    with CONFIG.open("rb") as file:
        names = list(tomllib.load(file)["functions"])
    return [name for name in names if name.startswith(COLD_PREFIX)]


def _lockgate(options: Options, logs: Path) -> _LockgateRun:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with identity_provider() as idp:
        # lockgate.toml + the ric_* functions + the authorizer, its route and the AWS key.
        config = write_config(CONFIG, logs, auth_tables(idp, WARM_FUNCTION))
        env = {
            "LOCKGATE_CONFIG": str(config),
            "LOCKGATE_MASTER_KEY_FILE": str(logs / "master.key"),
        }
        store_secret_key(env)
        argv = serve_argv(config, port)
        log = logs / "lockgate.log"
        with (
            Server("lockgate", argv, f"{base}/readyz", log, env={**os.environ, **env}) as gateway,
            _log_on_failure(gateway),
        ):
            return _measure_lockgate(base, options, gateway.pid, idp)


def _measure_lockgate(
    base: str, options: Options, gateway: int, idp: IdentityProvider
) -> _LockgateRun:
    for kind, marker in (("warm", "lockgate.worker"), ("awslambdaric", RIC_MARKER)):
        found = len(_worker_pids(gateway, marker))
        if found != WARM_WORKERS:
            raise RuntimeError(f"expected {WARM_WORKERS} {kind} workers, found {found}")
    _check_echo(base)
    _check_invoke(base, RIC_FUNCTION)
    _check_auth(base, idp)
    rss_ready = _rss(gateway)
    if options.only_auth:
        rounds = [
            _auth_round(base, options, gateway, idp, index) for index in range(options.rounds)
        ]
        first = rounds[0]
        rss = _rss(gateway)
        workers = [_rss(pid) for pid in _worker_pids(gateway)]
        return _LockgateRun(
            first.route, first.invoke, None, None, None, rounds, rss_ready, rss, workers, []
        )
    auth = []
    route = None
    if not options.only_runtimes:
        route, jwt_route = _route_pair(base, options, gateway, idp, auth_first=False)
    invoke = _native_invoke(base, options, gateway)
    if route is not None:
        sigv4 = _sigv4_invoke(base, options, gateway)
        jwt_added, sigv4_added = _paired(base, options, idp)
        auth = [
            AuthComparison(
                route, jwt_route, invoke, sigv4, jwt_added, sigv4_added, len(idp.fetches)
            )
        ]
    ric = _ric_invoke(base, options, gateway, invoke)
    # Idle again, and still the warm pools only.
    worker_rss = [_rss(pid) for pid in _worker_pids(gateway)]
    ric_worker_rss = [_rss(pid) for pid in _worker_pids(gateway, RIC_MARKER)]
    rss_loaded = _rss(gateway)
    console.rule("Lockgate: cold starts (native, then awslambdaric)")
    names = _cold_functions()
    ric_names = [f"{RIC_PREFIX}{name}" for name in names]
    untouched(base, [*names, *ric_names])
    cold = cold_starts(base, names, EVENT)
    console.print(f"  native: {', '.join(f'{ms:.1f}' for ms in cold.client_ms)} ms")
    ric_cold = cold_starts(base, ric_names, EVENT)
    console.print(f"  awslambdaric: {', '.join(f'{ms:.1f}' for ms in ric_cold.client_ms)} ms")
    return _LockgateRun(
        route,
        invoke,
        ric,
        cold,
        ric_cold,
        auth,
        rss_ready,
        rss_loaded,
        worker_rss,
        ric_worker_rss,
    )


def _check_auth(base: str, idp: IdentityProvider) -> None:
    """The authenticated setups admit what they should and refuse the rest, before timing."""
    secure = base + SECURE_ROUTE.replace("{name}", "bench")
    bearer = {"authorization": f"Bearer {idp.token}"}
    answers = {
        "the JWT route without a token": (httpx.get(secure, timeout=10.0), 401),
        "the JWT route with the token": (httpx.get(secure, headers=bearer, timeout=10.0), 200),
    }
    invoke = f"{base}/2015-03-31/functions/{WARM_FUNCTION}/invocations"
    signed = sigv4_request(invoke, EVENT)
    forged = dict(signed.headers)
    forged["Authorization"] = forged["Authorization"][:-4] + "0000"
    answers["a signed Invoke"] = (httpx.post(invoke, content=EVENT, headers=signed.headers), 200)
    answers["an Invoke with a forged signature"] = (
        httpx.post(invoke, content=EVENT, headers=forged),
        403,
    )
    for what, (response, expected) in answers.items():
        if response.status_code != expected:
            raise RuntimeError(
                f"{what} answered {response.status_code}, not {expected}: {response.text[:300]!r}"
            )


def _jwt_request(base: str, idp: IdentityProvider) -> Request:
    url = base + SECURE_ROUTE.replace("{name}", "bench")
    return Request(url, headers=(("Authorization", f"Bearer {idp.token}"),))


def _route_pair(
    base: str, options: Options, gateway: int, idp: IdentityProvider, *, auth_first: bool
) -> tuple[Setup, Setup]:
    """(b) and (b-jwt), one right after the other."""

    def route() -> Setup:
        console.rule("(b) Lockgate: GET /echo/{name} → echo (payload 2.0, warm pool of 8)")
        return _measure(
            "Lockgate route",
            Request(f"{base}/echo/bench"),
            options,
            header=True,
            server=gateway,
            workers=_worker_pids(gateway),
        )

    def jwt_route() -> Setup:
        console.rule(f"(b-jwt) Lockgate: GET {SECURE_ROUTE} → echo, JWT authorizer")
        return _measure(
            "Lockgate route, JWT authorizer",
            _jwt_request(base, idp),
            options,
            header=True,
            server=gateway,
            workers=_worker_pids(gateway),
        )

    if auth_first:
        secured = jwt_route()
        return route(), secured
    return route(), jwt_route()


def _native_invoke(base: str, options: Options, gateway: int) -> Setup:
    console.rule("(c) Lockgate: Invoke API → echo")
    return _measure(
        "Lockgate Invoke API",
        Request(f"{base}/2015-03-31/functions/{WARM_FUNCTION}/invocations", EVENT),
        options,
        header=True,
        server=gateway,
        workers=_worker_pids(gateway),
    )


def _sigv4_invoke(base: str, options: Options, gateway: int) -> Setup:
    console.rule("(c-sigv4) Lockgate: Invoke API → echo, signed with SigV4")
    url = f"{base}/2015-03-31/functions/{WARM_FUNCTION}/invocations"
    return _measure(
        "Lockgate Invoke API, SigV4",
        sigv4_request(url, EVENT),  # signed now: the measurement is well inside 5 minutes
        options,
        header=True,
        server=gateway,
        workers=_worker_pids(gateway),
    )


def _auth_round(
    base: str, options: Options, gateway: int, idp: IdentityProvider, index: int
) -> AuthComparison:
    """One round of --only auth: the open setup first in even rounds, the authenticated one
    in odd rounds, so a drift in the machine's load weighs on both alike."""
    auth_first = index % 2 == 1
    route, jwt_route = _route_pair(base, options, gateway, idp, auth_first=auth_first)
    if auth_first:
        sigv4 = _sigv4_invoke(base, options, gateway)
        invoke = _native_invoke(base, options, gateway)
    else:
        invoke = _native_invoke(base, options, gateway)
        sigv4 = _sigv4_invoke(base, options, gateway)
    jwt_added, sigv4_added = _paired(base, options, idp)
    return AuthComparison(route, jwt_route, invoke, sigv4, jwt_added, sigv4_added, len(idp.fetches))


def _paired(base: str, options: Options, idp: IdentityProvider) -> tuple[PairedProbe, PairedProbe]:
    """What the JWT authorizer and the SigV4 check add at c=1, each in turns with its twin."""
    console.rule("added gateway time at c=1: open and authenticated requests in turns")
    warmup = min(500, options.samples)
    route = Request(f"{base}/echo/bench")
    jwt_added = paired_added_us(route, _jwt_request(base, idp), options.samples, warmup)
    url = f"{base}/2015-03-31/functions/{WARM_FUNCTION}/invocations"
    sigv4_added = paired_added_us(
        Request(url, EVENT), sigv4_request(url, EVENT), options.samples, warmup
    )
    for name, probe in (("JWT route", jwt_added), ("SigV4 Invoke", sigv4_added)):
        console.print(
            f"  {name}: {probe.added_us:.0f} µs added (p50 {probe.first_p50_us:.0f} µs open, "
            f"{probe.second_p50_us:.0f} µs authenticated, {probe.pairs} pairs)"
        )
    return jwt_added, sigv4_added


def _ric_invoke(base: str, options: Options, gateway: int, native: Setup) -> Setup:
    """(d) the Invoke API on the awslambdaric pool, with its ratios to (c) ``native``."""
    console.rule(f"(d) Lockgate: Invoke API → {RIC_FUNCTION} (awslambdaric, warm pool of 8)")
    ric = _measure(
        "Lockgate Invoke API, awslambdaric",
        Request(f"{base}/2015-03-31/functions/{RIC_FUNCTION}/invocations", EVENT),
        options,
        header=True,
        server=gateway,
        workers=_worker_pids(gateway, RIC_MARKER),
    )
    console.print(f"  {ratio_line(native, ric)}")
    return ric


def _run(options: Options, notes: list[str]) -> _Report:
    busy = busy_percent()
    if busy > BUSY_WARNING:
        notes = [
            *notes,
            f"The machine was {busy:.0f}% busy before the run started: other processes "
            "competed for the 2 cores, so these numbers are pessimistic.",
        ]
        console.print(f"[bold yellow]warning:[/] {notes[-1]}")
    references: list[Setup] = []
    rounds: list[ListenerRound] = []
    micro: MicroResult | None = None
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-") as tmp:
        logs = Path(tmp)
        if options.only_auth:
            return _auth_report(options, logs, busy, notes)
        if options.only_tracing:
            return _tracing_report(options, logs, busy, notes)
        if not options.only_runtimes:
            rounds = _listener_rounds(options, logs)
            micro = _listener_micro()
        if options.only_listener:
            assert micro is not None
            machine = describe(options.use_wrk, options.threads, busy)
            tables = listener_sections(ListenerComparison(rounds, micro, route=None))
            notes = notes + _error_notes(
                [
                    s
                    for r in rounds
                    for s in (r.stock_get, r.hardened_get, r.stock_post, r.hardened_post)
                ]
            )
            return _Report(machine, tables, LISTENER_LEGEND, notes)
        if not options.only_runtimes:
            # The first round's stock bare app is the reference the other setups are read by.
            references = [rounds[0].stock_get, rounds[0].stock_post, *_hop(options, logs)]
        lockgate = _lockgate(options, logs)
    assert lockgate.cold is not None
    assert lockgate.ric_cold is not None
    assert lockgate.ric is not None
    console.rule("physical limit of a cold start: python -c pass")
    spawn = spawn_python_ms(len(lockgate.cold.client_ms))
    console.print(f"  median {statistics.median(spawn):.1f} ms")
    machine = {
        **describe(options.use_wrk, options.threads, busy),
        "awslambdaric": importlib.metadata.version("awslambdaric"),
        "duration": f"{options.duration:g} s per measurement, {options.warmup:g} s warm-up "
        f"per setup, {options.samples} sequential requests per header probe",
    }
    comparison = RuntimeComparison(
        native=lockgate.invoke,
        ric=lockgate.ric,
        native_cold=lockgate.cold,
        ric_cold=lockgate.ric_cold,
        spawn_ms=spawn,
        native_worker_rss_mib=lockgate.worker_rss_mib,
        ric_worker_rss_mib=lockgate.ric_worker_rss_mib,
    )
    measured = [*references, *([lockgate.route] if lockgate.route else []), lockgate.invoke]
    measured += [s for a in lockgate.auth for s in (a.jwt_route, a.sigv4_invoke)]
    notes = notes + _error_notes([*measured, lockgate.ric])
    if lockgate.route is None:
        return _Report(machine, [runtime_section(comparison)], RUNTIME_LEGEND, notes)
    bare_get, bare_post, hop_get, hop_post = references
    results = Results(
        machine=machine,
        bare_get=bare_get,
        bare_post=bare_post,
        hop_get=hop_get,
        hop_post=hop_post,
        route=lockgate.route,
        invoke=lockgate.invoke,
        jwt_route=lockgate.auth[0].jwt_route,
        sigv4_invoke=lockgate.auth[0].sigv4_invoke,
        cold=lockgate.cold,
        spawn_ms=spawn,
        gateway_rss_ready_mib=lockgate.gateway_rss_ready_mib,
        gateway_rss_loaded_mib=lockgate.gateway_rss_loaded_mib,
        worker_rss_mib=lockgate.worker_rss_mib,
        notes=notes,
    )
    assert micro is not None  # measured in every run that measures the route
    listener = ListenerComparison(rounds, micro, route=lockgate.route)
    tables = [
        *sections(results),
        *auth_sections(lockgate.auth, setups=False),
        *listener_sections(listener),
        runtime_section(comparison),
    ]
    legend = [*LEGEND, *AUTH_LEGEND, *LISTENER_LEGEND, *RUNTIME_LEGEND]
    return _Report(machine, tables, legend, notes)


def _auth_report(options: Options, logs: Path, busy: float, notes: list[str]) -> _Report:
    """--only auth: the open and authenticated setups, ``options.rounds`` times."""
    lockgate = _lockgate(options, logs)
    machine = {
        **describe(options.use_wrk, options.threads, busy),
        "duration": f"{options.duration:g} s per measurement, {options.warmup:g} s warm-up "
        f"per setup, {options.samples} sequential requests per header probe, "
        f"{options.rounds} round(s)",
    }
    setups = [s for a in lockgate.auth for s in (a.route, a.jwt_route, a.invoke, a.sigv4_invoke)]
    tables = auth_sections(lockgate.auth, setups=True)
    return _Report(machine, tables, AUTH_LEGEND, notes + _error_notes(setups))


def _tracing_report(options: Options, logs: Path, busy: float, notes: list[str]) -> _Report:
    """--only tracing: the route and the Invoke API with tracing off and on, in turns."""
    rounds = []
    for index in range(options.rounds):
        order = (False, True) if index % 2 == 0 else (True, False)
        measured = {traced: _traced_gateway(options, logs, traced) for traced in order}
        (route_off, invoke_off), (route_on, invoke_on) = measured[False], measured[True]
        rounds.append(TracingRound(route_off, route_on, invoke_off, invoke_on))
    machine = {
        **describe(options.use_wrk, options.threads, busy),
        "duration": f"{options.duration:g} s per measurement, {options.warmup:g} s warm-up "
        f"per setup, {options.samples} sequential requests per header probe, "
        f"{options.rounds} round(s)",
    }
    setups = [s for r in rounds for s in (r.route_off, r.route_on, r.invoke_off, r.invoke_on)]
    return _Report(machine, tracing_sections(rounds), TRACING_LEGEND, notes + _error_notes(setups))


def _traced_gateway(options: Options, logs: Path, traced: bool) -> tuple[Setup, Setup]:
    """(b) and (c) on a gateway serving lockgate.toml, with ``[tracing]`` on or off."""
    name = "tracing on" if traced else "tracing off"
    config = tracing_config(CONFIG, logs / name.replace(" ", "-"), traced=traced)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = serve_argv(config, port)
    log = logs / f"lockgate-{name.replace(' ', '-')}.log"
    with (
        Server(f"lockgate, {name}", argv, f"{base}/readyz", log, env=dict(os.environ)) as gateway,
        _log_on_failure(gateway),
    ):
        _check_echo(base)
        workers = _worker_pids(gateway.pid)
        console.rule(f"(b) Lockgate route, {name}")
        route = _measure(
            f"Lockgate route, {name}",
            Request(f"{base}/echo/bench"),
            options,
            header=True,
            server=gateway.pid,
            workers=workers,
        )
        console.rule(f"(c) Lockgate Invoke API, {name}")
        invoke = _measure(
            f"Lockgate Invoke API, {name}",
            Request(f"{base}/2015-03-31/functions/{WARM_FUNCTION}/invocations", EVENT),
            options,
            header=True,
            server=gateway.pid,
            workers=workers,
        )
        return route, invoke


def _error_notes(setups: list[Setup]) -> list[str]:
    return [
        f"{setup.label}: {setup.errors} requests failed (errors, timeouts or 4xx/5xx); "
        "its numbers include them."
        for setup in setups
        if setup.errors
    ]


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _log_on_failure(server: Server) -> Iterator[None]:
    """Show the end of the server's log when a measurement fails (its folder is temporary)."""
    try:
        yield
    except Exception:
        console.print(f"[red]{server.name} failed; the end of its log:[/]\n{server.log_tail()}")
        raise


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP all unwind through the clean-up, even where the shell that
    started us had SIGINT ignored (as non-interactive shells do for background jobs)."""
    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, _interrupt) for signum in caught}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    options = _options(_parse_args(argv))
    notes = _loadgen_notes(options)
    command = shlex.join(["python", "benchmarks/functions/run.py", *sys.argv[1:]])
    try:
        with _signals_as_interrupt():
            report = _run(options, notes)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]: every process started was stopped")
        return 130
    print_report(report.tables, report.legend, report.notes, console)
    markdown = to_markdown(command, report.machine, report.tables, report.legend, report.notes)
    options.output.write_text(markdown)
    console.print(f"Markdown written to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
