"""EventBus: delivery to async and sync subscribers, isolation of a raising or hanging one,
retries and dead letters in memory, the durable outbox (recorded before the publication is
awaited, completed, retried, dead, delivered after a restart), publishing from another
thread, bad input, ``current_event()`` and logs without payloads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from lockgate.errors import ModuleCallError, RunStoreError
from lockgate.gateways.stores.events.memory import InMemoryEventStore
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord
from lockgate.use_cases.events.bus import EventBus, current_event
from lockgate.use_cases.events.delivery import (
    HandlerNotStartedError,
    RetryPolicy,
    Subscription,
    call_handler,
)
from lockgate.use_cases.work_queue.backoff import Backoff
from tests.support import ManualClock, eventually

EVENT = "therapy_session.scheduled"
DATA = {"session_id": 7, "patient_id": 1, "therapist_id": 2}
# A guard against a hang, not a timing assertion: the tests below finish in milliseconds.
GUARD = 5.0
FAST: dict[str, Any] = {"backoff": 0.001, "max_backoff": 0.01, "poll_interval": 0.01}


@pytest.fixture
async def make_bus() -> AsyncIterator[Callable[..., Any]]:
    """Builds and starts buses (fast retries unless told otherwise); stops them after."""
    buses: list[EventBus] = []

    async def make(store: InMemoryEventStore | None = None, **options: Any) -> EventBus:
        bus = EventBus(store, **{**FAST, **options})
        await bus.start()
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.stop(grace=0)


async def dead(bus: EventBus, count: int = 1) -> list[Delivery]:
    """Wait until ``count`` deliveries are dead and return them."""
    found: list[Delivery] = []
    async with asyncio.timeout(GUARD):
        while len(found) < count:
            await asyncio.sleep(0.002)
            found = await bus.deliveries(DeliveryStatus.DEAD)
    return found


class CountingStore(InMemoryEventStore):
    """Counts the bus's polls (claims from its queue), so a test that nothing happened
    waits for polls, not time."""

    def __init__(self) -> None:
        super().__init__()
        self.polls = 0
        claim = self.queue.claim_due

        async def counted(*args: Any, **kwargs: Any) -> list[Delivery]:
            self.polls += 1
            return await claim(*args, **kwargs)

        self.queue.claim_due = counted  # type: ignore[method-assign]


async def polled(store: CountingStore, times: int = 3) -> None:
    """Wait until the bus has polled ``store`` ``times`` more times."""
    target = store.polls + times
    await eventually(lambda: store.polls >= target)


class Recorder:
    """A subscriber: records what it receives and the event being delivered."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.events: list[EventRecord] = []
        self.done = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    async def on_async(self, data: Any) -> None:
        self.received.append(data)
        self.events.append(current_event())
        self.done.set()

    def on_sync(self, data: Any) -> None:  # runs in a worker thread
        self.received.append(data)
        self.events.append(current_event())
        self._loop.call_soon_threadsafe(self.done.set)


# --- in memory -----------------------------------------------------------------------------


async def test_delivers_to_async_and_sync_subscribers(make_bus: Any) -> None:
    bus = await make_bus()
    first, second = Recorder(), Recorder()
    async_id = bus.subscribe(EVENT, first.on_async, "notifications")
    sync_id = bus.subscribe(EVENT, second.on_sync, "audit")
    assert async_id == f"notifications:{EVENT}:Recorder.on_async"
    assert sync_id == f"audit:{EVENT}:Recorder.on_sync"

    publication = bus.publish(EVENT, DATA, "mentalhealth")
    assert await publication == publication.event_id
    async with asyncio.timeout(GUARD):
        await first.done.wait()
        await second.done.wait()

    assert first.received == second.received == [DATA]
    for recorder in (first, second):
        (event,) = recorder.events
        assert (event.event_id, event.name, event.source_module) == (
            publication.event_id,
            EVENT,
            "mentalhealth",
        )
    await eventually(lambda: bus.stats()["delivered"] == 2)
    assert bus.stats() == {
        "published": 1,
        "delivered": 2,
        "failed_attempts": 0,
        "dead": 0,
        "in_flight": 0,
    }


async def test_raising_and_hanging_subscribers_do_not_stop_the_others(make_bus: Any) -> None:
    bus = await make_bus(max_attempts=1, delivery_timeout=0.05)
    good = Recorder()
    never = asyncio.Event()

    async def raises(data: Any) -> None:
        raise RuntimeError("boom")

    async def hangs(data: Any) -> None:
        await never.wait()

    bus.subscribe(EVENT, raises, "a")
    bus.subscribe(EVENT, hangs, "b")
    bus.subscribe(EVENT, good.on_async, "c")
    await bus.publish(EVENT, DATA, "mentalhealth")

    letters = {letter.subscriber.split(":")[0]: letter for letter in await dead(bus, 2)}
    assert good.received == [DATA]
    assert letters["a"].error == "RuntimeError: boom"
    assert letters["b"].error is not None
    assert "timed out" in letters["b"].error
    assert all(letter.status is DeliveryStatus.DEAD for letter in letters.values())
    assert bus.dead_letters() == await bus.deliveries()


async def test_retries_with_backoff_then_keeps_a_dead_letter(make_bus: Any) -> None:
    bus = await make_bus(max_attempts=3)
    calls: list[Any] = []

    def fails(data: Any) -> None:
        calls.append(data)
        raise ValueError("no such patient")

    subscriber = bus.subscribe(EVENT, fails, "notifications")
    publication = bus.publish(EVENT, DATA, "mentalhealth")

    (letter,) = await dead(bus)
    assert (letter.subscriber, letter.attempts, letter.error) == (
        subscriber,
        3,
        "ValueError: no such patient",
    )
    assert letter.event.event_id == publication.event_id
    assert letter.event.data == DATA
    assert calls == [DATA] * 3
    assert await bus.deliveries(DeliveryStatus.COMPLETED) == []
    stats = bus.stats()
    assert (stats["failed_attempts"], stats["dead"], stats["delivered"]) == (3, 1, 0)


async def test_a_retry_that_succeeds_is_delivered_once(make_bus: Any) -> None:
    bus = await make_bus(max_attempts=5)
    calls = 0

    async def flaky(data: Any) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("smtp down")

    bus.subscribe(EVENT, flaky, "notifications")
    bus.publish(EVENT, DATA, "mentalhealth")
    await eventually(lambda: bus.stats()["delivered"] == 1)
    assert calls == 3
    assert bus.dead_letters() == []
    assert bus.stats()["failed_attempts"] == 2


async def test_data_is_copied_for_every_subscriber(make_bus: Any) -> None:
    bus = await make_bus()
    seen: list[Any] = []

    async def mutates(data: dict[str, Any]) -> None:
        data["patient_id"] = "changed"

    async def reads(data: Any) -> None:
        await asyncio.sleep(0.01)  # after the other subscriber's edit
        seen.append(data)

    bus.subscribe(EVENT, mutates, "a")
    bus.subscribe(EVENT, reads, "b")
    data: dict[str, Any] = {"patient_id": 1, "tags": ["x"]}
    bus.publish(EVENT, data, "mentalhealth")
    data["tags"].append("later")  # the publisher's own edit after publishing
    await eventually(lambda: seen)
    assert seen == [{"patient_id": 1, "tags": ["x"]}]


async def test_stop_waits_for_deliveries_within_the_grace(make_bus: Any) -> None:
    bus = await make_bus()
    release = asyncio.Event()
    finished: list[str] = []

    async def slow(data: Any) -> None:
        await release.wait()
        finished.append(current_event().event_id)

    bus.subscribe(EVENT, slow, "notifications")
    publication = bus.publish(EVENT, DATA, "mentalhealth")
    await eventually(lambda: bus.stats()["in_flight"] == 1)
    asyncio.get_running_loop().call_later(0.01, release.set)
    await bus.stop(grace=GUARD)
    assert finished == [publication.event_id]
    with pytest.raises(RuntimeError, match="not started"):
        bus.publish(EVENT, DATA, "mentalhealth")


# --- subscriptions and bad input -------------------------------------------------------------


async def test_subscribe_rules(make_bus: Any) -> None:
    bus = await make_bus()
    first, second = Recorder(), Recorder()
    subscriber = bus.subscribe(EVENT, first.on_async, "notifications")
    assert bus.subscribe(EVENT, first.on_async, "notifications") == subscriber  # a no-op
    with pytest.raises(ValueError, match=subscriber):
        bus.subscribe(EVENT, second.on_async, "notifications")
    with pytest.raises(TypeError, match="not callable"):
        bus.subscribe(EVENT, "handler", "notifications")
    with pytest.raises(ValueError, match="event"):
        bus.subscribe("", first.on_async, "notifications")

    await bus.publish(EVENT, DATA, "mentalhealth")
    await eventually(lambda: bus.stats()["delivered"] == 1)
    assert first.received == [DATA]  # once, although subscribed twice

    bus.unsubscribe(subscriber)
    await bus.publish(EVENT, DATA, "mentalhealth")
    with pytest.raises(ValueError, match=subscriber):
        bus.unsubscribe(subscriber)
    assert bus.subscribe(EVENT, second.on_async, "notifications") == subscriber
    assert first.received == [DATA]


async def test_unknown_modules_are_refused(make_bus: Any) -> None:
    bus = await make_bus(known_modules=lambda: {"users", "notifications"})
    with pytest.raises(ModuleCallError, match="'billing'") as caught:
        bus.subscribe(EVENT, Recorder().on_async, "billing")
    assert caught.value.fields["module"] == "billing"
    with pytest.raises(ModuleCallError, match="'mentalhealth'"):
        bus.publish(EVENT, DATA, "mentalhealth")
    bus.subscribe(EVENT, Recorder().on_async, "notifications")


async def test_non_json_data_is_refused_naming_the_event(make_bus: Any) -> None:
    bus = await make_bus()
    with pytest.raises(TypeError, match=EVENT):
        bus.publish(EVENT, {"at": datetime.datetime.now(tz=datetime.UTC)}, "mentalhealth")
    with pytest.raises(TypeError, match=EVENT):
        bus.publish(EVENT, {"ids": {1, 2}}, "mentalhealth")
    assert bus.stats()["published"] == 0


def test_publish_before_start_is_refused() -> None:
    bus = EventBus()
    with pytest.raises(RuntimeError, match="not started"):
        bus.publish(EVENT, DATA, "mentalhealth")


async def test_publish_before_start_is_refused_inside_a_loop() -> None:
    bus = EventBus(InMemoryEventStore())
    with pytest.raises(RuntimeError, match="not started"):
        bus.publish(EVENT, DATA, "mentalhealth")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_attempts", 0),
        ("backoff", -1.0),
        ("delivery_timeout", 0.0),
        ("lease_seconds", -1.0),
        ("poll_interval", 0.0),
        ("handler_threads", 0),
        ("max_in_flight", 0),
        ("node_id", ""),
    ],
)
def test_bad_options_are_named(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=option):
        EventBus(**{option: value})


async def test_deliveries_in_memory_are_the_dead_letters(make_bus: Any) -> None:
    bus = await make_bus()
    assert await bus.deliveries() == []
    assert await bus.deliveries(DeliveryStatus.PENDING) == []
    with pytest.raises(ValueError, match="limit"):
        await bus.deliveries(limit=0)


def test_current_event_outside_a_handler_is_refused() -> None:
    with pytest.raises(RuntimeError, match="inside an event handler"):
        current_event()


# --- threads and logs ----------------------------------------------------------------------


@pytest.mark.parametrize("durable", [False, True])
async def test_publish_from_another_thread(make_bus: Any, durable: bool) -> None:
    bus = await make_bus(InMemoryEventStore() if durable else None)
    recorder = Recorder()
    bus.subscribe(EVENT, recorder.on_async, "notifications")
    publication = await asyncio.to_thread(bus.publish, EVENT, DATA, "mentalhealth")
    assert await publication == publication.event_id
    async with asyncio.timeout(GUARD):
        await recorder.done.wait()
    assert recorder.received == [DATA]
    assert recorder.events[0].event_id == publication.event_id


@pytest.mark.parametrize("durable", [False, True])
async def test_payloads_never_reach_the_logs(
    make_bus: Any, caplog: pytest.LogCaptureFixture, durable: bool
) -> None:
    caplog.set_level(logging.DEBUG, logger="lockgate.events")
    bus = await make_bus(InMemoryEventStore() if durable else None, max_attempts=2)

    async def fails(data: Any) -> None:
        raise RuntimeError("boom")

    bus.subscribe(EVENT, fails, "notifications")
    bus.publish(EVENT, {"diagnosis": "s3cr3t-payload"}, "mentalhealth")
    await dead(bus)
    assert len(caplog.records) == 2  # one retry, then dead
    assert caplog.records[-1].levelno == logging.ERROR
    for record in caplog.records:
        assert "RuntimeError: boom" in record.getMessage()
        text = caplog.text + str(record.args)
        assert "s3cr3t-payload" not in text


# --- durable -------------------------------------------------------------------------------


async def test_durable_records_before_the_publication_returns_then_completes(
    make_bus: Any,
) -> None:
    store = InMemoryEventStore()
    bus = await make_bus(store)
    release = asyncio.Event()

    async def waits(data: Any) -> None:
        await release.wait()

    subscriber = bus.subscribe(EVENT, waits, "notifications")
    event_id = await bus.publish(EVENT, DATA, "mentalhealth")

    (pending,) = await store.deliveries()
    assert (pending.event.event_id, pending.subscriber, pending.status) == (
        event_id,
        subscriber,
        DeliveryStatus.PENDING,
    )
    assert pending.event.data == DATA
    release.set()
    await eventually(lambda: bus.stats()["delivered"] == 1)
    (completed,) = await bus.deliveries(DeliveryStatus.COMPLETED)
    assert (completed.event.event_id, completed.attempts) == (event_id, 1)


async def test_durable_failures_are_retried_then_dead(make_bus: Any) -> None:
    store = InMemoryEventStore()
    bus = await make_bus(store, max_attempts=3)
    calls: list[str] = []

    def fails(data: Any) -> None:
        calls.append(current_event().event_id)
        raise ValueError("no such patient")

    subscriber = bus.subscribe(EVENT, fails, "notifications")
    event_id = await bus.publish(EVENT, DATA, "mentalhealth")

    (letter,) = await dead(bus)
    assert (letter.event.event_id, letter.subscriber, letter.attempts, letter.error) == (
        event_id,
        subscriber,
        3,
        "ValueError: no such patient",
    )
    assert calls == [event_id] * 3
    assert await store.deliveries(DeliveryStatus.PENDING) == []
    assert bus.stats()["dead"] == 1


class Notifier:
    """The same subscriber (same id) in two processes: one dies mid-delivery."""

    def __init__(self, hang: bool) -> None:
        self.hang = hang
        self.entered = asyncio.Event()
        self.received: list[str] = []

    async def on_scheduled(self, data: Any) -> None:
        self.entered.set()
        if self.hang:
            await asyncio.Event().wait()
        self.received.append(current_event().event_id)


async def test_a_restarted_bus_delivers_what_a_stopped_one_left(
    make_bus: Any, clock: ManualClock
) -> None:
    store = CountingStore()
    first = await make_bus(store, node_id="a", lease_seconds=10.0, clock=clock)
    dying = Notifier(hang=True)
    subscriber = first.subscribe(EVENT, dying.on_scheduled, "notifications")
    event_id = await first.publish(EVENT, DATA, "mentalhealth")
    async with asyncio.timeout(GUARD):
        await dying.entered.wait()
    await first.stop(grace=0)  # the delivery is cut off while node a holds its lease

    second = EventBus(store, node_id="b", lease_seconds=10.0, clock=clock, **FAST)
    survivor = Notifier(hang=False)
    assert second.subscribe(EVENT, survivor.on_scheduled, "notifications") == subscriber
    await second.start()
    try:
        await polled(store)  # a few polls: node a's lease still holds
        assert survivor.received == []
        clock.advance(10.0)
        await eventually(lambda: survivor.received)
        assert survivor.received == [event_id]
        await eventually(lambda: second.stats()["delivered"] == 1)
        (done,) = await store.deliveries(DeliveryStatus.COMPLETED)
        assert done.attempts == 2
    finally:
        await second.stop(grace=0)


async def test_a_delivery_nobody_subscribes_to_is_retried_a_lease_later_then_dead(
    make_bus: Any, clock: ManualClock
) -> None:
    """A handler renamed or a module removed: its pending deliveries go round once a lease
    until their attempts run out, then become dead, where an operator sees them."""
    store = InMemoryEventStore()
    # A publisher on another node that never delivers (its poller is not started).
    await store.record(
        EventRecord("e-1", EVENT, DATA, "mentalhealth", clock()), [f"notifications:{EVENT}:x"]
    )
    bus = await make_bus(store, clock=clock, lease_seconds=5.0, max_attempts=2)
    await eventually(lambda: bus.stats()["in_flight"] == 0)

    async def with_error(status: DeliveryStatus) -> list[Delivery]:
        found: list[Delivery] = []
        async with asyncio.timeout(GUARD):
            while not (found and found[0].error):
                await asyncio.sleep(0.002)
                found = await store.deliveries(status)
        return found

    (pending,) = await with_error(DeliveryStatus.PENDING)
    assert pending.error == "no subscriber registered"
    assert pending.next_attempt_at == clock() + 5.0
    clock.advance(5.0)  # the second and last attempt
    (dead,) = await with_error(DeliveryStatus.DEAD)
    assert (dead.attempts, dead.error) == (2, "no subscriber registered")


async def test_a_failed_recording_is_raised_and_nothing_is_delivered(make_bus: Any) -> None:
    class BrokenStore(CountingStore):
        async def record(
            self, event: EventRecord, subscribers: Any, *, connection: object | None = None
        ) -> None:
            raise RunStoreError("disk full")

    store = BrokenStore()
    bus = await make_bus(store)
    recorder = Recorder()
    bus.subscribe(EVENT, recorder.on_async, "notifications")
    with pytest.raises(RunStoreError, match="disk full"):
        await bus.publish(EVENT, DATA, "mentalhealth")
    bus.publish(EVENT, DATA, "mentalhealth")  # never awaited: logged, not a warning
    await polled(store)
    assert recorder.received == []


async def test_durable_sync_handler_in_a_thread_sees_the_event(make_bus: Any) -> None:
    bus = await make_bus(InMemoryEventStore())
    recorder = Recorder()
    bus.subscribe(EVENT, recorder.on_sync, "notifications")
    thread_ids: list[int] = []
    bus.subscribe(EVENT, lambda data: thread_ids.append(threading.get_ident()), "audit")
    event_id = await bus.publish(EVENT, DATA, "mentalhealth")
    async with asyncio.timeout(GUARD):
        await recorder.done.wait()
    assert recorder.events[0].event_id == event_id
    await eventually(lambda: thread_ids)
    assert thread_ids != [threading.get_ident()]


# --- sync handlers in the bounded pool --------------------------------------------------


async def test_a_hung_sync_subscriber_does_not_time_out_healthy_ones_queued_behind_it(
    make_bus: Any,
) -> None:
    bus = await make_bus(handler_threads=2, delivery_timeout=0.2, max_attempts=1)
    release = threading.Event()
    healthy: list[int] = []

    def hangs(data: Any) -> None:
        release.wait(GUARD)

    def works(data: Any) -> None:
        healthy.append(data["session_id"])

    bus.subscribe(EVENT, hangs, "a")
    bus.subscribe(EVENT, works, "b")
    try:
        for n in range(10):
            bus.publish(EVENT, {**DATA, "session_id": n}, "mentalhealth")
        # Both threads are held by the hung subscriber past its timeout; the healthy
        # deliveries wait in the queue meanwhile, their timeout not yet started.
        letters = await dead(bus, 2)
        release.set()
        await eventually(lambda: bus.stats()["in_flight"] == 0)
    finally:
        release.set()
    assert sorted(healthy) == list(range(10))
    assert {letter.subscriber.split(":")[0] for letter in letters} == {"a"}
    assert bus.stats()["dead"] == 2


async def test_a_durable_backlog_behind_a_slow_sync_handler_is_not_timed_out() -> None:
    def slow(data: Any) -> None:
        time.sleep(0.02)

    store = InMemoryEventStore()
    subscriber = f"notifications:{EVENT}:{slow.__qualname__}"
    for n in range(200):  # what a stopped gateway left
        await store.record(
            EventRecord(f"e-{n:03d}", EVENT, DATA, "mentalhealth", 0.0), [subscriber]
        )
    bus = EventBus(store, handler_threads=4, delivery_timeout=0.5, max_attempts=1, **FAST)
    assert bus.subscribe(EVENT, slow, "notifications") == subscriber
    await bus.start()
    try:
        await eventually(lambda: bus.stats()["delivered"] == 200)
    finally:
        await bus.stop(grace=0)
    assert bus.stats()["failed_attempts"] == bus.stats()["dead"] == 0
    assert await store.deliveries(DeliveryStatus.DEAD) == []


async def test_the_dispatcher_claims_no_more_than_max_in_flight() -> None:
    peak: list[int] = []
    bus = EventBus(InMemoryEventStore(), handler_threads=8, max_in_flight=3, **FAST)

    def slow(data: Any) -> None:
        peak.append(bus.stats()["in_flight"])
        time.sleep(0.005)

    bus.subscribe(EVENT, slow, "notifications")
    await bus.start()
    try:
        for _ in range(30):
            bus.publish(EVENT, DATA, "mentalhealth")
        await eventually(lambda: bus.stats()["delivered"] == 30)
    finally:
        await bus.stop(grace=0)
    assert len(peak) == 30
    assert max(peak) <= 3


async def test_a_sync_call_the_stopped_pool_never_started_is_not_a_failure() -> None:
    subscription = Subscription("a:e:h", EVENT, "a", lambda data: None, is_async=False)
    event = EventRecord("e-1", EVENT, DATA, "mentalhealth", 0.0)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    release = threading.Event()
    try:
        pool.submit(release.wait, GUARD)  # the only thread is busy
        queued = asyncio.ensure_future(call_handler(event, subscription, 0.01, pool))
        await asyncio.sleep(0.05)  # queued for longer than its timeout: still not failed
        assert not queued.done()
        pool.shutdown(wait=False, cancel_futures=True)
        with pytest.raises(HandlerNotStartedError):
            await asyncio.wait_for(queued, GUARD)
        with pytest.raises(HandlerNotStartedError):
            await call_handler(event, subscription, 0.01, pool)
    finally:
        release.set()
        pool.shutdown(wait=True)


# --- the publisher's transaction (connection=) ---------------------------------------------


class JoiningStore(CountingStore):
    """A fake of the PostgreSQL store's outbox: takes a connection and notes where the rows
    were written (``fail`` makes the write raise)."""

    def __init__(self, fail: Exception | None = None) -> None:
        super().__init__()
        self.writes: list[tuple[object, asyncio.Task[Any] | None]] = []
        self.fail_with = fail

    async def record(
        self, event: EventRecord, subscribers: Any, *, connection: object | None = None
    ) -> None:
        self.writes.append((connection, asyncio.current_task()))
        if self.fail_with is not None:
            raise self.fail_with
        await super().record(event, subscribers)


async def test_publish_with_a_connection_records_on_it_when_awaited(make_bus: Any) -> None:
    store = JoiningStore()
    bus = await make_bus(store)
    recorder = Recorder()
    subscriber = bus.subscribe(EVENT, recorder.on_async, "notifications")
    connection = object()  # stands for the caller's connection: only passed through

    publication = bus.publish(EVENT, DATA, "mentalhealth", connection=connection)
    await polled(store)  # a few polls: nothing is written before the await
    assert store.writes == []
    assert await publication == publication.event_id
    assert await publication == publication.event_id  # a second await writes nothing more

    assert store.writes == [(connection, asyncio.current_task())]  # in the caller's task
    (pending,) = await store.deliveries()
    assert (pending.event.event_id, pending.subscriber) == (publication.event_id, subscriber)
    async with asyncio.timeout(GUARD):  # the poller delivers it, as after a commit
        await recorder.done.wait()
    assert recorder.events[0].event_id == publication.event_id


async def test_a_refused_connection_is_raised_on_every_await(make_bus: Any) -> None:
    store = JoiningStore(fail=ValueError("the given connection is closed"))
    bus = await make_bus(store)
    bus.subscribe(EVENT, Recorder().on_async, "notifications")
    publication = bus.publish(EVENT, DATA, "mentalhealth", connection=object())
    for _ in range(2):
        with pytest.raises(ValueError, match="connection is closed"):
            await publication
    assert len(store.writes) == 1
    assert await store.deliveries() == []


async def test_a_connection_is_refused_by_a_bus_in_memory(make_bus: Any) -> None:
    bus = await make_bus()
    bus.subscribe(EVENT, Recorder().on_async, "notifications")
    with pytest.raises(ValueError, match=r"connection=.*keeps events in memory"):
        bus.publish(EVENT, DATA, "mentalhealth", connection=object())
    assert bus.stats()["published"] == 0


async def test_a_connection_is_refused_by_the_memory_store(make_bus: Any) -> None:
    store = InMemoryEventStore()
    bus = await make_bus(store)
    bus.subscribe(EVENT, Recorder().on_async, "notifications")
    publication = bus.publish(EVENT, DATA, "mentalhealth", connection=object())
    with pytest.raises(ValueError, match=r"only the PostgreSQL event store.*InMemoryEventStore"):
        await publication
    assert await store.deliveries() == []


async def test_the_dispatcher_purges_completed_deliveries_past_their_retention(
    make_bus: Any, clock: ManualClock
) -> None:
    store = CountingStore()
    for event_id, subscriber in (("e-old", "a"), ("e-new", "a"), ("e-old", "b")):
        await store.record(EventRecord(event_id, EVENT, DATA, "m", clock()), [subscriber])
    await store.claim_due("other-node", clock(), 60.0, 10)
    await store.complete("e-old", "a", clock())
    clock.advance(100.0)
    await store.complete("e-new", "a", clock())
    await store.fail("e-old", "b", "gave up", None)

    await make_bus(store, clock=clock, retention=50.0)
    await polled(store, 1)  # the purge runs before the first claim

    assert [(d.id, d.status) for d in await store.deliveries()] == [
        ("e-new:a", DeliveryStatus.COMPLETED),
        ("e-old:b", DeliveryStatus.DEAD),
    ]


def test_the_backoff_doubles_up_to_its_cap() -> None:
    waits = RetryPolicy(5, backoff=0.5, max_backoff=3.0, timeout=1.0).waits
    assert [waits.delay(n) for n in (1, 2, 3, 4, 10_000)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert Backoff(1.0).delay(3) == 4.0  # no cap
    with pytest.raises(ValueError, match="max_backoff must be zero or more seconds"):
        Backoff(1.0, -1.0)
