"""Turns the workflow benchmark's measurements into tables and target verdicts, printed with
rich and written as Markdown. The measurements are the JSON ``run.py`` writes (``Results``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.tables import Section, markdown_table, print_sections
from rich.console import Console

__all__ = ["Results", "print_report", "targets", "to_markdown"]

Results = dict[str, Any]  # the JSON run.py writes to results/latest.json

SEQUENTIAL_WF_S = 2_000.0
CONCURRENT_WF_S = 3_000.0
STEPS_S = 10_000.0
CPU_MS_PER_STEP = 0.2
FLAT_MIB = 1.0  # RSS growth from the 20 % sample to the last that still counts as flat
COMMITS_PER_WORKFLOW = 2  # step1's checkpoint (with the run's row), then step2's with the end
ROWS_PER_WORKFLOW = 4  # the run's insert, two step rows, the run's final update
STORES = (("sqlite", "Lockgate, SQLite"), ("postgres", "Lockgate, PostgreSQL"))
SQLITE_NORMAL = ("sqlite_normal", "Lockgate, SQLite synchronous=NORMAL")
MEMORY = ("memory", "Lockgate, memory store")
KAILASH = ("kailash", "Kailash 2.65")
RSS_STORES = (
    ("sqlite", "SQLite (WAL, FULL)"),
    ("memory+drop", "memory store, finished runs dropped (engine only)"),
    ("memory", "memory store as shipped (keeps every run)"),
)
STEP_SHAPES = (("chain", "chain of {n}"), ("fanout", "{n} independent"))


def legend(results: Results) -> list[str]:
    options = results["options"]
    width, batches = options["width"], options["batches"]
    return [
        "Every Lockgate and Kailash row is its own fresh process (run.py starts lockgate_side.py "
        "or kailash_side.py), on the stock asyncio event loop, after 20 unmeasured sequential "
        "runs; only runs that completed with the right result count towards a rate.",
        f"sequential: {options['sequential']:,} runs one at a time; c={width}: {batches} "
        f"batches of {width} runs started at once with asyncio.gather, each timed on its own "
        "(bN = batch N), one process for all batches; 'all batches' = runs ÷ summed batch time.",
        "Lockgate SQLite is a new file in the directory the physical limit was measured in, "
        "WAL with synchronous=FULL (a completed step survives power loss); PostgreSQL is a new "
        "schema, dropped afterwards. A two-step run commits twice: step1's checkpoint (with the "
        "run's row) before step2 starts, then step2's with the run's end.",
        "Kailash 2.65 is EnhancedDurableAPIGateway(require_auth=False, enable_durability=True) "
        "in its own venv: nothing is written anywhere (kailash.md §7), so it is compared with "
        "durable Lockgate and with Lockgate's memory store.",
        "CPU per step = the process's CPU time (all threads: the event loop and the SQLite "
        "writer) over the steps completed; 'loop' is the event loop thread's alone. The memory "
        "store isolates the engine from storage.",
        "RSS is resident memory from /proc/self/statm after gc.collect(), sampled every "
        f"{options['rss_every']:,} runs of the two-step workflow run {width} at a time.",
        "The physical limit is physical.py on the same disk, before and after Lockgate's runs "
        "(the faster run counts; both are shown): one ~200 B row per synced commit "
        "(SQLite WAL + FULL; PostgreSQL through asyncpg on one connection), and SQLite with 64 "
        "rows per synced commit (group commit). Sequential ceiling of a two-step run = commits/s "
        f"÷ {COMMITS_PER_WORKFLOW}; concurrent ceiling = group-commit rows/s ÷ "
        f"{ROWS_PER_WORKFLOW} rows per run. floor.py times the two transactions "
        "SQLiteRunStore commits for a two-step run, on Lockgate's schema with plain sqlite3: "
        "the sequential rate if the engine cost nothing.",
    ]


def _rate(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.0f}"


def _ms(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None:
        return "—"
    if denominator == 0:
        return "∞ (peer 0)"
    return f"{numerator / denominator:.2f}x"


def _measured(entry: Any) -> bool:
    return isinstance(entry, dict) and "skipped" not in entry


def _pure_setups(results: Results) -> list[tuple[str, str, dict[str, Any]]]:
    """(key, label, entry) of every two-step setup that ran, Lockgate's then Kailash's."""
    pure = results["pure"]
    keys = (*STORES, SQLITE_NORMAL, MEMORY)
    setups = [(key, label, pure[key]) for key, label in keys if key in pure]
    if KAILASH[0] in pure:
        setups.append((KAILASH[0], KAILASH[1], pure[KAILASH[0]]))
    return setups


def _batch_rates(entry: dict[str, Any]) -> list[float]:
    return [batch["wf_per_s"] for batch in entry["concurrent"]["batches"]]


def _pure_section(results: Results) -> Section:
    batches = results["options"]["batches"]
    width = results["options"]["width"]
    rows = []
    for key, label, entry in _pure_setups(results):
        durable = {"sqlite": "yes", "postgres": "yes", "sqlite_normal": "crash only"}.get(key, "no")
        if not _measured(entry):
            rows.append(
                [label, durable, f"skipped: {entry['skipped']}", *("—" for _ in range(batches + 4))]
            )
            continue
        sequential, concurrent = entry["sequential"], entry["concurrent"]
        failed = sequential["failed"] + concurrent["failed"]
        rates = [_rate(rate) for rate in _batch_rates(entry)]
        rows.append(
            [
                label,
                durable,
                _rate(sequential["wf_per_s"]),
                _ms(sequential["p50_ms"]),
                _ms(sequential.get("p99_ms")),
                *rates,
                *("—" for _ in range(batches - len(rates))),
                _rate(concurrent["wf_per_s"]),
                str(failed),
            ]
        )
    headers = [
        "setup", "durable", "sequential wf/s", "p50 ms", "p99 ms",
        *(f"c={width} b{index}" for index in range(1, batches + 1)),
        f"c={width} all batches", "failed runs",
    ]  # fmt: skip
    return Section("Two-step pure-compute workflow (kailash.md §3), workflows/s", headers, rows)


def _ratio_section(results: Results) -> Section | None:
    peer = results["pure"].get(KAILASH[0])
    if not _measured(peer):
        return None
    batches = results["options"]["batches"]
    peer_rates = _batch_rates(peer)
    rows = []
    for key, label, entry in _pure_setups(results):
        if key == KAILASH[0] or not _measured(entry):
            continue
        rates = _batch_rates(entry)
        rows.append(
            [
                label,
                _ratio(entry["sequential"]["wf_per_s"], peer["sequential"]["wf_per_s"]),
                *(_ratio(mine, theirs) for mine, theirs in zip(rates, peer_rates, strict=False)),
                _ratio(entry["concurrent"]["wf_per_s"], peer["concurrent"]["wf_per_s"]),
            ]
        )
    headers = [
        "Lockgate setup", "sequential",
        *(f"b{index}" for index in range(1, batches + 1)), "all batches",
    ]  # fmt: skip
    return Section("Lockgate ÷ Kailash 2.65 (workflows/s, same batch)", headers, rows)


def _steps_entries(results: Results) -> list[tuple[str, str, dict[str, Any]]]:
    steps = results["options"]["steps"]
    entries = []
    for shape, label in STEP_SHAPES:
        for store in ("sqlite", "memory"):
            entry = results["steps"].get(f"{shape}/{store}")
            if entry is not None:
                entries.append((label.format(n=steps), store, entry))
    return entries


def _steps_section(results: Results) -> Section:
    rows = []
    for label, store, entry in _steps_entries(results):
        concurrent = entry["concurrent"]
        per_batch = [batch["steps_per_s"] for batch in concurrent["batches"]]
        rows.append(
            [
                label,
                "SQLite (durable)" if store == "sqlite" else "memory",
                _rate(concurrent["steps_per_s"]),
                " / ".join(_rate(rate) for rate in per_batch),
                _rate(concurrent["wf_per_s"]),
                _ms(concurrent["cpu_ms_per_step"]),
                _ms(concurrent["loop_cpu_ms_per_step"]),
                str(concurrent["failed"]),
            ]
        )
    width = results["options"]["width"]
    headers = [
        "workflow", "store", "steps/s, all batches", "steps/s per batch", "wf/s",
        "CPU ms/step", "of it event loop", "failed runs",
    ]  # fmt: skip
    return Section(f"Durable steps/s: trivial code steps, {width} runs at once", headers, rows)


def _cpu_cell(phase: dict[str, Any] | None) -> str:
    if phase is None:
        return "—"
    cpu, loop = phase["cpu_ms_per_step"], phase.get("loop_cpu_ms_per_step")
    if loop is None or abs(cpu - loop) <= 0.05 * cpu:
        return _ms(cpu)
    return f"{_ms(cpu)} (loop {_ms(loop)})"


def _cpu_section(results: Results) -> Section:
    pure = results["pure"]
    width = results["options"]["width"]
    keys = (MEMORY, *STORES, SQLITE_NORMAL, KAILASH)
    columns = [key for key, _ in keys if _measured(pure.get(key))]
    names = dict(keys)

    def phase(key: str, which: str) -> dict[str, Any] | None:
        entry = pure.get(key)
        return entry.get(which) if _measured(entry) else None

    rows = [
        ["two steps, sequential", *(_cpu_cell(phase(key, "sequential")) for key in columns)],
        [f"two steps, c={width}", *(_cpu_cell(phase(key, "concurrent")) for key in columns)],
    ]
    by_shape: dict[str, dict[str, dict[str, Any]]] = {}
    for label, store, entry in _steps_entries(results):
        by_shape.setdefault(label, {})[store] = entry["concurrent"]
    for label, stores in by_shape.items():
        rows.append([f"{label}, c={width}", *(_cpu_cell(stores.get(key)) for key in columns)])
    return Section(
        "CPU per step (process CPU time ÷ steps completed, ms)",
        ["workload", *(names[key] for key in columns)],
        rows,
    )


def _rss_growth(rss: dict[str, Any]) -> tuple[int, float, float, float]:
    """(runs at the 20 % sample, its MiB, the last sample's MiB, bytes per run between)."""
    samples = rss["samples"]
    at = next((index for index, (runs, *_) in enumerate(samples) if runs >= 0.2 * rss["runs"]), 0)
    runs0, mib0, *_ = samples[at]
    runs1, mib1, *_ = samples[-1]
    per_run = (mib1 - mib0) * 2**20 / max(1, runs1 - runs0)
    return runs0, mib0, mib1, per_run


def interval_rates(rss: dict[str, Any]) -> list[float]:
    """Workflows/s between consecutive RSS samples (the sustained rate, interval by interval)."""
    samples = rss["samples"]
    return [
        (runs1 - runs0) / (seconds1 - seconds0)
        for (runs0, _, seconds0), (runs1, _, seconds1) in itertools.pairwise(samples)
        if seconds1 > seconds0
    ]


def _interval_rates(rss: dict[str, Any]) -> str:
    rates = interval_rates(rss)
    return f"{_rate(rates[0])} → {_rate(rates[-1])}" if rates else "—"


def _rss_section(results: Results) -> Section:
    rows = []
    for key, label in RSS_STORES:
        entry = results["rss"].get(key)
        if entry is None:
            continue
        rss = entry["rss"]
        runs0, mib0, mib1, per_run = _rss_growth(rss)
        rows.append(
            [
                label,
                ", ".join(f"{mib:.1f}" for _, mib, *_ in rss["samples"]),
                f"{mib0:.1f} at {runs0:,}",
                f"{mib1:.1f}",
                f"{mib1 - mib0:+.1f}",
                f"{per_run:,.0f}",
                _rate(rss["wf_per_s"]),
                _interval_rates(rss),
                str(rss["failed"]),
            ]
        )
    options = results["options"]
    headers = [
        "store", f"RSS MiB at 0, {options['rss_every']:,}, … runs", "20 % sample", "last",
        "growth MiB", "bytes/run", "wf/s", "wf/s first → last interval", "failed runs",
    ]  # fmt: skip
    return Section(f"RSS across {options['rss_runs']:,} runs", headers, rows)


def _physical_rows(results: Results) -> list[list[str]]:
    physical, pure = results["physical"], results["pure"]
    width = results["options"]["width"]
    sqlite, group = physical["sqlite"], physical["sqlite_group"]
    rows: list[list[str]] = []
    lockgate = pure["sqlite"]["sequential"]["wf_per_s"] if _measured(pure.get("sqlite")) else None
    ceiling = sqlite["commits_per_s"] / COMMITS_PER_WORKFLOW
    rows.append(
        [
            "SQLite WAL + FULL, 1 row per commit",
            f"{_rate(sqlite['commits_per_s'])} commits/s{_runs(sqlite)}",
            f"{sqlite['p50_us']:.0f} / {sqlite['p99_us']:.0f}",
            f"{_rate(ceiling)} wf/s sequential",
            _rate(lockgate),
            _percent(lockgate, ceiling),
        ]
    )
    floor = physical.get("sqlite_floor")
    if floor is not None:
        rows.append(
            [
                "SQLite WAL + FULL, Lockgate's two transactions per run on its schema "
                f"({floor['wal_frames_per_commit']:.1f} WAL frames per commit), no engine",
                f"{_rate(floor['wf_per_s'])} runs/s{_runs(floor)}",
                f"{floor['commit_p50_us']:.0f} / —",
                f"{_rate(floor['wf_per_s'])} wf/s sequential",
                _rate(lockgate),
                _percent(lockgate, floor["wf_per_s"]),
            ]
        )
    concurrent = pure["sqlite"]["concurrent"]["wf_per_s"] if lockgate is not None else None
    ceiling = group["rows_per_s"] / ROWS_PER_WORKFLOW
    rows.append(
        [
            f"SQLite WAL + FULL, {group['rows_per_commit']} rows per commit",
            f"{_rate(group['rows_per_s'])} rows/s{_runs(group)}",
            "—",
            f"{_rate(ceiling)} wf/s at c={width}",
            _rate(concurrent),
            _percent(concurrent, ceiling),
        ]
    )
    postgres = physical.get("postgres", {"skipped": "not measured"})
    if not _measured(postgres):
        rows.append(["PostgreSQL, 1 row per commit", f"skipped: {postgres['skipped']}"] + ["—"] * 4)
        return rows
    lockgate = (
        pure["postgres"]["sequential"]["wf_per_s"] if _measured(pure.get("postgres")) else None
    )
    ceiling = postgres["commits_per_s"] / COMMITS_PER_WORKFLOW
    rows.append(
        [
            "PostgreSQL (asyncpg, 1 connection), 1 row per commit",
            f"{_rate(postgres['commits_per_s'])} commits/s{_runs(postgres)}",
            f"{postgres['p50_us']:.0f} / {postgres['p99_us']:.0f}",
            f"{_rate(ceiling)} wf/s sequential",
            _rate(lockgate),
            _percent(lockgate, ceiling),
        ]
    )
    return rows


def _runs(measure: dict[str, Any]) -> str:
    runs = measure.get("runs", [])
    if len(runs) < 2:
        return ""
    return " (runs: " + ", ".join(_rate(rate) for rate in runs) + ")"


def _percent(value: float | None, ceiling: float) -> str:
    return "—" if value is None else f"{100 * value / ceiling:.0f} %"


def _physical_section(results: Results) -> Section:
    headers = [
        "storage, measured by physical.py", "rate", "p50 / p99 µs",
        "ceiling for the two-step workflow", "Lockgate wf/s", "Lockgate ÷ ceiling",
    ]  # fmt: skip
    return Section("Physical limit of this machine's storage", headers, _physical_rows(results))


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    goal: str
    measured: str
    ratio: float  # measured / goal for "at least", goal / measured for "at most"
    passed: bool
    beside: str = "—"

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "goal": self.goal,
            "measured": self.measured,
            "ratio": self.ratio,
            "verdict": "PASS" if self.passed else "MISS",
            "note": self.beside,
        }


def _at_least(target: str, measured: float, goal: float, unit: str, beside: str) -> Verdict:
    return Verdict(
        target,
        f"≥ {goal:,.0f} {unit}",
        f"{measured:,.0f} {unit}",
        measured / goal,
        measured >= goal,
        beside,
    )


def _sqlite_verdicts(results: Results) -> list[Verdict]:
    entry = results["pure"].get("sqlite")
    if not _measured(entry):
        return []
    width = results["options"]["width"]
    ceiling = results["physical"]["sqlite"]["commits_per_s"] / COMMITS_PER_WORKFLOW
    sequential = entry["sequential"]["wf_per_s"]
    rates = _batch_rates(entry)
    beside = (
        f"{_percent(sequential, ceiling)} of this disk's ceiling, {_rate(ceiling)} wf/s "
        f"(2 one-row synced commits per run)"
    )
    floor = results["physical"].get("sqlite_floor")
    if floor is not None:
        beside += (
            f"; {_percent(sequential, floor['wf_per_s'])} of Lockgate's own two transactions "
            f"without the engine, {_rate(floor['wf_per_s'])} wf/s"
        )
    verdicts = [
        _at_least(
            "durable workflows/s, sequential, SQLite",
            sequential,
            SEQUENTIAL_WF_S,
            "wf/s",
            beside,
        ),
        _at_least(
            f"durable workflows/s, {width} at once, SQLite",
            entry["concurrent"]["wf_per_s"],
            CONCURRENT_WF_S,
            "wf/s",
            f"all {len(rates)} batches; per batch {_rate(min(rates))} to {_rate(max(rates))}"
            + _sustained(results),
        ),
    ]
    for label, store, steps in _steps_entries(results):
        if store != "sqlite":
            continue
        per_batch = [batch["steps_per_s"] for batch in steps["concurrent"]["batches"]]
        verdicts.append(
            _at_least(
                f"durable steps/s, {label}, {width} at once, SQLite",
                steps["concurrent"]["steps_per_s"],
                STEPS_S,
                "steps/s",
                f"per batch {_rate(min(per_batch))} to {_rate(max(per_batch))}",
            )
        )
    return verdicts


def _sustained(results: Results) -> str:
    entry = results["rss"].get("sqlite")
    if entry is None:
        return ""
    rss = entry["rss"]
    rate = _rate(rss["wf_per_s"])
    return f"; sustained over the {rss['runs']:,} runs of the RSS measurement: {rate}"


def _cpu_verdict(results: Results) -> Verdict | None:
    width = results["options"]["width"]
    candidates: list[tuple[float, str]] = []
    memory = results["pure"].get("memory")
    if _measured(memory):
        candidates += [
            (memory["sequential"]["cpu_ms_per_step"], "two steps, sequential"),
            (memory["concurrent"]["cpu_ms_per_step"], f"two steps, c={width}"),
        ]
    for label, store, entry in _steps_entries(results):
        if store == "memory":
            candidates.append((entry["concurrent"]["cpu_ms_per_step"], f"{label}, c={width}"))
    if not candidates:
        return None
    worst, where = max(candidates)
    best, best_where = min(candidates)
    return Verdict(
        "engine CPU per step, memory store (worst workload)",
        f"≤ {CPU_MS_PER_STEP:g} ms",
        f"{worst:.3f} ms",
        CPU_MS_PER_STEP / worst,
        worst <= CPU_MS_PER_STEP,
        f"worst: {where}; best: {best:.3f} ms ({best_where})",
    )


def _rss_verdicts(results: Results) -> list[Verdict]:
    verdicts = []
    for key, label in RSS_STORES[:2]:  # the shipped memory store keeps every run by design
        entry = results["rss"].get(key)
        if entry is None:
            continue
        rss = entry["rss"]
        runs0, mib0, mib1, per_run = _rss_growth(rss)
        growth = mib1 - mib0
        verdicts.append(
            Verdict(
                f"RSS flat across {rss['runs']:,} runs, {label}",
                f"≤ {FLAT_MIB:g} MiB growth from {runs0:,} runs",
                f"{growth:+.1f} MiB ({mib0:.1f} → {mib1:.1f})",
                FLAT_MIB / max(growth, 0.1),
                growth <= FLAT_MIB,
                f"{per_run:,.0f} bytes/run",
            )
        )
    return verdicts


def targets(results: Results) -> list[Verdict]:
    verdicts = _sqlite_verdicts(results)
    cpu = _cpu_verdict(results)
    if cpu is not None:
        verdicts.append(cpu)
    return verdicts + _rss_verdicts(results)


def _floor2(ratio: float) -> str:
    """Two decimals rounded down, so a miss never reads 1.00."""
    return f"{math.floor(ratio * 100) / 100:.2f}"


def _targets_section(results: Results) -> Section:
    rows = [
        [v.target, v.goal, v.measured, _floor2(v.ratio), "PASS" if v.passed else "MISS", v.beside]
        for v in targets(results)
    ]
    headers = ["target", "goal", "measured", "measured vs goal", "verdict", "beside it"]
    return Section("Targets", headers, rows)


def _sections(results: Results) -> list[Section]:
    sections = [_pure_section(results)]
    ratio = _ratio_section(results)
    if ratio is not None:
        sections.append(ratio)
    if results["steps"]:
        sections.append(_steps_section(results))
    sections.append(_cpu_section(results))
    if results["rss"]:
        sections.append(_rss_section(results))
    sections += [_physical_section(results), _targets_section(results)]
    return sections


def print_report(results: Results, console: Console) -> None:
    print_sections(_sections(results), console)
    for line in legend(results):
        console.print(f"[dim]- {line}[/]")
    for note in results["notes"]:
        console.print(f"[yellow]note:[/] {note}")


def markdown_tables(results: Results, level: str = "##") -> list[str]:
    lines: list[str] = []
    for section in _sections(results):
        lines += ["", f"{level} {section.title}", ""]
        lines += markdown_table(section)
    return lines


def to_markdown(results: Results) -> str:
    """The whole report as Markdown: command, machine, tables, how to read them, notes."""
    lines = ["# Workflows benchmark results", "", f"Command: `{results['command']}`", ""]
    lines += [f"- {key}: {value}" for key, value in results["machine"].items()]
    lines += markdown_tables(results)
    lines += ["", "## How to read it", ""] + [f"- {line}" for line in legend(results)]
    notes: Sequence[str] = results["notes"]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
