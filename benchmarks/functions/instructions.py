"""The gateway's instructions per request, tracing and output logging on beside off: the
repeatable reading of what they cost, where requests/s on a shared machine vary by ±15 %.

Run from the repository root with the project's interpreter (needs ``valgrind`` and ``wrk``)::

    .venv/bin/python benchmarks/functions/instructions.py [--duration 20] [--rounds 1]
                                                          [--only tracing|logs] [--keep DIR]

Each setup is one ``lockgate serve`` run under ``valgrind --tool=callgrind`` (the gateway
process alone: its workers run natively, so the gateway is always the bottleneck), fed by
``wrk`` at 16 connections: a warm-up with counting off, then ``--duration`` seconds with it on;
the instructions counted (every thread of the process: the span export thread too) over the
requests served. Setups: the benchmark's echo route (``GET /echo/{name}``) and the Invoke
API with tracing off and on (``exporter = "none"``), and a handler that prints one line per
call with the output log off and on, on the route (the access log off in that pair, and in
both the output log's allowance of lines per second scaled to the slowed gateway: the same
share of lines written as natively). The
ratio off/on is the throughput a gateway bound by its own core keeps. ``--only tracing`` or
``--only logs`` counts one pair. Results go to ``results-instructions.md`` beside this file.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

from benchmarks.functions.loadgen import Request, run_load, wrk_path
from benchmarks.functions.observability import gateway_config
from benchmarks.functions.processes import Server, free_port, serve_argv
from benchmarks.functions.run import EVENT
from benchmarks.functions.tracing_cost import tracing_config

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results-instructions.md"
CONNECTIONS = 16


# Under callgrind the gateway serves ≈ 200 requests/s, not ≈ 5,000: the output log's
# allowance (lines per second) is scaled down alike, so the same share of calls has its
# lines written as natively at the default 200 lines/s (≈ 1 %), and the access log is off.
@dataclass(frozen=True, slots=True)
class _Call:
    """What each request of a count is: a GET of ``path``, or a POST of ``body`` to it."""

    name: str
    path: str
    body: str | None = None


ROUTE = _Call("route GET /echo/{name}", "/echo/bench")
INVOKE = _Call("Invoke API", "/2015-03-31/functions/echo/invocations", EVENT)
_SLOWED: dict[str, object] = {"access_log": False, "function_log_rate": 8}
# The tracing pair keeps the access log (on by default, as in run.py's tracing rounds) but
# scales the output log's allowance alike: at the slowed rate an unscaled allowance would
# write START/END/REPORT for a third of the calls, and more of them in the slower setup.
_SLOWED_TRACING: dict[str, object] = {"function_log_rate": 8}


def _counted(config: Path, call: _Call, folder: Path, duration: float) -> float:
    """Instructions per request of a gateway serving ``config`` under callgrind."""
    port = free_port()
    out = folder / f"callgrind-{port}.out"
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        *serve_argv(config, port),
    ]
    url = f"http://127.0.0.1:{port}"
    log = folder / f"gateway-{port}.log"
    with Server(f"gateway on {port}", argv, f"{url}/readyz", log, ready_timeout=600) as server:
        request = Request(url + call.path, call.body)
        run_load(request, CONNECTIONS, 5, threads=1, use_wrk=True)  # warm-up, uncounted
        _control(server.pid, "-i", "on")
        served = run_load(request, CONNECTIONS, duration, threads=1, use_wrk=True)
        _control(server.pid, "-i", "off")
        _control(server.pid, "-d")
        time.sleep(1)
    dumps = sorted(folder.glob(f"callgrind-{port}.out.*"))
    if not dumps or not served.requests:
        raise RuntimeError(f"no count from {config} (see {log})")
    return _total(dumps[-1]) / served.requests


def _pair(
    name: str, off: Path, on: Path, call: _Call, folder: Path, args: argparse.Namespace
) -> str:
    """Count ``call`` against the gateway of ``off`` and of ``on``, ``--rounds`` times; the
    table row of the medians."""
    counts_off, counts_on = [], []
    for _ in range(args.rounds):
        counts_off.append(_counted(off, call, folder, args.duration))
        counts_on.append(_counted(on, call, folder, args.duration))
        print(f"{name}: off {counts_off[-1]:,.0f}, on {counts_on[-1]:,.0f} per request")
    off_median, on_median = statistics.median(counts_off), statistics.median(counts_on)
    return f"| {name} | {off_median:,.0f} | {on_median:,.0f} | {off_median / on_median:.3f}x |"


def _control(pid: int, *command: str) -> None:
    subprocess.run(["callgrind_control", *command, str(pid)], capture_output=True, check=True)


def _total(dump: Path) -> int:
    """The dump's ``totals:`` line (its header's ``summary:`` may read 0)."""
    totals = [line for line in dump.read_text().splitlines() if line.startswith("totals:")]
    if not totals:
        raise RuntimeError(f"{dump} holds no total")
    return int(totals[-1].split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds counted per setup")
    parser.add_argument("--rounds", type=int, default=1, help="times each setup is counted")
    parser.add_argument("--only", choices=["tracing", "logs"], help="count one pair alone")
    parser.add_argument(
        "--keep",
        type=Path,
        help="copy the callgrind dumps here (read them with callgrind_annotate)",
    )
    args = parser.parse_args()
    if wrk_path() is None or shutil.which("valgrind") is None:
        sys.exit("valgrind and wrk are needed (apt-get install valgrind wrk)")
    source = HERE / "lockgate.toml"
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lockgate-instructions-") as tmp:
        folder = Path(tmp)
        pairs = {
            "tracing": (
                "tracing",
                tracing_config(
                    source, folder / "tracing-off", traced=False, gateway=_SLOWED_TRACING
                ),
                tracing_config(source, folder / "tracing-on", traced=True, gateway=_SLOWED_TRACING),
                (ROUTE, INVOKE),
            ),
            "logs": (
                "output log (a handler printing one line a call)",
                gateway_config(folder / "logs-off", {"function_logs": False, **_SLOWED}),
                gateway_config(folder / "logs-on", {"function_logs": True, **_SLOWED}),
                (ROUTE,),
            ),
        }
        for key, (what, off, on, calls) in pairs.items():
            if args.only and key != args.only:
                continue
            for call in calls:
                rows.append(_pair(f"{what}, {call.name}", off, on, call, folder, args))
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                for dump in folder.glob("callgrind-*.out.*"):
                    shutil.copy(dump, args.keep / f"{key}-{dump.name}")
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                for dump in folder.glob("callgrind-*.out.*"):
                    shutil.copy(dump, args.keep / f"{key}-{dump.name}")
    text = "\n".join(
        [
            "# Instructions per request (benchmarks/functions/instructions.py)",
            "",
            f"callgrind, the gateway process alone, wrk at {CONNECTIONS} connections, "
            f"{args.duration:g} s counted per setup, {args.rounds} round(s), medians.",
            "",
            "| what | off | on | off / on |",
            "|---|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
