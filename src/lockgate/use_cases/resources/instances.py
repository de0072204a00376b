"""``InstancePools``: the opened instances of resources, from creation to close.

Each resource a run may get (an operator's shared one, or a caller's inline reference) has
a ``ResourceSlot``: what makes it, and the one instance made, created once however many
runs ask at the same time, counted while runs hold it and closed when no run has used it
for ``idle_ttl`` seconds (inline ones) or at shutdown. The catalog
(``lockgate.use_cases.resources.catalog``) decides what a name means and makes the slots;
this module only opens, shares, probes and closes what they hold, and knows nothing of
names, principals or secrets beyond the values a slot scrubs from messages.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lockgate.errors import (
    LockgateError,
    ResourceConfigError,
    ResourceTimeoutError,
    ResourceUnavailableError,
    SecretNotFoundError,
)
from lockgate.gateways.interfaces import NO_TRACER, IResourceResolver, ITracer

__all__ = ["HealthCheck", "InstancePools", "ResourceSlot", "close_object", "maybe_await"]

logger = logging.getLogger("lockgate.resources")

HealthCheck = Callable[[Any], Awaitable[Any]]


async def maybe_await(value: Any) -> Any:
    """``value``, awaited if it is awaitable (a sync or async callable's result)."""
    return await value if inspect.isawaitable(value) else value


async def close_object(resource: Any) -> None:
    """Close ``resource`` with its ``aclose()`` or ``close()`` (sync or async), if it has one."""
    for method in ("aclose", "close"):
        closer = getattr(resource, method, None)
        if callable(closer):
            await maybe_await(closer())
            return


@dataclass(eq=False)
class ResourceSlot:
    """One resource instance, shared or pooled inline, created at most once at a time.

    Attributes:
        label: The shared name, or an inline pool's type and key digest (for logs).
        shared: An operator's shared resource (not an inline pool).
        resolver: The type's resolver (health and closing); None for objects and factories.
        create: Makes the instance; None for a ready object ``register`` was given.
        owned: Closed here (False for a ready object: its owner closes it).
        users: Runs holding it now (a held instance is neither evicted nor swept).
        secret_values: The credentials' strings, scrubbed from every message about it.
        key: An inline slot's pool key.
    """

    label: str
    type_name: str
    shared: bool
    resolver: IResourceResolver | None
    create: Callable[[], Awaitable[Any]] | None
    health_check: HealthCheck | None = None
    owned: bool = True
    instance: Any = None
    created: bool = False
    creating: asyncio.Future[Any] | None = None
    users: int = 0
    last_used: float = 0.0
    secret_values: tuple[str, ...] = ()
    key: bytes | None = None

    def scrub(self, text: str) -> str:
        for value in self.secret_values:
            text = text.replace(value, "***")
        return text


class InstancePools:
    """The instances behind resource slots: the bounded pool of inline ones, and the
    creation, health probes, idle sweeps and closing of every slot's instance.

    Args:
        idle_ttl: Seconds an inline instance may sit unused before ``sweep`` closes it.
        health_timeout: Seconds one resource's health check may take.
        max_inline: Distinct inline slots kept at once (see ``add``).
        clock: Monotonic seconds.

    Attributes:
        tracer: Makes a span for each acquisition (``acquire resource NAME``); set by the
            composition root, also on a registry a caller made.
    """

    def __init__(
        self,
        *,
        idle_ttl: float = 300.0,
        health_timeout: float = 5.0,
        max_inline: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.idle_ttl = idle_ttl
        self._health_timeout = health_timeout
        self._max_inline = max_inline
        self._pooled: dict[bytes, ResourceSlot] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.closed = False
        self.tracer: ITracer = NO_TRACER

    def pooled(self, key: bytes) -> ResourceSlot | None:
        """The inline slot kept under ``key``, if there is one."""
        return self._pooled.get(key)

    def add(self, name: str, slot: ResourceSlot) -> None:
        """Keep the inline ``slot`` under its key. At ``max_inline`` slots the least
        recently used one no run holds is closed to make room first.

        Raises:
            ResourceUnavailableError: Every inline slot is in use: requests naming ever-new
                references cannot open connections without bound.
        """
        assert slot.key is not None  # only inline slots are pooled
        if len(self._pooled) >= self._max_inline:
            self._evict_one(name)
        self._pooled[slot.key] = slot

    def _evict_one(self, name: str) -> None:
        idle = [
            (slot.last_used, key)
            for key, slot in self._pooled.items()
            if slot.users == 0 and slot.creating is None
        ]
        if not idle:
            raise ResourceUnavailableError(
                f"Resource {name!r}: {len(self._pooled)} distinct inline resources are in use, "
                "the most this gateway keeps (max_inline_resources); reuse references or "
                "register shared ones",
                name=name,
            )
        self._detach(self._pooled.pop(min(idle)[1]))

    async def instance(self, name: str, slot: ResourceSlot) -> Any:
        """``slot``'s instance, created once however many callers ask at the same time;
        a failed creation is not kept, so the next caller tries again.

        Raises:
            ResourceUnavailableError: Creating it failed (``ResourceTimeoutError`` past its
                connect timeout); the message names ``name`` and never a credential.
            ResourceConfigError, SecretNotFoundError: Its config or credentials are wrong.
        """
        if not self.tracer.enabled:
            return await self._instance(name, slot)
        attributes: dict[str, str | bool | int | float] = {
            "lockgate.resource": name,
            "lockgate.resource.shared": slot.shared,
        }
        with self.tracer.span(f"acquire resource {name}", attributes=attributes) as span:
            span.set_attribute("lockgate.resource.reused", slot.created)
            return await self._instance(name, slot)

    async def _instance(self, name: str, slot: ResourceSlot) -> Any:
        if slot.created:
            slot.last_used = self.clock()
            return slot.instance
        if self.closed:
            raise ResourceUnavailableError(
                f"Resource {name!r}: the gateway is shutting down", name=name
            )
        if slot.creating is None:
            slot.creating = asyncio.ensure_future(self._build(slot))
            slot.creating.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(slot.creating)
        except LockgateError as exc:
            raise _named(name, slot, exc) from None

    async def _build(self, slot: ResourceSlot) -> Any:
        assert slot.create is not None  # only ready objects lack one
        try:
            instance = await slot.create()
        except LockgateError:
            self._forget(slot)
            raise
        except Exception as exc:  # a custom factory's own error, reported by type and text
            self._forget(slot)
            raise ResourceUnavailableError(slot.scrub(f"{type(exc).__name__}: {exc}")) from None
        finally:
            slot.creating = None
        if self.closed:  # shut down while it was being made
            await self._close_slot(slot, instance)
            raise ResourceUnavailableError("the gateway is shutting down")
        slot.instance, slot.created, slot.last_used = instance, True, self.clock()
        return instance

    def _forget(self, slot: ResourceSlot) -> None:
        """Drop a failed inline slot: a bad reference must not hold a place."""
        if slot.key is not None and self._pooled.get(slot.key) is slot:
            del self._pooled[slot.key]

    # -- health ----------------------------------------------------------------------------

    async def health(self, slots: Iterable[ResourceSlot]) -> dict[str, Any]:
        """``slots`` probed at once (each created now if no run has used it yet), by label."""
        probed = list(slots)
        reports = await asyncio.gather(*(self._probe(slot) for slot in probed))
        return {slot.label: report for slot, report in zip(probed, reports, strict=True)}

    def inline(self) -> dict[str, dict[str, int]]:
        """Live inline instances by type, and the runs holding them:
        ``{"database": {"pools": 2, "runs": 7}}``."""
        counts: dict[str, dict[str, int]] = {}
        for slot in self._pooled.values():
            if slot.created:
                count = counts.setdefault(slot.type_name, {"pools": 0, "runs": 0})
                count["pools"] += 1
                count["runs"] += slot.users
        return counts

    async def _probe(self, slot: ResourceSlot) -> dict[str, Any]:
        report: dict[str, Any] = {"status": "healthy", "type": slot.type_name, "in_use": slot.users}
        try:
            async with asyncio.timeout(self._health_timeout):
                await self._check(slot, await self.instance(slot.label, slot))
        except TimeoutError:
            report["status"] = "unhealthy"
            report["error"] = f"no answer within {self._health_timeout:g} s"
        except Exception as exc:  # any failure of a probe is what it reports
            report["status"] = "unhealthy"
            message = (
                exc.message if isinstance(exc, LockgateError) else f"{type(exc).__name__}: {exc}"
            )
            report["error"] = slot.scrub(message)
        return report

    @staticmethod
    async def _check(slot: ResourceSlot, instance: Any) -> None:
        """The slot's own health check, else its type resolver's, else none."""
        if slot.health_check is not None:
            if await maybe_await(slot.health_check(instance)) is False:
                raise ResourceUnavailableError("its health check returned False")
        elif slot.resolver is not None:
            await slot.resolver.health_check(instance)

    # -- sweeping and closing --------------------------------------------------------------

    async def sweep(self) -> int:
        """Close inline instances no run holds and none has used for ``idle_ttl`` seconds.

        Returns:
            How many were closed.
        """
        cutoff = self.clock() - self.idle_ttl
        idle = [
            key
            for key, slot in self._pooled.items()
            if slot.created and slot.users == 0 and slot.last_used <= cutoff
        ]
        # Detached all at once, before any await: a run cannot pick one up while another
        # is being closed.
        for key in idle:
            self._detach(self._pooled.pop(key))
        await self._closes_done()
        if idle:
            logger.info("closed %d idle resource(s)", len(idle))
        return len(idle)

    async def run_sweeps(self) -> None:
        """Sweep every quarter of ``idle_ttl`` (at most every 30 s) until cancelled."""
        interval = min(max(self.idle_ttl / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:  # one bad close must not end the sweeps
                logger.exception("sweeping idle resources failed")

    def open(self) -> None:
        """Create instances again (after ``close``)."""
        self.closed = False

    async def close(self, shared: Iterable[ResourceSlot]) -> None:
        """Close every instance created here, the inline ones and those of ``shared``
        (not the ready objects a slot does not own); later requests for an instance fail,
        saying the gateway is shutting down."""
        self.closed = True
        slots = [*shared, *self._pooled.values()]
        self._pooled.clear()
        for slot in slots:
            if slot.owned:
                self._detach(slot)
        await self._closes_done()

    def _detach(self, slot: ResourceSlot) -> None:
        """Take ``slot``'s instance out of use and close it in a task of its own, which a
        cancelled sweep does not stop and ``close`` waits for."""
        if not slot.created:
            return
        slot.created = False
        task = asyncio.ensure_future(self._close_slot(slot, slot.instance))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _closes_done(self) -> None:
        if self._closing:
            await asyncio.shield(asyncio.gather(*self._closing))

    @staticmethod
    async def _close_slot(slot: ResourceSlot, instance: Any) -> None:
        try:
            if slot.resolver is None:
                await close_object(instance)
                return
            try:
                await slot.resolver.close(instance)
            except TypeError:  # not the type's own object: a patched or custom resolve's
                await close_object(instance)
        except Exception as exc:  # closing is best effort; the rest must still close
            logger.warning("closing resource %s failed: %s", slot.label, slot.scrub(str(exc)))


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A creation whose callers were all cancelled must not log "exception never retrieved".
    if not future.cancelled():
        future.exception()


def _named(name: str, slot: ResourceSlot, error: LockgateError) -> LockgateError:
    """``error`` again, prefixed with the resource's name and type and scrubbed of the
    credentials' values (a driver may quote what it was given)."""
    message = slot.scrub(f"Resource {name!r} ({slot.type_name}): {error.message}")
    fields = {**error.fields, "name": name}
    for kind in (SecretNotFoundError, ResourceConfigError, ResourceTimeoutError):
        if isinstance(error, kind):
            return kind(message, **fields)
    return ResourceUnavailableError(message, **fields)
