"""The in-memory work queue keeps an index of its waiting rows, which claims look through
instead of every row kept: it holds exactly the rows not yet done, however they got there
(added, claimed, retried, completed, dead, re-driven, purged)."""

from __future__ import annotations

from lockgate.gateways.stores.work_queue.memory import InMemoryWorkQueue, QueueRow


def queue() -> InMemoryWorkQueue[str]:
    return InMemoryWorkQueue(lambda row: row.key, waiting="queued", done="succeeded", what="ids")


def row(key: str, at: float = 0.0, status: str = "queued") -> QueueRow:
    return QueueRow(key, "f", (key,), status, at, at, None)


def waiting_in_step(q: InMemoryWorkQueue[str]) -> set[str]:
    expected = {key for key, r in q.rows.items() if r.status == "queued"}
    assert set(q.waiting) == expected
    return expected


async def test_the_waiting_index_follows_every_change_of_status() -> None:
    q = queue()
    for key in ("a", "b", "c", "d"):
        q.add(row(key))
    assert q.add(row("a", at=9.0)).next_attempt_at == 0.0  # a second add keeps the first
    assert await q.claim_due("n1", 1.0, 10.0, 3) == ["a", "b", "c"]
    await q.complete("a", 2.0)
    await q.fail("b", "boom", 2.0, retry_at=None)  # dead
    await q.fail("c", "boom", 2.0, retry_at=5.0)  # retried later
    assert waiting_in_step(q) == {"c", "d"}
    assert await q.claim_due("n1", 6.0, 10.0, 10) == ["d", "c"]
    assert await q.redrive(7.0) == ["b"]
    assert waiting_in_step(q) == {"b", "c", "d"}
    assert await q.purge(before=10.0) == 1  # "a"
    assert waiting_in_step(q) == {"b", "c", "d"}
    for key in ("b", "c", "d"):
        await q.complete(key, 8.0)
    assert waiting_in_step(q) == set()
    assert await q.claim_due("n1", 100.0, 10.0, 10) == []
