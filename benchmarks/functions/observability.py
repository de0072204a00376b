"""What seeing inside the gateway costs: route and Invoke throughput with the function output
log on, then with the access log on too (the defaults), beside both off, in one run.

Run from the repository root with the project's interpreter::

    .venv/bin/python benchmarks/functions/observability.py [--duration 8] [--rounds 3]

Gateways serve the same warm pool of 8 workers running a handler that prints one line per
call (``handlers.echo_printing``), their logs going to a file: one with ``function_logs`` and
``access_log`` off; one with the output log alone on (each call writes START, the handler's
line, END and REPORT, at most ``function_log_rate`` lines/s per function): the issue's target,
>= 0.95x of off; one with the access log on too (the defaults: an access line per request);
one with the rate limit lifted (every line written), the cost of the whole log. ``wrk`` drives
``GET /echo/{name}`` and the Invoke API at 64 connections; the setups take turns, ``--rounds``
times, and the ratios are of the medians.
Results go to ``results-observability.md`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

import httpx
from benchmarks.functions.loadgen import Request, run_load, wrk_path
from benchmarks.functions.processes import Server, cpu_seconds, free_port, serve_argv

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results-observability.md"
SETUPS: dict[str, dict[str, object]] = {
    "off": {"function_logs": False, "access_log": False},
    # The issue's measure: the handler's output logged, nothing else changed.
    "output on": {"function_logs": True, "access_log": False},
    "on": {"function_logs": True, "access_log": True},
    "on, no rate limit": {
        "function_logs": True,
        "access_log": True,
        "function_log_rate": 10_000_000,
    },
}


def gateway_config(folder: Path, gateway: dict[str, object]) -> Path:
    """A ``lockgate.toml`` in ``folder`` serving the printing echo pool with ``gateway``'s
    ``[gateway]`` settings."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[gateway]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in gateway.items()]
    lines += [
        "",
        "[functions.echo]",
        'handler = "handlers:echo_printing"',
        f"code_dir = {json.dumps(str(HERE))}",
        "timeout = 30",
        "scaling = { min_warm = 8, max_capacity = 8, max_queue = 1024 }",
        "",
        "[[routes]]",
        'method = "GET"',
        'path = "/echo/{name}"',
        'function = "echo"',
        'payload_format = "2.0"',
        "",
        "[limits]",
        "rate = 10000000",
        "burst = 10000000",
    ]
    path = folder / "lockgate.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class _Figures(NamedTuple):
    route_rps: float
    invoke_rps: float
    route_cpu_us: float  # the gateway process's CPU per request (its workers' not counted)
    invoke_cpu_us: float


def _measure(base: str, duration: float, pid: int) -> _Figures:
    figures: list[float] = []
    for request in (
        Request(f"{base}/echo/bench"),
        Request(f"{base}/2015-03-31/functions/echo/invocations", body='{"a": 1}'),
    ):
        before = cpu_seconds(pid) or 0.0
        result = run_load(request, 64, duration, threads=2, use_wrk=True)
        used = (cpu_seconds(pid) or 0.0) - before
        if result.errors:
            raise RuntimeError(f"{result.errors} errors in a run")
        figures += (result.requests_per_s, used / max(result.requests, 1) * 1e6)
    return _Figures(figures[0], figures[2], figures[1], figures[3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if wrk_path() is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    figures: dict[str, list[_Figures]] = {name: [] for name in SETUPS}
    with tempfile.TemporaryDirectory(prefix="lockgate-observability-") as tmp:
        for round_index in range(args.rounds):
            for name, gateway in SETUPS.items():
                folder = Path(tmp) / f"{round_index}-{name.replace(' ', '-')}"
                folder.mkdir()
                config = gateway_config(folder, gateway)
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                argv = serve_argv(config, port)
                with Server(name, argv, f"{base}/readyz", folder / "lockgate.log") as server:
                    httpx.get(f"{base}/echo/warm", timeout=30).raise_for_status()
                    figures[name].append(_measure(base, args.duration, server.pid))
                got = figures[name][-1]
                print(
                    f"round {round_index + 1} {name:>18}: route {got.route_rps:6.0f}/s "
                    f"{got.route_cpu_us:4.0f} us  invoke {got.invoke_rps:6.0f}/s "
                    f"{got.invoke_cpu_us:4.0f} us"
                )

    def median(name: str, field: str) -> float:
        return float(statistics.median(getattr(f, field) for f in figures[name]))

    rows = [
        "| setup | route req/s | ratio | route gateway CPU µs/req | ratio | Invoke req/s | ratio "
        "| Invoke gateway CPU µs/req | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in SETUPS:
        cells = [name]
        for surface in ("route", "invoke"):
            rps, cpu = median(name, f"{surface}_rps"), median(name, f"{surface}_cpu_us")
            base_rps, base_cpu = median("off", f"{surface}_rps"), median("off", f"{surface}_cpu_us")
            cells += [
                f"{rps:,.0f}",
                f"{rps / base_rps:.2f}x",
                f"{cpu:.0f}",
                f"{base_cpu / cpu:.2f}x",
            ]
        rows.append("| " + " | ".join(cells) + " |")
    text = "\n".join(
        [
            "# Observability cost (benchmarks/functions/observability.py)",
            "",
            f"{args.rounds} rounds of {args.duration:g} s per setup and surface, wrk at 64 "
            "connections, a warm pool of 8 running a handler that prints one line per call; "
            "medians of the rounds. A CPU ratio is off's µs over the setup's: the throughput "
            "a gateway bound by its own core keeps.",
            "",
            *rows,
            "",
        ]
    )
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
