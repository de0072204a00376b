"""What the AWS gateways share: making a boto3 client (once, on first use), reading AWS
errors, retrying throttling with backoff (stamina), and running blocking boto3 calls off the
event loop.

boto3 is blocking. Its calls run on daemon threads, one per call and at most ``limit`` at
once: a call the gateway gave up on (its deadline passed) keeps its thread until AWS answers,
and a daemon thread never holds up the gateway's exit the way an executor's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import stamina
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ProxyConnectionError,
)

__all__ = [
    "NEVER_SENT",
    "THROTTLING_CODES",
    "AWSRetry",
    "BlockingCalls",
    "Flight",
    "LazyClient",
    "client_config",
    "error_code",
    "error_message",
    "is_throttling",
    "new_client",
    "retry_after",
    "status_code",
]


T = TypeVar("T")
C = TypeVar("C", bound=BaseClient)

# AWS's own list (botocore's standard retry mode) of codes that mean "slow down".
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    }
)
NEVER_SENT = (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError)
"""Failures before a request left this machine: no connection was ever made."""
_MESSAGE_LIMIT = 300


def error_code(exc: ClientError) -> str:
    """AWS's error code (``ResourceNotFoundException``), or ``Unknown``."""
    return str(exc.response.get("Error", {}).get("Code") or "Unknown")


def status_code(exc: ClientError) -> int:
    """The HTTP status AWS answered with (0 when unknown)."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def error_message(exc: ClientError) -> str:
    """AWS's error message, bounded (it never holds the request's payload, only names)."""
    message = str(exc.response.get("Error", {}).get("Message") or "").strip()
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + "…"
    return message or "no message"


def is_throttling(exc: Exception) -> bool:
    """True for AWS telling us to slow down: a throttling code, or HTTP 429."""
    return isinstance(exc, ClientError) and (
        error_code(exc) in THROTTLING_CODES or status_code(exc) == 429
    )


def retry_after(exc: ClientError) -> int | None:
    """Whole seconds AWS asked us to wait (``Retry-After``, Lambda's ``retryAfterSeconds``)."""
    headers: Mapping[str, str] = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    raw: Any = exc.response.get("retryAfterSeconds") or headers.get("retry-after")
    try:
        seconds = int(float(raw))
    except (TypeError, ValueError):
        return None
    return max(1, seconds)


@dataclass(frozen=True, slots=True)
class AWSRetry:
    """How throttled (and, where safe, transient) AWS calls are retried.

    Attempt ``n`` waits ``backoff_initial * 2 ** (n - 1)`` seconds, plus up to
    ``backoff_initial`` of random jitter, at most ``backoff_max``.

    Attributes:
        max_attempts: Calls at most, the first included.
        backoff_initial: The first wait, in seconds.
        backoff_max: The longest wait, in seconds.
    """

    max_attempts: int = 5
    backoff_initial: float = 0.1
    backoff_max: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ValueError(
                "backoff_initial must be more than 0 and at most backoff_max, got "
                f"{self.backoff_initial} and {self.backoff_max}"
            )

    def attempts(self, on: Callable[[Exception], bool]) -> Any:
        """``stamina.retry_context`` for this policy, retrying what ``on`` accepts."""
        return stamina.retry_context(
            on=on,
            attempts=self.max_attempts,
            timeout=None,  # callers bound the whole call themselves (a deadline, attempts)
            wait_initial=self.backoff_initial,
            wait_max=self.backoff_max,
            wait_jitter=self.backoff_initial,
        )


def client_config(
    *, connect_timeout: float, read_timeout: float, max_pool_connections: int
) -> Config:
    """A botocore ``Config`` for clients the gateways make themselves.

    botocore's own retries are off: the gateways retry throttling themselves, and
    botocore would also resend a request after a read timeout, which for a Lambda invoke
    can run the function twice.
    """
    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        retries={"total_max_attempts": 1, "mode": "standard"},
        tcp_keepalive=True,  # long invocations cross NATs that drop idle connections
    )


def new_client(
    service: str,
    *,
    session: Any,
    region: str | None,
    endpoint_url: str | None,
    config: Config,
) -> Any:
    """Make a boto3 client for ``service`` (from ``session``, else a new default session:
    the default credential chain)."""
    import boto3  # noqa: PLC0415 - the 'aws' extra, imported only when a client is made

    chosen: Any = session if session is not None else boto3.session.Session()
    return chosen.client(service, region_name=region, endpoint_url=endpoint_url, config=config)


class LazyClient(Generic[C]):
    """A gateway's boto3 client: the injected one, or one made at first use, which only
    ``close`` closes (an injected client is its owner's to close).

    Args:
        service: ``lambda``, ``batch``.
        client: An injected client, or None to make one from the arguments below.
        session, region, endpoint_url, config: As ``new_client`` takes them.
    """

    def __init__(
        self,
        service: str,
        client: C | None,
        *,
        session: Any,
        region: str | None,
        endpoint_url: str | None,
        config: Config,
    ) -> None:
        self._service = service
        self._client = client
        self._own_client = False
        self._lock = threading.Lock()
        self._session = session
        self._region = region
        self._endpoint_url = endpoint_url
        self._config = config

    def get(self) -> C:
        """The client, made on first use (call it on a call's thread: making one reads
        files)."""
        with self._lock:
            if self._client is None:
                self._client = new_client(
                    self._service,
                    session=self._session,
                    region=self._region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                )
                self._own_client = True
            return self._client

    def close(self) -> None:
        """Close the client if it was made here; a later ``get`` makes a new one.

        Side Effects:
            Closes the client's pooled connections; calls still in flight finish on their
            threads.
        """
        with self._lock:
            if not self._own_client:
                return
            client, self._client, self._own_client = self._client, None, False
        if client is not None:
            client.close()


class Flight:
    """Whether one blocking call was handed to its thread, and whether it came back."""

    __slots__ = ("settled", "started")

    def __init__(self) -> None:
        self.started = False
        self.settled = False

    @property
    def in_flight(self) -> bool:
        """True while the request may be with AWS."""
        return self.started and not self.settled


class BlockingCalls:
    """Runs blocking calls on daemon threads, at most ``limit`` at once.

    Args:
        limit: Calls at most at once (match the client's ``max_pool_connections``).
        name: Names the threads.
    """

    def __init__(self, limit: int, name: str) -> None:
        if limit < 1:
            raise ValueError(f"the concurrency limit must be at least 1, got {limit}")
        self._limit = limit
        self._name = name
        self._semaphore: asyncio.Semaphore | None = None

    async def run(self, call: Callable[[], T], flight: Flight | None = None) -> T:
        """Run ``call()`` on a thread and wait for it.

        Cancelling the wait leaves the thread running until ``call`` returns; its slot is
        freed only then, so the limit holds for threads, not just for waiters. ``flight``
        is marked started once the thread owns the call (before that, nothing was sent).
        """
        if self._semaphore is None:  # made here: it must belong to the running loop
            self._semaphore = asyncio.Semaphore(self._limit)
        semaphore = self._semaphore
        await semaphore.acquire()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        flight = flight if flight is not None else Flight()

        def settle(result: T | None, error: BaseException | None) -> None:
            semaphore.release()
            flight.settled = True
            if future.done():  # the caller gave up (its deadline passed)
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def target() -> None:
            result: T | None = None
            error: BaseException | None = None
            try:
                result = call()
            except BaseException as exc:  # handed to the awaiting task, which decides
                error = exc
            # The loop is gone when the gateway shut down under a late call: nothing waits.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, result, error)

        thread = threading.Thread(target=target, name=self._name, daemon=True)
        try:
            thread.start()
        except BaseException:
            semaphore.release()
            raise
        flight.started = True
        return await future
