"""Events between modules, and their durable deliveries (one per subscriber)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["Delivery", "DeliveryStatus", "EventRecord", "delivery_id"]


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # not yet delivered, or failed and waiting for its next attempt
    COMPLETED = "completed"
    DEAD = "dead"  # failed on every attempt it was allowed


def delivery_id(event_id: str, subscriber: str) -> str:
    """A delivery's id: ``event_id:subscriber`` (event ids never hold a colon)."""
    return f"{event_id}:{subscriber}"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A published event.

    Attributes:
        event_id: Unique and time-sortable; handlers deduplicate on it (delivery is
            at-least-once).
        name: The event's name (``therapy_session.scheduled``).
        data: Its JSON payload.
        source_module: The module that published it.
        created_at: Unix seconds.
        trace: The W3C ``traceparent`` of the span it was published in, which its
            deliveries' spans join (stored with it when durable); None when untraced.
    """

    event_id: str
    name: str
    data: Any
    source_module: str
    created_at: float
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One subscriber's delivery of one event.

    Attributes:
        subscriber: The subscription's stable id (``module:event:handler``).
        attempts: Deliveries tried so far.
        next_attempt_at: Unix seconds when it is due (again).
        error: The last failure, if any.
    """

    event: EventRecord
    subscriber: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float
    error: str | None = None

    @property
    def id(self) -> str:
        """``event_id:subscriber``: the delivery's id in the operator's API (event ids
        never hold a colon)."""
        return delivery_id(self.event.event_id, self.subscriber)
