"""``QueueTable``: what the generic SQL work queues need to know of one family's table, and
the checks every backend shares.

Each family keeps its own table (event deliveries beside their events, ``Event``
invocations with their payloads), so existing databases need no data migration; the
lease, claim, fail, retry, dead, re-drive and purge statements are written once, over
these few fragments. A claimed item stays waiting with ``next_attempt_at`` moved to the end
of its lease: "due" is then one indexed range (``status = waiting AND next_attempt_at <=
now``), so a claim never wades through items that other nodes hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["QueueTable", "check_keys"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class QueueTable(Generic[T]):
    """One family's queue table, in SQL fragments over the alias ``d`` (``{s}`` is the
    quoted schema and a dot on PostgreSQL, nothing on SQLite).

    Attributes:
        table: The table's name.
        ids: What its ids are called in errors (``request ids``).
        key: The item's id as an expression (indexed: one id, one row).
        order: The columns that break ties, after ``next_attempt_at`` or ``created``.
        group: The column ``skip_groups`` and re-drive's ``group`` filter on.
        created: When the item was accepted (orders listings and re-drives).
        joins: Tables joined to ``d`` for ``columns`` (an event's payload).
        columns: The select list ``decode`` reads.
        decode: An item from a row of ``columns``.
        waiting: The status of an item not yet done (due, held or waiting for a retry).
        done: The status of an item that succeeded.
        late_success_revives_dead: Whether ``complete`` turns a dead item done (a holder
            whose lease had lapsed finally succeeded) or leaves it dead.
        cleanup_column: A column of the purged rows handed to the cleanup statements.
        sqlite_cleanup: Run once per distinct purged ``cleanup_column`` value (``?``).
        postgres_cleanup: Run once with every purged ``cleanup_column`` value (``$1``).
    """

    table: str
    ids: str
    key: str
    order: str
    group: str
    created: str
    joins: str
    columns: str
    decode: Callable[[Any], T]
    waiting: str
    done: str
    late_success_revives_dead: bool = False
    cleanup_column: str | None = None
    sqlite_cleanup: str | None = None
    postgres_cleanup: str | None = None


def check_keys(keys: Sequence[str] | None, what: str = "ids") -> list[str] | None:
    """``redrive``'s ids, distinct and in order (None: every dead one).

    Raises:
        TypeError: ``keys`` is a single string (which would re-drive one id per
            character) or holds something that is not a string.
    """
    if keys is None:
        return None
    if isinstance(keys, str):
        raise TypeError(f"{what} must be a sequence of ids, not the string {keys!r}")
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"{what} must be strings, got {key!r}")
    return list(dict.fromkeys(keys))
