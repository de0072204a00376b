"""``NatsMessageQueue``: the resource a ``message_queue`` reference resolves to.

Why a module of its own: this is the object step code holds (``publish``, ``subscribe``,
``request``, ``ensure_stream``), while ``queue.resolver`` is about reading the config
and getting connected. Keeping them apart keeps both small; this one does no connecting.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamInfo
from nats.js.errors import NotFoundError

from lockgate.errors import ResourceConfigError

__all__ = ["NatsMessageQueue"]


class NatsMessageQueue:
    """A NATS connection with the few calls steps need; ``client`` has all the rest.

    Attributes:
        client: The connected ``nats.aio.client.Client``.
        jetstream: Its ``JetStreamContext`` when the reference set ``jetstream``, else None.
        target: ``NATS at <servers>``, for messages.
    """

    def __init__(
        self, client: Client, jetstream: JetStreamContext | None, *, target: str, timeout: float
    ) -> None:
        self.client = client
        self.jetstream = jetstream
        self.target = target
        self._timeout = timeout

    def __repr__(self) -> str:
        mode = "jetstream" if self.jetstream is not None else "core"
        return f"NatsMessageQueue({self.target}, {mode})"

    async def publish(
        self, subject: str, payload: bytes | str, headers: dict[str, str] | None = None
    ) -> PubAck | None:
        """Publish one message: through JetStream (waiting for the stream's ack, which is
        returned) when it is on, else core NATS, flushed so it has reached the server.

        Raises:
            nats.errors.Error: Not connected, no stream for ``subject``, no ack in time.
        """
        data = payload.encode() if isinstance(payload, str) else payload
        if self.jetstream is not None:
            return await self.jetstream.publish(subject, data, headers=headers)
        await self.client.publish(subject, data, headers=headers)
        await self.client.flush(timeout=self.flush_timeout)
        return None

    async def subscribe(
        self,
        subject: str,
        queue: str = "",
        cb: Callable[[Msg], Awaitable[None]] | None = None,
        durable: str | None = None,
    ) -> Subscription:
        """Subscribe to ``subject`` (in ``queue`` group, if named).

        Without ``durable`` a core NATS subscription (it also sees messages published
        through JetStream); with ``durable`` a JetStream push consumer of that name, which
        resumes where it left off.

        Raises:
            ResourceConfigError: ``durable`` without ``jetstream`` on.
        """
        if durable is None:
            return await self.client.subscribe(subject, queue=queue, cb=cb)
        stream = self._need_jetstream("a durable subscription")
        return await stream.subscribe(subject, queue=queue or None, cb=cb, durable=durable)

    async def request(
        self,
        subject: str,
        payload: bytes | str = b"",
        timeout: float = 1.0,  # noqa: ASYNC109  # nats-py's own request() takes it
        headers: dict[str, str] | None = None,
    ) -> Msg:
        """Send a request and wait ``timeout`` seconds for the first reply.

        Raises:
            nats.errors.TimeoutError: No reply in time.
            nats.errors.NoRespondersError: Nobody subscribes to ``subject``.
        """
        data = payload.encode() if isinstance(payload, str) else payload
        return await self.client.request(subject, data, timeout=timeout, headers=headers)

    async def ensure_stream(self, name: str, subjects: list[str]) -> StreamInfo:
        """Create JetStream stream ``name`` over ``subjects``, or add missing subjects to it.

        Raises:
            ResourceConfigError: JetStream is off.
            nats.js.errors.APIError: The server refused (a subject overlaps another stream).
        """
        stream = self._need_jetstream("ensure_stream")
        try:
            info = await stream.stream_info(name)
        except NotFoundError:
            return await stream.add_stream(name=name, subjects=subjects)
        current = list(info.config.subjects or [])
        missing = [subject for subject in subjects if subject not in current]
        if not missing:
            return info
        return await stream.update_stream(info.config.evolve(subjects=current + missing))

    @property
    def flush_timeout(self) -> int:
        """Whole seconds a flush (a PING round trip) may take: ``connect_timeout`` rounded up."""
        return max(1, math.ceil(self._timeout))

    def _need_jetstream(self, what: str) -> JetStreamContext:
        if self.jetstream is None:
            raise ResourceConfigError(
                f"{what} needs the message_queue reference's 'jetstream': true", key="jetstream"
            )
        return self.jetstream
