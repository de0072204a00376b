"""The custom-runtime side of the functions benchmark: awslambdaric beside the native worker.

``write_config`` writes the gateway's configuration for a run: ``lockgate.toml`` as it is,
plus ``ric_*`` copies of its functions declared with ``runtime = "provided"`` and run by the
official AWS Lambda Runtime Interface Client (``python -m awslambdaric handlers.echo``) with
this interpreter, which only the running benchmark knows (so it cannot be written in the
checked-in file). ``RuntimeComparison`` holds what (c) and (d) measured, and
``runtime_section`` lays it out side by side with the ratios.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.functions.probes import ColdStart
from benchmarks.functions.report import Setup
from benchmarks.tables import Section

__all__ = [
    "RIC_MARKER",
    "RIC_PREFIX",
    "RUNTIME_LEGEND",
    "RuntimeComparison",
    "ratio_line",
    "runtime_section",
    "write_config",
]

RIC_PREFIX = "ric_"  # ric_echo beside echo, ric_cold_NN beside cold_NN
RIC_MARKER = "awslambdaric"  # in the command line of every awslambdaric worker
RIC_HANDLER = "handlers.echo"  # awslambdaric's module.function spelling of handlers:echo
RUNTIME_LEGEND = [
    "awslambdaric = the same echo handler run by the official AWS Lambda Runtime Interface "
    'Client as a runtime = "provided" function (`python -m awslambdaric handlers.echo`, 8 warm '
    "workers, the same pool settings): each invocation is the runtime's HTTP long-poll "
    "GET /2018-06-01/runtime/invocation/next, answered by the gateway's Runtime API for that "
    "worker on loopback, then a POST of the result; the native worker reads and writes one "
    "length-prefixed frame on its stdin/stdout pipes instead.",
    "awslambdaric / native = the awslambdaric figure over the native one: above 1 is more "
    "requests/s (better) or more latency, CPU, time or memory (worse). For awslambdaric, "
    "X-Lockgate-Latency is the gateway's time minus the time from handing the event out on "
    "/next to the runtime's POST of its result.",
]


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _toml(table: dict[str, Any], path: tuple[str, ...] = ()) -> list[str]:
    """``table`` as TOML lines: values first, then sub-tables and arrays of tables."""
    nested = {k: v for k, v in table.items() if isinstance(v, dict)}
    arrays = {
        k: v for k, v in table.items() if isinstance(v, list) and v and isinstance(v[0], dict)
    }
    values = [
        f"{_key(k)} = {_value(v)}" for k, v in table.items() if k not in nested and k not in arrays
    ]
    # A table with only sub-tables needs no header of its own.
    lines = [f"[{'.'.join(map(_key, path))}]"] if path and (values or not nested) else []
    lines += values
    for key, sub in nested.items():
        lines += ["", *_toml(sub, (*path, key))]
    for key, items in arrays.items():
        for item in items:
            header = ".".join(map(_key, (*path, key)))
            lines += ["", f"[[{header}]]", *(f"{_key(k)} = {_value(v)}" for k, v in item.items())]
    return lines


def write_config(source: Path, folder: Path, add: dict[str, Any] | None = None) -> Path:
    """``source`` plus an awslambdaric twin of each of its functions, as ``folder``/lockgate.toml.

    Every function keeps its code in ``source``'s folder (``code_dir``), so ``handlers``
    imports from there, and the gateway's own state goes to ``folder``. ``add`` holds tables
    known only at run time (the authenticated setups'): its lists extend ``source``'s
    (``routes``), its tables are added beside ``source``'s.
    """
    with source.open("rb") as file:
        config = tomllib.load(file)
    for key, value in (add or {}).items():
        if isinstance(value, list):
            config[key] = [*config.get(key, []), *value]
        else:
            config[key] = {**config.get(key, {}), **value}
    functions: dict[str, dict[str, Any]] = config["functions"]
    code_dir = str(source.parent.resolve())
    twins = {
        f"{RIC_PREFIX}{name}": {
            "runtime": "provided",
            "command": [sys.executable, "-m", "awslambdaric", RIC_HANDLER],
            "handler": RIC_HANDLER,
            **{key: value for key, value in table.items() if key not in ("handler", "runtime")},
        }
        for name, table in functions.items()
    }
    functions.update(twins)
    for table in functions.values():
        table.setdefault("code_dir", code_dir)
    text = "\n".join(_toml(config)).lstrip("\n") + "\n"
    if tomllib.loads(text) != config:  # the writer above only knows what this file uses
        raise RuntimeError(f"the TOML written for {source} does not read back the same")
    path = folder / "lockgate.toml"
    path.write_text(text)
    return path


@dataclass(frozen=True, slots=True)
class RuntimeComparison:
    """(c) and (d): the Invoke API on the native worker and on awslambdaric, same run."""

    native: Setup
    ric: Setup
    native_cold: ColdStart
    ric_cold: ColdStart
    spawn_ms: list[float]
    native_worker_rss_mib: list[float]
    ric_worker_rss_mib: list[float]


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _ratio(ric: float, native: float) -> str:
    return f"{ric / native:.2f}x" if native > 0 else "—"


def _row(metric: str, native: float, ric: float, shown: Callable[[float], str]) -> list[str]:
    return [metric, shown(native), shown(ric), _ratio(ric, native)]


def _cpu_rows(native: Setup, ric: Setup) -> list[list[str]]:
    assert native.cpu is not None
    assert ric.cpu is not None
    mine = native.cpu.per_request_us(native.c64.requests)
    theirs = ric.cpu.per_request_us(ric.c64.requests)
    rows = [
        _row(f"{who} CPU per request, c=64 (µs)", mine[index], theirs[index], "{:.0f}".format)
        for index, who in ((0, "gateway"), (1, "workers'"), (3, "whole machine"))
    ]
    busy = [
        f"{cpu.server_s / cpu.wall_s:.2f} / {cpu.machine_s / cpu.wall_s:.2f}"
        for cpu in (native.cpu, ric.cpu)
    ]
    return [*rows, ["cores busy, c=64: gateway / machine", *busy, "—"]]


def runtime_section(comparison: RuntimeComparison) -> Section:
    """Warm invokes, CPU, gateway-added latency, cold start and memory, side by side."""
    native, ric = comparison.native, comparison.ric
    rows = [
        _row("req/s, c=1", native.c1.requests_per_s, ric.c1.requests_per_s, "{:,.0f}".format),
        _row("p50, c=1 (ms)", native.c1.p50_ms, ric.c1.p50_ms, _ms),
        _row("p99, c=1 (ms)", native.c1.p99_ms, ric.c1.p99_ms, _ms),
        _row("req/s, c=64", native.c64.requests_per_s, ric.c64.requests_per_s, "{:,.0f}".format),
        _row("p50, c=64 (ms)", native.c64.p50_ms, ric.c64.p50_ms, _ms),
        _row("p99, c=64 (ms)", native.c64.p99_ms, ric.c64.p99_ms, _ms),
        *_cpu_rows(native, ric),
    ]
    if native.header is not None and ric.header is not None:
        rows.append(
            _row(
                "X-Lockgate-Latency p50, sequential, c=1 (ms)",
                native.header.added_p50_ms,
                ric.header.added_p50_ms,
                _ms,
            )
        )
    spawn = statistics.median(comparison.spawn_ms)
    cold = comparison.native_cold, comparison.ric_cold
    rows += [
        [
            f"cold start, median of {len(cold[0].client_ms)} never-called functions (ms)",
            *(f"{c.median_ms:.1f} ({min(c.client_ms):.1f}-{max(c.client_ms):.1f})" for c in cold),
            _ratio(cold[1].median_ms, cold[0].median_ms),
        ],
        [
            f"cold start over `python -c pass` ({spawn:.1f} ms)",
            *(f"{c.median_ms / spawn:.2f}x" for c in cold),
            "—",
        ],
        _row(
            "idle worker RSS, median of 8 (MiB)",
            statistics.median(comparison.native_worker_rss_mib),
            statistics.median(comparison.ric_worker_rss_mib),
            "{:.1f}".format,
        ),
    ]
    headers = ["metric", "(c) native worker", "(d) awslambdaric", "awslambdaric / native"]
    return Section("Custom runtime (awslambdaric) beside the native worker", headers, rows)


def ratio_line(native: Setup, ric: Setup) -> str:
    """The headline ratios, for the console as soon as (d) is measured."""
    parts = [
        f"c={a.connections}: req/s {_ratio(b.requests_per_s, a.requests_per_s)}, "
        f"p50 {_ratio(b.p50_ms, a.p50_ms)}, p99 {_ratio(b.p99_ms, a.p99_ms)}"
        for a, b in ((native.c1, ric.c1), (native.c64, ric.c64))
    ]
    return "awslambdaric / native: " + "; ".join(parts)
