"""What seeing inside the gateway costs: route and Invoke throughput with the function output
and access logs on (the defaults), beside both off, in one run.

Run from the repository root with the project's interpreter::

    .venv/bin/python benchmarks/functions/observability.py [--duration 8] [--rounds 3]

Two gateways serve the same warm pool of 8 workers running a handler that prints one line per
call (``handlers.echo_printing``): one with ``function_logs`` and ``access_log`` on and its log
going to a file (each call then writes START, the handler's line, END, REPORT and an access
line, at most ``function_log_rate`` lines/s per function of the first four), one with both off.
``wrk`` drives ``GET /echo/{name}`` and the Invoke API at 64 connections; the two setups take
turns, ``--rounds`` times, and the ratio of the medians is the verdict (target >= 0.95x).
A third setup lifts the rate limit (every line written) to show the cost of the whole log.
Results go to ``results-observability.md`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

import httpx
from benchmarks.functions.loadgen import Request, run_load, wrk_path
from benchmarks.functions.processes import Server, free_port

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results-observability.md"
SETUPS: dict[str, dict[str, object]] = {
    "off": {"function_logs": False, "access_log": False},
    "on": {"function_logs": True, "access_log": True},
    "on, no rate limit": {
        "function_logs": True,
        "access_log": True,
        "function_log_rate": 10_000_000,
    },
}


def _config(folder: Path, gateway: dict[str, object]) -> Path:
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


def _measure(base: str, duration: float) -> tuple[float, float]:
    route = run_load(Request(f"{base}/echo/bench"), 64, duration, threads=2, use_wrk=True)
    invoke = run_load(
        Request(f"{base}/2015-03-31/functions/echo/invocations", body='{"a": 1}'),
        64,
        duration,
        threads=2,
        use_wrk=True,
    )
    for result in (route, invoke):
        if result.errors:
            raise RuntimeError(f"{result.errors} errors in a run")
    return route.requests_per_s, invoke.requests_per_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if wrk_path() is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in SETUPS}
    with tempfile.TemporaryDirectory(prefix="lockgate-observability-") as tmp:
        for round_index in range(args.rounds):
            for name, gateway in SETUPS.items():
                folder = Path(tmp) / f"{round_index}-{name.replace(' ', '-')}"
                folder.mkdir()
                config = _config(folder, gateway)
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                argv = [sys.executable, "-m", "lockgate", "serve", "--config", str(config)]
                argv += ["--host", "127.0.0.1", "--port", str(port)]
                with Server(name, argv, f"{base}/readyz", folder / "lockgate.log"):
                    httpx.get(f"{base}/echo/warm", timeout=30).raise_for_status()
                    figures[name].append(_measure(base, args.duration))
                route, invoke = figures[name][-1]
                print(f"round {round_index + 1} {name:>18}: route {route:7.0f}/s", end="")
                print(f"  invoke {invoke:7.0f}/s")
    off_route = statistics.median(r for r, _ in figures["off"])
    off_invoke = statistics.median(i for _, i in figures["off"])
    rows = [
        "| setup | route req/s (median) | ratio | Invoke req/s (median) | ratio |",
        "|---|---|---|---|---|",
    ]
    for name in SETUPS:
        route = statistics.median(r for r, _ in figures[name])
        invoke = statistics.median(i for _, i in figures[name])
        rows.append(
            f"| {name} | {route:,.0f} | {route / off_route:.2f}x | {invoke:,.0f} | "
            f"{invoke / off_invoke:.2f}x |"
        )
    text = "\n".join(
        [
            "# Observability cost (benchmarks/functions/observability.py)",
            "",
            f"{args.rounds} rounds of {args.duration:g} s per setup and surface, wrk at 64 "
            "connections, a warm pool of 8 running a handler that prints one line per call.",
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
