"""The ``IAsyncInvocationStore`` contract, one suite run against memory, SQLite and the real
PostgreSQL on this machine (a fresh schema per test, dropped afterwards; PostgreSQL down
fails, not skips). ``durable`` tests run on the two that keep data across a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from lockgate.gateways.interfaces import IAsyncInvocationStore, IEventStore, IRunStore
from lockgate.gateways.stores.events.postgres import PostgresEventStore
from lockgate.gateways.stores.events.sqlite import SQLiteEventStore
from lockgate.gateways.stores.invocations.memory import InMemoryAsyncInvocationStore
from lockgate.gateways.stores.invocations.postgres import PostgresAsyncInvocationStore
from lockgate.gateways.stores.invocations.sqlite import SQLiteAsyncInvocationStore
from lockgate.gateways.stores.runs.postgres import PostgresRunStore
from lockgate.gateways.stores.runs.sqlite import SQLiteRunStore
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus
from tests.contract.backends import PG_DSN, Backend, Makers, backend_of
from tests.contract.queue_stores import (
    postgres_hides_the_password,
    refuses_a_newer_schema,
    refuses_when_closed,
    sqlite_durability_setting,
    sqlite_open_failure,
)

NOW = 1_700_000_000.0
LEASE = 30.0
QUEUED, SUCCEEDED, DEAD = (
    AsyncInvocationStatus.QUEUED,
    AsyncInvocationStatus.SUCCEEDED,
    AsyncInvocationStatus.DEAD,
)
PAYLOAD = '{"text": "héllo ✓", "n": 1}'.encode()

Store = IAsyncInvocationStore
MAKERS: dict[str, Callable[[Path, str], Store]] = {
    "memory": lambda _path, _schema: InMemoryAsyncInvocationStore(),
    "sqlite": lambda path, _schema: SQLiteAsyncInvocationStore(path),
    "postgres": lambda _path, schema: PostgresAsyncInvocationStore(PG_DSN, schema=schema),
}


@pytest.fixture
def makers() -> Makers:
    return MAKERS


def new(
    request_id: str = "r1",
    *,
    function: str = "fn",
    at: float = NOW,
    due: float | None = None,
    payload: bytes = PAYLOAD,
    qualifier: str | None = None,
    trace: str | None = None,
) -> AsyncInvocation:
    return AsyncInvocation(
        request_id=request_id,
        function=function,
        payload=payload,
        qualifier=qualifier,
        status=QUEUED,
        attempts=0,
        created_at=at,
        next_attempt_at=at if due is None else due,
        trace=trace,
    )


def ids(invocations: list[AsyncInvocation]) -> list[str]:
    return [i.request_id for i in invocations]


async def test_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, IAsyncInvocationStore)


async def test_enqueue_then_get(store: Store) -> None:
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await store.enqueue(new("r1", qualifier="live", trace=trace))
    await store.enqueue(new("r2", function="other", at=NOW + 1, due=NOW + 5))

    assert await store.get("r1") == new("r1", qualifier="live", trace=trace)
    claimed = await store.claim_due("node-1", NOW, LEASE, 1)
    assert [c.trace for c in claimed] == [trace]  # the attempt joins it
    assert await store.get("r2") == new("r2", function="other", at=NOW + 1, due=NOW + 5)
    assert await store.get("unknown") is None


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00\xff\xfe\x80 not UTF-8 \xc3\x28",
        '{"k": "\\u00e9 é ✓ 😀"}'.encode(),
        bytes(range(256)) * 1024,  # 256 KiB: Lambda's limit for an Event payload
    ],
    ids=["empty", "not-utf8", "json", "256KiB"],
)
async def test_payload_bytes_round_trip_exactly(backend: Backend[Store], payload: bytes) -> None:
    store = await backend.open()
    await store.enqueue(new(payload=payload))

    [claimed] = await store.claim_due("node", NOW, LEASE, 10)
    [listed] = await store.list_invocations()
    got = await store.get("r1")

    for seen in (claimed.payload, listed.payload, got and got.payload):
        assert type(seen) is bytes
        assert seen == payload
    if backend.kind == "sqlite":
        assert await backend.fetchval("SELECT typeof(payload) FROM lockgate_async_invocations") == (
            "blob"
        )
    if backend.kind == "postgres":
        stored = await backend.fetchval("SELECT payload FROM {t}lockgate_async_invocations")
        assert stored == payload


async def test_enqueue_refuses_a_duplicate_and_writes_nothing(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.claim_due("node", NOW, LEASE, 10)
    held = await store.get("r1")

    with pytest.raises(ValueError, match="async invocation r1 is already stored"):
        await store.enqueue(new("r1", function="other", payload=b"other", at=NOW + 9))

    assert await store.get("r1") == held
    assert ids(await store.list_invocations()) == ["r1"]


async def test_a_full_queue_refuses_one_more_of_that_function_only(store: Store) -> None:
    assert await store.enqueue(new("r1"), max_queued=2) is True
    assert await store.enqueue(new("r2"), max_queued=2) is True
    assert await store.claim_due("node", NOW, LEASE, 1)  # claimed is still queued: counted

    assert await store.enqueue(new("r3"), max_queued=2) is False
    assert await store.enqueue(new("o1", function="other"), max_queued=2) is True
    assert await store.enqueue(new("r4")) is True  # no cap asked: accepted
    assert await store.get("r3") is None

    await store.succeed("r1", NOW + 1)
    await store.succeed("r2", NOW + 1)
    assert await store.enqueue(new("r5"), max_queued=2) is True  # r4 and r5
    with pytest.raises(ValueError, match="async invocation r5 is already stored"):
        await store.enqueue(new("r5"), max_queued=10)


async def test_enqueue_refuses_what_is_not_new(store: Store) -> None:
    with pytest.raises(TypeError, match="payload of async invocation r1 must be bytes, got str"):
        await store.enqueue(new(payload="{}"))  # type: ignore[arg-type]
    not_new = [
        replace(new(), status=DEAD),
        replace(new(), attempts=1),
        replace(new(), error="boom"),
        replace(new(), finished_at=NOW),
    ]
    for invocation in not_new:
        with pytest.raises(ValueError, match="async invocation r1 is not new"):
            await store.enqueue(invocation)
    with pytest.raises(ValueError, match="request_id"):
        await store.enqueue(new(""))
    assert await store.list_invocations() == []


async def test_a_claim_counts_an_attempt_and_leases_it(store: Store) -> None:
    await store.enqueue(new("r1"))

    [claimed] = await store.claim_due("node-1", NOW, LEASE, 10)

    expected = replace(new("r1"), attempts=1, next_attempt_at=NOW + LEASE)
    assert claimed == expected
    assert await store.get("r1") == expected  # as stored: still queued, due when it lapses


async def test_a_held_invocation_is_not_claimed_until_its_lease_lapses(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.claim_due("node-1", NOW, LEASE, 10)

    assert await store.claim_due("node-2", NOW + 1, LEASE, 10) == []
    assert await store.claim_due("node-2", NOW + LEASE - 0.001, LEASE, 10) == []
    [again] = await store.claim_due("node-2", NOW + LEASE, LEASE, 10)

    assert (again.attempts, again.next_attempt_at) == (2, NOW + 2 * LEASE)
    assert await store.claim_due("node-1", NOW + LEASE + 1, LEASE, 10) == []


async def test_release_makes_an_owners_held_invocations_due(store: Store) -> None:
    for request_id in ("r1", "r2", "r3", "r4"):
        await store.enqueue(new(request_id))
    await store.claim_due("node-1", NOW, LEASE, 3)
    await store.fail("r3", "boom", NOW, NOW + 500)  # waiting for a retry: not held
    await store.claim_due("node-2", NOW, LEASE, 10)  # r4

    assert await store.release("node-1", NOW + 1) == 2
    assert await store.release("node-1", NOW + 1) == 0  # nothing held any more

    released = await store.get("r1")
    assert released == replace(new("r1"), attempts=1, next_attempt_at=NOW + 1)  # still counted
    [r1, r2] = await store.claim_due("node-2", NOW + 1, LEASE, 10)
    assert (r1.request_id, r1.attempts, r2.request_id, r2.attempts) == ("r1", 2, "r2", 2)
    retrying = await store.get("r3")
    assert retrying is not None
    assert retrying.next_attempt_at == NOW + 500
    # A lease that lapsed is held no more: nothing to release, and its due time stays.
    assert await store.release("node-2", NOW + 1000) == 0
    r4 = await store.get("r4")
    assert r4 is not None
    assert r4.next_attempt_at == NOW + LEASE


async def test_nothing_is_due_before_its_time(store: Store) -> None:
    await store.enqueue(new("r1", due=NOW + 10))
    assert await store.claim_due("node", NOW + 9.999, LEASE, 10) == []
    assert ids(await store.claim_due("node", NOW + 10, LEASE, 10)) == ["r1"]


async def test_due_longest_comes_first_and_limits(store: Store) -> None:
    # Due order, not acceptance order; ties by request id.
    for request_id, due in (("r3", NOW + 3), ("r1", NOW + 1), ("r0", NOW + 2), ("r2", NOW + 2)):
        await store.enqueue(new(request_id, due=due))

    assert await store.claim_due("node", NOW + 5, LEASE, 0) == []
    assert ids(await store.claim_due("node", NOW + 5, LEASE, 2)) == ["r1", "r0"]
    assert ids(await store.claim_due("node", NOW + 5, LEASE, 5)) == ["r2", "r3"]


async def test_a_claim_skips_the_functions_it_is_told_to(store: Store) -> None:
    await store.enqueue(new("r1", function="busy", due=NOW))
    await store.enqueue(new("r2", function="idle", due=NOW + 1))
    await store.enqueue(new("r3", function="other-busy", due=NOW + 2))

    claimed = await store.claim_due(
        "node", NOW + 5, LEASE, 10, skip_functions=["busy", "other-busy"]
    )

    assert ids(claimed) == ["r2"]
    assert ids(await store.claim_due("node", NOW + 5, LEASE, 10, skip_functions=())) == [
        "r1",
        "r3",
    ]


async def test_a_failure_without_an_error_keeps_the_last_one(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.claim_due("node", NOW, LEASE, 10)
    await store.fail("r1", "first failure", NOW + 1, NOW + 2)
    await store.claim_due("node", NOW + 2, LEASE, 10)

    await store.fail("r1", None, NOW + 3, NOW + 3, counted=False)  # put off, not failed

    kept = await store.get("r1")
    assert kept is not None
    assert (kept.error, kept.attempts, kept.next_attempt_at) == ("first failure", 1, NOW + 3)


async def test_succeed_finishes_it(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.enqueue(new("r2"))
    await store.claim_due("node", NOW, LEASE, 10)

    await store.succeed("r1", NOW + 1)
    await store.succeed("r1", NOW + 2)  # a no-op: it is not queued
    await store.succeed("unknown", NOW + 2)  # a no-op too

    done = await store.get("r1")
    assert done == replace(
        new("r1"), status=SUCCEEDED, attempts=1, next_attempt_at=NOW + LEASE, finished_at=NOW + 1
    )
    assert ids(await store.claim_due("node", NOW + 10 * LEASE, LEASE, 10)) == ["r2"]
    assert ids(await store.list_invocations(SUCCEEDED)) == ["r1"]


async def test_fail_with_a_retry_time_queues_it_again(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.claim_due("node", NOW, LEASE, 10)

    await store.fail("r1", '{"errorMessage": "boom"}', NOW + 1, NOW + 100)

    stored = await store.get("r1")
    assert stored == replace(
        new("r1"), attempts=1, next_attempt_at=NOW + 100, error='{"errorMessage": "boom"}'
    )
    assert await store.claim_due("node", NOW + 99, LEASE, 10) == []
    [retried] = await store.claim_due("node", NOW + 100, LEASE, 10)
    assert (retried.attempts, retried.error) == (2, '{"errorMessage": "boom"}')


async def test_fail_without_a_retry_makes_it_dead(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.enqueue(new("r2"))
    await store.claim_due("node", NOW, LEASE, 10)

    await store.fail("r1", "gave up after 3 attempts", NOW + 5, None)

    [dead] = await store.list_invocations(DEAD)
    assert dead == replace(
        new("r1"),
        status=DEAD,
        attempts=1,
        next_attempt_at=NOW + LEASE,
        error="gave up after 3 attempts",
        finished_at=NOW + 5,
    )
    assert ids(await store.claim_due("node", NOW + 10 * LEASE, LEASE, 10)) == ["r2"]
    await store.fail("r1", "late", NOW + 6, NOW + 7)  # only a queued invocation can fail
    await store.succeed("r1", NOW + 6)  # nor succeed
    assert await store.get("r1") == dead


async def test_an_uncounted_failure_refunds_its_claim(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.claim_due("node", NOW, LEASE, 10)

    await store.fail("r1", "throttled", NOW + 1, NOW + 2, counted=False)
    stored = await store.get("r1")
    assert stored is not None
    assert (stored.attempts, stored.error, stored.next_attempt_at) == (0, "throttled", NOW + 2)

    [claimed] = await store.claim_due("node", NOW + 2, LEASE, 10)
    assert claimed.attempts == 1
    await store.fail("r1", "boom", NOW + 3, NOW + 4)  # counted: the attempt stays
    [claimed] = await store.claim_due("node", NOW + 4, LEASE, 10)
    assert claimed.attempts == 2
    await store.fail("r1", "throttled, giving up", NOW + 5, None, counted=False)

    stored = await store.get("r1")
    assert stored is not None
    assert (stored.status, stored.attempts, stored.finished_at) == (DEAD, 1, NOW + 5)


async def test_an_uncounted_failure_never_goes_below_zero(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.fail("r1", "throttled", NOW, NOW + 1, counted=False)  # never claimed
    stored = await store.get("r1")
    assert stored is not None
    assert stored.attempts == 0


async def test_a_late_outcome_never_reopens_a_finished_invocation(store: Store) -> None:
    await store.enqueue(new("r1"))
    await store.claim_due("slow-node", NOW, 1.0, 10)
    await store.claim_due("other-node", NOW + 2, 1.0, 10)  # the first lease lapsed
    await store.succeed("r1", NOW + 3)

    await store.fail("r1", "slow-node timed out", NOW + 4, NOW + 5)
    await store.fail("r1", "slow-node timed out", NOW + 4, None)
    await store.succeed("r1", NOW + 6)

    stored = await store.get("r1")
    assert stored is not None
    assert (stored.status, stored.finished_at, stored.error) == (SUCCEEDED, NOW + 3, None)
    assert await store.claim_due("node", NOW + 100, 1.0, 10) == []


async def test_list_oldest_accepted_first_with_filters(store: Store) -> None:
    # Acceptance order, not insertion or due order; ties by request id.
    await store.enqueue(new("d", function="f1", at=NOW + 3, due=NOW))
    await store.enqueue(new("b", function="f2", at=NOW + 1))
    await store.enqueue(new("a", function="f1", at=NOW + 1, due=NOW + 50))
    await store.enqueue(new("c", function="f1", at=NOW + 2))
    await store.claim_due("node", NOW + 2, LEASE, 10)
    await store.fail("c", "boom", NOW + 2, None)
    await store.succeed("b", NOW + 2)

    assert ids(await store.list_invocations()) == ["a", "b", "c", "d"]
    assert ids(await store.list_invocations(limit=2)) == ["a", "b"]
    assert await store.list_invocations(limit=0) == []
    assert ids(await store.list_invocations(function="f1")) == ["a", "c", "d"]
    assert ids(await store.list_invocations(QUEUED)) == ["a", "d"]
    assert ids(await store.list_invocations(DEAD)) == ["c"]
    assert ids(await store.list_invocations(SUCCEEDED, function="f1")) == []
    assert ids(await store.list_invocations(QUEUED, function="f1", limit=1)) == ["a"]
    assert ids(await store.list_invocations(function="unknown")) == []


async def _bury(store: Store, *invocations: AsyncInvocation) -> None:
    """Enqueue, claim and kill each (failing it, with an error)."""
    for invocation in invocations:
        await store.enqueue(invocation)
    await store.claim_due("node", NOW + 10, LEASE, 100)
    for invocation in invocations:
        await store.fail(invocation.request_id, f"{invocation.request_id} failed", NOW + 11, None)


async def test_redrive_by_id_requeues_only_dead_ones(store: Store) -> None:
    await _bury(store, new("d1", at=NOW + 2), new("d2", at=NOW + 1), new("d3"))
    await store.enqueue(new("queued", due=NOW + 500))
    await store.enqueue(new("done"))
    await store.claim_due("node", NOW + 100, LEASE, 10)
    await store.succeed("done", NOW + 101)
    before = {i.request_id: i for i in await store.list_invocations()}

    requeued = await store.redrive(
        NOW + 200, ["d1", "queued", "done", "unknown", "d2", "d1", "queued"]
    )

    assert requeued == ["d2", "d1"]  # oldest accepted first, once each
    for request_id in requeued:
        assert await store.get(request_id) == replace(
            before[request_id],
            status=QUEUED,
            attempts=0,
            error=None,
            finished_at=None,
            next_attempt_at=NOW + 200,
        )
    for request_id in ("d3", "queued", "done"):
        assert await store.get(request_id) == before[request_id]
    assert ids(await store.claim_due("node", NOW + 200, LEASE, 10)) == ["d1", "d2"]


async def test_redrive_by_function_and_all(store: Store) -> None:
    await _bury(
        store,
        new("a1", function="a", at=NOW + 1),
        new("b1", function="b", at=NOW + 2),
        new("a2", function="a", at=NOW),
        new("b2", function="b", at=NOW + 3),
    )

    assert await store.redrive(NOW + 20, function="a") == ["a2", "a1"]
    assert ids(await store.list_invocations(DEAD)) == ["b1", "b2"]
    assert await store.redrive(NOW + 20, function="a") == []
    assert await store.redrive(NOW + 20, function="unknown") == []
    assert await store.redrive(NOW + 20) == ["b1", "b2"]
    assert await store.list_invocations(DEAD) == []
    assert await store.redrive(NOW + 20) == []
    assert ids(await store.claim_due("node", NOW + 20, LEASE, 10)) == ["a1", "a2", "b1", "b2"]


async def test_redrive_ids_of_a_function_and_bad_ids(store: Store) -> None:
    await _bury(store, new("a1", function="a"), new("b1", function="b"))

    assert await store.redrive(NOW + 20, []) == []  # no ids: none, not every dead one
    assert await store.redrive(NOW + 20, ["a1", "b1"], function="b") == ["b1"]
    with pytest.raises(TypeError, match="not the string 'a1'"):
        await store.redrive(NOW + 20, "a1")
    with pytest.raises(TypeError, match="request ids must be strings"):
        await store.redrive(NOW + 20, ["a1", 7])  # type: ignore[list-item]
    assert ids(await store.list_invocations(DEAD)) == ["a1"]


async def test_purge_succeeded(store: Store) -> None:
    for request_id in ("s1", "s2", "s3", "dead", "queued"):
        await store.enqueue(new(request_id))
    await store.claim_due("node", NOW, LEASE, 10)
    await store.succeed("s3", NOW + 10)
    await store.succeed("s1", NOW + 11)
    await store.succeed("s2", NOW + 12)
    await store.fail("dead", "boom", NOW + 1, None)

    assert await store.purge_succeeded(NOW + 12, limit=0) == 0
    assert await store.purge_succeeded(NOW + 12, limit=1) == 1  # the first finished: s3
    assert await store.get("s3") is None
    assert await store.purge_succeeded(NOW + 12) == 1  # s1; s2 finished at NOW + 12, not before
    assert ids(await store.list_invocations()) == ["dead", "queued", "s2"]
    assert await store.purge_succeeded(NOW + 1000) == 1
    assert ids(await store.list_invocations()) == ["dead", "queued"]


@pytest.mark.parametrize("limit", [-1, 1.5, True, "3"])
async def test_limits_are_checked(store: Store, limit: object) -> None:
    await store.enqueue(new("r1"))
    bad: int = limit  # type: ignore[assignment]
    with pytest.raises(ValueError, match="limit must be a whole number"):
        await store.claim_due("node", NOW, LEASE, bad)
    with pytest.raises(ValueError, match="limit must be a whole number"):
        await store.list_invocations(limit=bad)
    with pytest.raises(ValueError, match="limit must be a whole number"):
        await store.purge_succeeded(NOW, limit=bad)
    for lease in (0, -1.0):
        with pytest.raises(ValueError, match="lease_seconds must be > 0"):
            await store.claim_due("node", NOW, lease, 10)
    assert await store.get("r1") == new("r1")  # nothing was claimed


# -- durability, several stores, schema ---------------------------------------------------


async def test_reopening_keeps_everything(durable: Backend[Store]) -> None:
    first = await durable.open()
    for request_id in ("done", "dead", "retry", "held"):
        await first.enqueue(new(request_id, payload=b"\xff" + request_id.encode()))
    await first.enqueue(new("fresh", at=NOW + 1, qualifier="live"))
    await first.claim_due("node", NOW, LEASE, 4)
    await first.succeed("done", NOW + 1)
    await first.fail("dead", "gave up", NOW + 1, None)
    await first.fail("retry", "later", NOW + 1, NOW + 100)
    before = await first.list_invocations()
    await first.close()

    second = await durable.open()

    assert await second.list_invocations() == before
    assert [i.status for i in before] == [DEAD, SUCCEEDED, QUEUED, QUEUED, QUEUED]
    assert ids(await second.claim_due("node", NOW + 1, LEASE, 10)) == ["fresh"]
    # held: its lease (taken through the first store) lapses at NOW + 30; fresh: at NOW + 31.
    assert ids(await second.claim_due("node", NOW + 100, LEASE, 10)) == ["held", "fresh", "retry"]
    assert await second.redrive(NOW + 200) == ["dead"]


async def test_two_stores_see_each_others_writes(durable: Backend[Store]) -> None:
    one, two = await durable.open(), await durable.open()
    await one.enqueue(new("r1"))

    assert await two.get("r1") == new("r1")
    with pytest.raises(ValueError, match="already stored"):
        await two.enqueue(new("r1"))
    [claimed] = await two.claim_due("node-2", NOW, LEASE, 10)
    assert await one.claim_due("node-1", NOW + 1, LEASE, 10) == []
    await one.fail("r1", "boom", NOW + 2, None)
    assert ids(await two.list_invocations(DEAD)) == ["r1"]
    assert await two.redrive(NOW + 3) == ["r1"]
    [again] = await one.claim_due("node-1", NOW + 3, LEASE, 10)
    assert (claimed.attempts, again.attempts) == (1, 1)
    await two.succeed("r1", NOW + 4)
    assert await one.purge_succeeded(NOW + 5) == 1
    assert await two.get("r1") is None


async def test_concurrent_claimers_never_share_an_invocation(durable: Backend[Store]) -> None:
    nodes = [await durable.open(), await durable.open()]
    for i in range(200):
        await nodes[i % 2].enqueue(new(f"r{i:03}", due=NOW + i % 7))

    async def drain(node: Store, owner: str) -> list[str]:
        taken: list[str] = []
        while claimed := await node.claim_due(owner, NOW + 100, LEASE, 7):
            taken += ids(claimed)
            await asyncio.sleep(0)  # "handles" them: lets the other claimers in
        return taken

    claims = await asyncio.wait_for(
        asyncio.gather(
            *(drain(node, f"node-{n}-{i}") for n, node in enumerate(nodes) for i in range(3))
        ),
        timeout=60,  # a guard against a hang, not a timing claim
    )

    taken = [request_id for claim in claims for request_id in claim]
    assert sorted(taken) == [f"r{i:03}" for i in range(200)]  # each once, none lost
    for request_id in ("r000", "r199"):
        stored = await nodes[0].get(request_id)
        assert stored is not None
        assert stored.attempts == 1
    if durable.kind == "postgres":  # SQLite's busy wait may let one node take everything
        assert any(claims[:3]), "the first store claimed"
        assert any(claims[3:]), "the second store claimed"


async def test_postgres_claims_skip_rows_locked_by_another_node(tmp_path: Path) -> None:
    async with backend_of("postgres", tmp_path, MAKERS) as backend:
        store = await backend.open()
        for request_id in ("r1", "r2", "r3"):
            await store.enqueue(new(request_id))
        connection = await asyncpg.connect(PG_DSN)
        try:
            async with connection.transaction():
                # Another node in the middle of claiming r1 (its row locked, not yet updated).
                await connection.execute(
                    f'SELECT 1 FROM "{backend.schema}".lockgate_async_invocations '
                    "WHERE request_id = 'r1' FOR UPDATE"
                )
                claimed = await asyncio.wait_for(store.claim_due("node", NOW, LEASE, 10), 30)
                assert ids(claimed) == ["r2", "r3"]  # skipped, not waited for
        finally:
            await connection.close()
        assert ids(await store.claim_due("node", NOW, LEASE, 10)) == ["r1"]


async def test_a_newer_schema_is_refused(durable: Backend[Store]) -> None:
    await refuses_a_newer_schema(durable, "lockgate_async_invocation_schema")


async def test_lives_beside_the_run_and_event_stores(tmp_path: Path, pg_schema_name: str) -> None:
    path = tmp_path / "x.sqlite3"
    groups: list[tuple[IRunStore, IEventStore, Store]] = [
        (SQLiteRunStore(path), SQLiteEventStore(path), SQLiteAsyncInvocationStore(path)),
        (
            PostgresRunStore(PG_DSN, schema=pg_schema_name),
            PostgresEventStore(PG_DSN, schema=pg_schema_name),
            PostgresAsyncInvocationStore(PG_DSN, schema=pg_schema_name),
        ),
    ]
    for runs, events, invocations in groups:
        await runs.open()
        await events.open()
        await invocations.open()
        try:
            await invocations.enqueue(new())
            assert ids(await invocations.claim_due("node", NOW, LEASE, 10)) == ["r1"]
            assert await events.deliveries() == []
        finally:
            await invocations.close()
            await invocations.close()  # idempotent
            await events.close()
            await runs.close()


async def test_closed_store_refuses(tmp_path: Path, pg_schema_name: str) -> None:
    stores: list[Store] = [
        SQLiteAsyncInvocationStore(tmp_path / "x.sqlite3"),
        PostgresAsyncInvocationStore(PG_DSN, schema=pg_schema_name),
    ]
    for candidate in stores:
        await refuses_when_closed(
            candidate,
            "async invocation store",
            lambda s: s.list_invocations(),
            lambda s: s.enqueue(new()),
        )


async def test_sqlite_durability_setting(tmp_path: Path) -> None:
    await sqlite_durability_setting(SQLiteAsyncInvocationStore, tmp_path / "x.sqlite3")


async def test_sqlite_open_failure_is_a_store_error(tmp_path: Path) -> None:
    await sqlite_open_failure(SQLiteAsyncInvocationStore, tmp_path, "the async invocation store")


def test_postgres_schema_is_validated() -> None:
    with pytest.raises(ValueError, match="identifier"):
        PostgresAsyncInvocationStore(PG_DSN, schema='x"; DROP TABLE y; --')


async def test_postgres_errors_hide_the_password() -> None:
    await postgres_hides_the_password(PostgresAsyncInvocationStore)
