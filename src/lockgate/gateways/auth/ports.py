"""``IKeySetFetcher`` (how a JWT authorizer reads its issuer's discovery document and
signing keys) and ``IBearerVerifier`` (a kind of bearer token the gateway accepts)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lockgate.models.security.principals import Principal

__all__ = ["IBearerVerifier", "IKeySetFetcher"]


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

        Note:
            Calls ``httpx.AsyncClient.stream("GET", url)``, reading at most the size limit.
        """
        ...

    async def close(self) -> None:
        """Release connections. Idempotent.

        Raises:
            Nothing.

        Side Effects:
            Closes the pooled connections; a later ``fetch`` opens new ones.

        Note:
            Calls ``httpx.AsyncClient.aclose()``.
        """
        ...


@runtime_checkable
class IBearerVerifier(Protocol):
    """Recognises bearer tokens of its own kind (a JWT authorizer's): the principal, or
    None when the token is not of its kind; refuses one of its kind that is invalid
    (expired, badly signed, wrong audience)."""

    def claims(self, token: str) -> bool:
        """Whether ``token`` looks like one of this verifier's.

        Args:
            token: The bearer token as presented.

        Returns:
            True when this verifier should decide on it.

        Raises:
            Nothing.

        Side Effects:
            None.

        Note:
            No external call: a look at the token's shape, cheap enough for every request.
        """
        ...

    async def principal(self, token: str) -> Principal:
        """The caller ``token`` proves.

        Args:
            token: A token ``claims`` said is of this verifier's kind.

        Returns:
            The principal, with the Lockgate scopes the token grants.

        Raises:
            UnauthorizedError: It proves nobody (the message says why, never quoting it).
            AuthorizerUnavailableError: The issuer's keys could not be fetched.

        Side Effects:
            May fetch the issuer's keys (once, then cached).

        Note:
            Through ``IKeySetFetcher.fetch`` when the keys are not held yet; the signature
            check itself is local (PyJWT).
        """
        ...
