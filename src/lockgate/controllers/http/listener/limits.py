"""The listener's bookkeeping, kept apart from the protocol so it can be tested without
sockets: the limits, the connection slots per client address and in total, the
rate-limited log of clients that were cut off, and the process's open-file limit.
"""

from __future__ import annotations

import logging
import resource
from collections import Counter
from dataclasses import dataclass, field

__all__ = [
    "ConnectionSlots",
    "ListenerLimits",
    "OffenceLog",
    "OpenFiles",
    "connection_budget",
    "raise_open_file_limit",
]

# Descriptors the gateway needs besides client connections: worker pipes, stores, resource
# pools, log files. A quarter of the limit, and never less than 256 unless the limit itself
# is tiny (then half of it).
_MIN_RESERVE = 256


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """What one listener allows a client (the ``lockgate.config.settings.Settings`` fields of the
    same names document each one).

    Raises:
        ValueError: A limit is not positive.
    """

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_connections: int = 4096
    max_connections_per_client: int = 256

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"ListenerLimits.{name} must be positive, got {getattr(self, name)}"
                )

    @property
    def sweep_interval(self) -> float:
        """Seconds between two checks of every connection's deadlines: a quarter of the
        shorter timeout, between 50 ms and 1 s, so a timeout fires at most that late."""
        return max(0.05, min(1.0, min(self.header_timeout, self.body_timeout) / 4))


class ConnectionSlots:
    """Open connections per client address and in total, with their caps.

    Args:
        per_client: Connections one address may hold open at once.
        total: Connections the listener holds open at once, from everyone.
    """

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self.open = 0
        self._by_address: dict[str, int] = {}

    def acquire(self, address: str) -> str | None:
        """Take a slot for a new connection from ``address``.

        Returns:
            None when it is admitted, else the name of the cap it is over
            (``max_connections`` or ``max_connections_per_client``); nothing is taken then.
        """
        if self.open >= self.total:
            return "max_connections"
        held = self._by_address.get(address, 0)
        if held >= self.per_client:
            return "max_connections_per_client"
        self._by_address[address] = held + 1
        self.open += 1
        return None

    def release(self, address: str) -> None:
        """Give back the slot of a closed connection from ``address``.

        Raises:
            KeyError: ``address`` holds no slot (a release without its acquire).
        """
        held = self._by_address[address]
        if held == 1:
            del self._by_address[address]  # the map holds live addresses only
        else:
            self._by_address[address] = held - 1
        self.open -= 1

    def held_by(self, address: str) -> int:
        """Connections ``address`` holds open now."""
        return self._by_address.get(address, 0)


@dataclass(slots=True)
class _Window:
    started: float
    counts: Counter[str] = field(default_factory=Counter)


class OffenceLog:
    """One WARNING per client address per window, with what else that address did.

    The first offence of an address is logged at once; the ones that follow within the
    window are counted and logged as one summary line when the window ends (``flush``).
    An attacker cutting thousands of connections thus writes two lines a minute, not
    thousands. Past ``max_addresses`` distinct addresses in a window, the rest are counted
    together under one key, so the log's memory stays bounded too.

    Args:
        logger: Where the lines go.
        window: Seconds one address's summary covers.
        max_addresses: Addresses tracked one by one.
    """

    OTHERS = "(other addresses)"

    def __init__(
        self, logger: logging.Logger, window: float = 60.0, max_addresses: int = 10_000
    ) -> None:
        self._logger = logger
        self._window = window
        self._max_addresses = max_addresses
        self._windows: dict[str, _Window] = {}

    def __len__(self) -> int:
        return len(self._windows)

    def record(self, address: str, reason: str, detail: str, now: float) -> None:
        """Note that the listener acted against ``address``.

        Args:
            address: The client's address.
            reason: A short name the summary counts by (a setting's name, or ``431``).
            detail: What happened, said in full on the first offence of a window.
            now: The current time (the event loop's clock).
        """
        if address not in self._windows and len(self._windows) >= self._max_addresses:
            address = self.OTHERS
        window = self._windows.get(address)
        if window is None:
            self._windows[address] = _Window(now)
            self._logger.warning("client %s: %s", address, detail)
        else:
            window.counts[reason] += 1

    def flush(self, now: float) -> None:
        """Log the summary of every window that has ended, and forget quiet addresses."""
        for address, window in list(self._windows.items()):
            if now - window.started < self._window:
                continue
            if not window.counts:
                del self._windows[address]
                continue
            total = sum(window.counts.values())
            what = ", ".join(f"{reason} x{count}" for reason, count in window.counts.most_common())
            self._logger.warning(
                "client %s: %d more in the last %.0f s (%s)",
                address,
                total,
                now - window.started,
                what,
            )
            self._windows[address] = _Window(now)


@dataclass(frozen=True, slots=True)
class OpenFiles:
    """The process's open-file limit before and after ``raise_open_file_limit``."""

    before: int
    soft: int
    hard: int
    error: str | None = None


def raise_open_file_limit() -> OpenFiles:
    """Raise this process's soft open-file limit (RLIMIT_NOFILE) to its hard limit.

    Every client connection is a descriptor; a soft limit of 1,024 (a common default) lets
    a thousand idle sockets stop the gateway from accepting anything, while the hard limit
    is usually far higher and ours to take.

    Returns:
        The soft limit before, the soft and hard limits after, and why raising failed (the
        limits are then unchanged).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if target == resource.RLIM_INFINITY:
        # Only some systems report an unlimited hard limit; none accept it as a soft one.
        target = max(soft, 1 << 20) if soft != resource.RLIM_INFINITY else soft
    if soft == target:
        return OpenFiles(soft, soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        return OpenFiles(soft, soft, hard, error=str(exc))
    return OpenFiles(soft, target, hard)


def connection_budget(requested: int, open_file_limit: int) -> int:
    """The most connections the listener may hold open: ``requested``, lowered so the
    process keeps descriptors for its workers and stores.

    Args:
        requested: The ``max_connections`` setting.
        open_file_limit: The soft RLIMIT_NOFILE in force.

    Returns:
        At least 1.
    """
    if open_file_limit == resource.RLIM_INFINITY:
        return requested
    reserve = max(open_file_limit // 4, min(_MIN_RESERVE, open_file_limit // 2))
    return max(1, min(requested, open_file_limit - reserve))
