"""The argument checks every store family shares: a page's ``limit`` and a claim's lease."""

from __future__ import annotations

__all__ = ["check_claim", "check_limit"]


def check_limit(limit: int) -> int:
    """``limit`` if it is a whole number >= 0 (SQLite reads a negative LIMIT as none).

    Raises:
        ValueError: It is not.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a whole number >= 0, got {limit!r}")
    return limit


def check_claim(lease_seconds: float, limit: int) -> None:
    """Check ``claim_due``'s arguments.

    Raises:
        ValueError: ``lease_seconds`` is not > 0, or ``limit`` is not a whole number >= 0.
    """
    if not lease_seconds > 0:
        raise ValueError(f"lease_seconds must be > 0, got {lease_seconds!r}")
    check_limit(limit)
