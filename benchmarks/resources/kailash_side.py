"""The peer's half of the resources benchmark: Kailash 2.65's ``SecretManager`` reads.

Runs under the venv ``benchmarks/workflows/kailash_env.py`` makes, so it imports only the
standard library and kailash (never lockgate). With an encryption key, every uncached
``get_secret`` derives its key with PBKDF2-HMAC-SHA256 over 100,000 iterations (in
``asyncio.to_thread``) before Fernet decrypts the value (kailash.md §4 and §8):

- uncached (``cache_ttl=0``) on the default ``EnvironmentSecretBackend``;
- uncached on ``FileSecretBackend`` (a second envelope under its own master key);
- cached (``cache_ttl`` 300 s) after the first read, in batches.

    python kailash_side.py --reads 20 --cached-reads 100000

Prints one JSON object on stdout; Kailash's warnings go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kailash import __version__ as kailash_version  # type: ignore[import-not-found]
from kailash.gateway.security import (  # type: ignore[import-not-found]
    FileSecretBackend,
    SecretManager,
)

NAME = "bench_db_credentials"
VALUE = {"user": "app", "password": "s3cr3t-bench-value"}
PASSPHRASE = "kailash-benchmark-passphrase-of-more-than-32-characters"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _summary(values_us: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "median_us": _percentile(values_us, 0.5),
        "p90_us": _percentile(values_us, 0.9),
        "p99_us": _percentile(values_us, 0.99),
        "min_us": min(values_us, default=math.nan),
        "max_us": max(values_us, default=math.nan),
        "samples": len(values_us),
        **extra,
    }


async def _timed(operation: Callable[[], Awaitable[Any]], count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await operation()
        times.append((time.perf_counter() - start) * 1e6)
    return times


async def _check(manager: Any) -> None:
    if await manager.get_secret(NAME) != VALUE:
        raise RuntimeError("kailash returned another value than the one stored")


async def _measure(reads: int, file_reads: int, cached_reads: int, batch: int) -> dict[str, Any]:
    results: dict[str, Any] = {"version": kailash_version}
    writer = SecretManager(encryption_key=PASSPHRASE, cache_ttl=0)
    store_us = await _timed(lambda: writer.store_secret(NAME, VALUE, encrypt=True), 3)
    results["store_us"] = _summary(store_us)
    uncached = SecretManager(encryption_key=PASSPHRASE, cache_ttl=0)
    await _check(uncached)
    results["env"] = _summary(await _timed(lambda: uncached.get_secret(NAME), reads))

    cached = SecretManager(encryption_key=PASSPHRASE, cache_ttl=300)
    start = time.perf_counter()
    await _check(cached)
    results["cached_first_read_us"] = (time.perf_counter() - start) * 1e6
    per_op = []
    for _ in range(max(1, cached_reads // batch)):
        start = time.perf_counter()
        for _ in range(batch):
            await cached.get_secret(NAME)
        per_op.append((time.perf_counter() - start) / batch * 1e6)
    results["cached"] = _summary(per_op, operations=len(per_op) * batch, batch_size=batch)

    if file_reads > 0:
        with tempfile.TemporaryDirectory() as secrets_dir:
            backend = FileSecretBackend(secrets_dir, master_key=PASSPHRASE[::-1])
            on_file = SecretManager(backend=backend, encryption_key=PASSPHRASE, cache_ttl=0)
            await on_file.store_secret(NAME, VALUE, encrypt=True)
            await _check(on_file)
            times = await _timed(lambda: on_file.get_secret(NAME), file_reads)
            results["file"] = _summary(times)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reads", type=int, default=20, help="uncached reads, env backend")
    parser.add_argument("--file-reads", type=int, default=10, help="uncached reads, file")
    parser.add_argument("--cached-reads", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    os.environ.pop("KAILASH_ENCRYPTION_KEY", None)  # the key is the one passed here
    result = asyncio.run(_measure(args.reads, args.file_reads, args.cached_reads, args.batch))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
