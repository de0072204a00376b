"""Quota periods: which one a moment falls in, and when it ends (UTC boundaries)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from lockgate.models.security.authorizers import QuotaPeriod

__all__ = ["Period", "period_of"]


class Period(NamedTuple):
    """One quota period.

    Attributes:
        key: Its name in the usage counts: ``day:2026-12-07``, ``week:2026-W49``,
            ``month:2026-12``.
        ends: When it ends (Unix seconds): midnight UTC; a week ends on Sunday night
            (ISO weeks start on Monday); a month on its last night.
    """

    key: str
    ends: float


def period_of(kind: QuotaPeriod, now: float) -> Period:
    """The period of ``kind`` that ``now`` (Unix seconds) falls in."""
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    day = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.UTC)
    if kind == "day":
        return Period(f"day:{day:%Y-%m-%d}", (day + dt.timedelta(days=1)).timestamp())
    if kind == "week":
        year, week, weekday = moment.isocalendar()
        ends = day + dt.timedelta(days=8 - weekday)
        return Period(f"week:{year}-W{week:02d}", ends.timestamp())
    first_of_next = dt.datetime(
        moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=dt.UTC
    )
    return Period(f"month:{moment:%Y-%m}", first_of_next.timestamp())
