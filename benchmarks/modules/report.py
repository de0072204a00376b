"""The modules benchmark's report: issue 5's targets (what a cached ``get_module_service`` and
an ``inter_module_call`` add to their direct twins, in ns), the lookups and calls beside those
twins, and event delivery per store beside the disk's ``fdatasync``."""

from __future__ import annotations

import math
from typing import Any

from benchmarks.tables import Report, Section, Verdict, format_ratio, format_us, verdict_section

__all__ = ["REPORT", "Results", "targets"]

Results = dict[str, Any]

LOOKUP_ADDED_US = 1.0
CALL_ADDED_US = 5.0
STORE_LABELS = {
    "none": "not durable (no store)",
    "memory": "durable, InMemoryEventStore",
    "sqlite": "durable, SQLiteEventStore (WAL, synchronous=FULL)",
    "postgres": "durable, PostgresEventStore",
}
LOOKUP_LABELS = {
    "local": "the instance in a local variable (baseline)",
    "dict": 'a nested dict: modules["users"]["UserService"]',
    "registry": 'registry.get_module_service("users", "UserService")',
    "proxy": 'lockgate.modules.gateway.get_module_service("users", "UserService")',
}
CALL_LABELS = {
    "direct": "service.get_user_by_id(1), bound method (baseline)",
    "registry": 'registry.inter_module_call("mentalhealth", "users", ..., 1)',
    "proxy": 'lockgate.modules.gateway.inter_module_call("mentalhealth", "users", ..., 1)',
}
STATS = ["median", "p90", "p99", "min", "max"]


def _ns(value_us: float | None) -> str:
    if value_us is None or math.isnan(value_us):
        return "—"
    return f"{value_us * 1000:,.0f} ns" if abs(value_us) < 10 else format_us(value_us)


def targets(results: Results) -> list[Verdict]:
    """The issue's targets: what discovery and a guarded call add (median of the per-round
    differences to the direct twin)."""
    calls = results["calls"]
    verdicts = []
    for part, goal, what in (
        ("lookup", LOOKUP_ADDED_US, "cached get_module_service"),
        ("call", CALL_ADDED_US, "inter_module_call"),
    ):
        measured = calls[part]
        for case, via in (("registry", "on the registry"), ("proxy", "via lockgate.modules")):
            added = measured["added"][case]["median_us"]
            total = measured["cases"][case]["median_us"]
            base = measured["cases"][measured["baseline"]]["median_us"]
            verdicts.append(
                Verdict(
                    f"{what} {via}: added cost",
                    f"≤ {_ns(goal)}",
                    _ns(added),
                    added <= goal,
                    f"{_ns(total)} per call vs {_ns(base)} direct ({format_ratio(total, base)}); "
                    f"p99 of the added cost {_ns(measured['added'][case]['p99_us'])}",
                )
            )
    return verdicts


def _calls_section(results: Results, part: str, labels: dict[str, str], title: str) -> Section:
    measured = results["calls"][part]
    baseline = measured["cases"][measured["baseline"]]["median_us"]
    rows = []
    for case, label in labels.items():
        entry = measured["cases"][case]
        added = measured["added"].get(case)
        rows.append(
            [
                label,
                *(_ns(entry[f"{stat}_us"]) for stat in ("median", "p90", "p99", "min", "max")),
                "—" if added is None else _ns(added["median_us"]),
                format_ratio(entry["median_us"], baseline),
            ]
        )
    headers = ["case", *STATS, "added (median of rounds)", "÷ baseline"]
    return Section(title, headers, rows)


def _latency_section(results: Results) -> Section:
    events = results["events"]
    floor = events["none"]["latency"]["median_us"]
    rows = []
    for store, entry in events.items():
        latency = entry["latency"]
        rows.append(
            [
                STORE_LABELS[store],
                *(
                    format_us(latency[f"{stat}_us"])
                    for stat in ("median", "p90", "p99", "min", "max")
                ),
                format_us(latency["cycle_us"]),
                format_ratio(latency["median_us"], floor),
            ]
        )
    headers = ["bus", *STATS, "per event, to completion", "median ÷ not durable"]
    count = results["options"]["latency_events"]
    return Section(f"Publish → handler entered, {count:,} events one at a time", headers, rows)


def _throughput_section(results: Results) -> Section:
    events = results["events"]
    fastest = events["none"]["throughput"]["events_per_s"]
    rows = []
    for store, entry in events.items():
        measured = entry["throughput"]
        rows.append(
            [
                STORE_LABELS[store],
                f"{measured['publish_s']:.3f}",
                f"{measured['recorded_s']:.3f}",
                f"{measured['handled_s']:.3f}",
                f"{measured['settled_s']:.3f}",
                f"{measured['events_per_s']:,.0f}",
                format_ratio(fastest, measured["events_per_s"]),
            ]
        )
    headers = ["bus", "publish() s", "recorded s", "handled s", "completed s", "events/s",
               "not durable ÷ this"]  # fmt: skip
    count = results["options"]["throughput_events"]
    title = f"{count:,} events published at once to one async subscriber (seconds from the first)"
    return Section(title, headers, rows)


def _fsync_section(results: Results) -> Section | None:
    floor, sqlite = results.get("fsync"), results["events"].get("sqlite")
    if floor is None or sqlite is None:
        return None
    latency = sqlite["latency"]["median_us"]
    rows = []
    for key, label in (
        ("append", "append 4 KiB + fdatasync (a growing WAL)"),
        ("rewrite", "rewrite 4 KiB in place + fdatasync (a reused WAL)"),
    ):
        entry = floor[key]
        rows.append(
            [
                label,
                format_us(entry["median_us"]),
                format_us(entry["p99_us"]),
                format_us(2 * entry["median_us"]),
                format_us(latency),
                format_ratio(latency, 2 * entry["median_us"]),
            ]
        )
    headers = ["one commit's sync", "median", "p99", "two of them (record, claim)",
               "SQLite publish → handler, median", "SQLite ÷ two syncs"]  # fmt: skip
    return Section("The disk's floor beside durable delivery on SQLite", headers, rows)


def _sections(results: Results) -> list[Section | None]:
    return [
        verdict_section("Targets (issue 5)", targets(results)),
        _calls_section(results, "lookup", LOOKUP_LABELS, "Service discovery, per lookup"),
        _calls_section(results, "call", CALL_LABELS, "A call between modules, per call"),
        _latency_section(results),
        _throughput_section(results),
        _fsync_section(results),
    ]


def legend(results: Results) -> list[str]:
    options = results["options"]
    return [
        "Modules: the seed's users and mentalhealth (examples/hello/aura), declared with the "
        "seed's dict, loaded and initialised by ModuleRegistry (import_services), bound to "
        "lockgate.modules as a started gateway binds them; all in one process, stock asyncio.",
        f"Lookups and calls: {options['rounds']:,} rounds of one batch of {options['batch']:,} "
        "operations per case, the cases taking turns (order rotated each round); figures are "
        "the batches' time per operation, loop included (the baseline's loop is the same "
        "shape). 'Added' is the median over rounds of (case - baseline) in the same round. "
        "The call is UserService.get_user_by_id(1), which copies a small dict.",
        "lockgate.modules.gateway is a forwarding object: the first use of a method goes "
        "through its __getattr__ and a getattr on the registry, and the bound method is kept "
        "on the proxy until the next bind, so later uses find it in the proxy's own __dict__.",
        f"Latency: {options['latency_events']:,} events after {options['warm_up']} untimed, "
        "each published once the one before was delivered and, when durable, its completion "
        "stored; from just before publish() to the handler's first line. 'Per event, to "
        "completion' is the loop's wall time per event.",
        f"Throughput: {options['throughput_events']:,} publish() calls in a row on the event "
        "loop, then awaited: 'recorded' when every publication resolved (durable: stored), "
        "'handled' when the handler had been entered for each, 'completed' when every "
        "delivery was finished (durable: its completion stored); events/s over 'completed'.",
        "Durable delivery, per event: the event and its delivery row in one transaction, a "
        "claim (a second transaction), the handler, then the completion (a third). The SQLite "
        "store runs them one at a time on its own thread; PostgreSQL on a pool of 4. A SQLite "
        "commit (WAL, synchronous=FULL) writes its frames and calls fdatasync once on the WAL "
        "(strace); the floor beside it times that call on a file in the same folder.",
    ]


REPORT = Report("Modules benchmark results", _sections, legend)
