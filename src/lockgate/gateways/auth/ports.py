"""``IKeySetFetcher``: how a JWT authorizer reads its issuer's discovery document and
signing keys."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["IKeySetFetcher"]


@runtime_checkable
class IKeySetFetcher(Protocol):
    """Reads small JSON documents from identity providers, within tight bounds: a slow or
    huge answer must not hold up the requests waiting for keys."""

    async def fetch(self, url: str) -> bytes:
        """The body ``url`` answers a ``GET`` with.

        Args:
            url: An https URL (http to a loopback address); checked by the caller.

        Returns:
            The body, when the answer is a 200 within the fetcher's time and size limits.

        Raises:
            AuthorizerUnavailableError: No such answer (unreachable, timed out, another
                status, a redirect, too large); the message names the URL and why.

        Side Effects:
            One HTTP request; redirects are not followed.
        """
        ...

    async def close(self) -> None:
        """Release connections. Idempotent."""
        ...
