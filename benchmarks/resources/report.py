"""Turns the resources benchmark's measurements (the JSON ``run.py`` writes) into target
verdicts and tables, printed with rich and written as Markdown."""

from __future__ import annotations

from typing import Any

from benchmarks.tables import Report, Section, Verdict, format_ratio, format_us, verdict_section

__all__ = ["REPORT", "Results", "targets"]

Results = dict[str, Any]

RESOLVE_US = 20.0
CACHED_SECRET_US = 10.0
UNCACHED_SECRET_US = 1_000.0


def _measured(entry: Any) -> bool:
    return isinstance(entry, dict) and "skipped" not in entry


def _at_most(target: str, measured_us: float, goal_us: float, note: str = "") -> Verdict:
    return Verdict(
        target, f"≤ {format_us(goal_us)}", format_us(measured_us), measured_us <= goal_us, note
    )


def targets(results: Results) -> list[Verdict]:
    """The issue's targets that this run measured."""
    verdicts = []
    resolve = results["resolve"]
    if _measured(resolve):
        verdicts.append(
            _at_most(
                'resolve a pooled shared resource ("@main_db")',
                resolve["shared"]["median_us"],
                RESOLVE_US,
                f"median of {resolve['shared']['samples']} batches; p99 "
                f"{format_us(resolve['shared']['p99_us'])}",
            )
        )
    secrets = results["secrets"]
    if _measured(secrets):
        cached, sqlite = secrets["cached"], secrets["sqlite"]
        verdicts.append(_at_most("cached secret read", cached["median_us"], CACHED_SECRET_US))
        verdicts.append(
            _at_most(
                "uncached secret read, SQLite store",
                sqlite["median_us"],
                UNCACHED_SECRET_US,
                f"p99 {format_us(sqlite['p99_us'])}, max {format_us(sqlite['max_us'])}",
            )
        )
    for variant, entry in results["concurrency"].items():
        if not _measured(entry):
            continue
        runs, size = entry["runs"], entry["max_size"]
        verdicts.append(
            Verdict(
                f"connections under {runs:,} concurrent runs ({variant} reference)",
                f"≤ {size} (max_size)",
                f"peak {entry['peak']}",
                entry["peak"] <= size and entry["peak"] > 0,
                f"{entry['samples']:,} counts every {entry['interval_s'] * 1000:g} ms; "
                f"{entry['sessions_after_stop']} left once the gateway stopped",
            )
        )
    return verdicts


def _row(label: str, entry: dict[str, Any]) -> list[str]:
    count = entry.get("operations", entry["samples"])
    figures = (
        format_us(entry[key]) for key in ("median_us", "p90_us", "p99_us", "min_us", "max_us")
    )
    return [label, *figures, f"{count:,}"]


STATS = ["median", "p90", "p99", "min", "max", "operations"]


def _resolve_section(results: Results) -> Section | None:
    resolve = results["resolve"]
    if not _measured(resolve):
        return None
    driver = resolve["driver"]
    rows = [
        _row(f'"@main_db" (shared {driver} pool): resolve', resolve["shared"]),
        _row('"@main_db": lookup + resolve + release', resolve["shared_cycle"]),
        _row(f"inline reference (pooled {driver}, key from its JSON): resolve", resolve["inline"]),
        _row("inline reference: lookup + resolve + release", resolve["inline_cycle"]),
    ]
    title = "Resolving a resource that is already pooled, per resolve (median etc. of batches)"
    return Section(title, ["case", *STATS], rows)


def _secrets_section(results: Results) -> Section | None:
    secrets, peer = results["secrets"], results["kailash"]
    rows = []
    if _measured(secrets):
        rows.append(_row("Lockgate, cached (cache_ttl 300 s)", secrets["cached"]))
        rows.append(_row("Lockgate, uncached, SQLite store (WAL)", secrets["sqlite"]))
        if "postgres" in secrets:
            rows.append(_row("Lockgate, uncached, PostgreSQL store", secrets["postgres"]))
        rows.append(_row("Lockgate, uncached, memory store (decryption only)", secrets["memory"]))
    if _measured(peer):
        rows.append(_row(f"Kailash {peer['version']}, cached", peer["cached"]))
        rows.append(_row("Kailash, uncached, EnvironmentSecretBackend (PBKDF2)", peer["env"]))
        if "file" in peer:
            rows.append(_row("Kailash, uncached, FileSecretBackend (two envelopes)", peer["file"]))
    if not rows:
        return None
    return Section("Secret reads, per get_secret", ["case", *STATS], rows)


def _ratio_section(results: Results) -> Section | None:
    secrets, peer = results["secrets"], results["kailash"]
    if not (_measured(secrets) and _measured(peer)):
        return None
    pairs = [
        ("cached read", "cached", "cached"),
        ("uncached read, no storage I/O: Kailash env backend vs Lockgate memory", "env", "memory"),
        ("uncached read: Kailash env backend vs Lockgate SQLite", "env", "sqlite"),
        ("uncached read: Kailash env backend vs Lockgate PostgreSQL", "env", "postgres"),
        ("uncached read: Kailash file backend vs Lockgate SQLite", "file", "sqlite"),
    ]
    rows = []
    for label, theirs, mine in pairs:
        if theirs in peer and mine in secrets:
            kailash, lockgate = peer[theirs]["median_us"], secrets[mine]["median_us"]
            rows.append(
                [label, format_us(kailash), format_us(lockgate), format_ratio(kailash, lockgate)]
            )
    first = (peer["cached_first_read_us"], secrets["cached_first_read_us"])
    rows.append(
        [
            "first read of a caching manager",
            format_us(first[0]),
            format_us(first[1]),
            format_ratio(*first),
        ]
    )
    headers = ["median", "Kailash", "Lockgate", "Kailash ÷ Lockgate (time)"]
    return Section("Kailash 2.65 ÷ Lockgate, secret reads", headers, rows)


def _concurrency_section(results: Results) -> Section | None:
    rows = []
    for variant, entry in results["concurrency"].items():
        if not _measured(entry):
            rows.append([variant, f"skipped: {entry['skipped']}", *("—" for _ in range(7))])
            continue
        for index, measured in enumerate(entry["rounds"], 1):
            rows.append(
                [
                    f"{variant}, round {index}" + (" (creates the pool)" if index == 1 else ""),
                    f"{measured['wall_s']:.3f}",
                    f"{entry['ideal_wall_s']:.3f}",
                    f"{measured['runs_per_s']:,.0f}",
                    f"{measured['peak']}",
                    f"{entry['max_size']}",
                    f"{measured['failed']}",
                    f"{measured['cpu_s'] / entry['runs'] * 1000:.2f}",
                    f"{measured['samples']}",
                ]
            )
    if not rows:
        return None
    headers = ["reference, round", "wall s", "ideal wall s", "runs/s", "peak sessions",
               "max_size", "failed", "CPU ms/run", "counts"]  # fmt: skip
    runs = results["options"]["runs"]
    return Section(f"{runs:,} concurrent runs on one database reference", headers, rows)


def _sections(results: Results) -> list[Section | None]:
    return [
        verdict_section("Targets (issue 4)", targets(results)),
        _resolve_section(results),
        _secrets_section(results),
        _ratio_section(results),
        _concurrency_section(results),
    ]


def legend(results: Results) -> list[str]:
    options = results["options"]
    return [
        "Each Lockgate scenario runs in a fresh process (lockgate_side.py), Kailash in its own "
        "venv (kailash_side.py); all on the stock asyncio event loop.",
        f"Resolve: {options['iterations']:,} resolves per case in batches of "
        f"{options['batch']:,}, each through a fresh RunResources made before the batch's "
        "timing starts (its per-run memo would answer repeats from a dict); the figures are "
        "the batches' time per resolve. The pool exists before timing starts.",
        "Secret reads: the value is {'user', 'password'}. Cached reads are timed in batches "
        f"({options['cached_reads']:,}); uncached ones one by one ({options['uncached_reads']:,} "
        "for Lockgate after 50 unmeasured, "
        f"{options['kailash_reads']:,} for Kailash's env backend). Lockgate's uncached read is a "
        "store query plus two AES-GCM decryptions; Kailash's derives its key with PBKDF2-SHA256, "
        "100,000 iterations, in a thread (kailash.md §8).",
        "Concurrent runs: bootstrap.build with run_store memory://, inline_credentials naming "
        "the reference's secret, and a SecretManager over the in-memory store; one step: "
        "get_resource('db'), acquire, SELECT pg_sleep "
        f"({options['sleep'] * 1000:g} ms). All runs started at once with asyncio.gather; "
        "'ideal wall' = runs * sleep / max_size. Sessions are counted in pg_stat_activity by "
        "the reference's unique application_name, from a separate thread and connection. "
        "CPU ms/run is the process's CPU time (all threads, the sampler's included) over "
        "the runs: where it nears wall ÷ runs, the event loop, not the pool, sets the pace.",
    ]


REPORT = Report("Resources benchmark results", _sections, legend)
