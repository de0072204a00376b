"""``SigningKeys``: one issuer's signing keys, fetched when first needed, cached, and fetched
again when a token names a key not yet seen (an issuer rotating its keys), but never more
often than once per ``refetch_interval``: a flood of tokens with made-up ``kid`` values
must not turn the gateway into a flood on the identity provider.

A refresh that fails keeps the keys already held; only a gateway that never got any keys
refuses tokens for that reason (as a failure of its own, not of the token).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import orjson
from jwt import PyJWK

from lockgate.errors import AuthorizerUnavailableError
from lockgate.gateways.interfaces import IKeySetFetcher
from lockgate.models.security.authorizers import JwtAuthorizer, check_fetch_url
from lockgate.use_cases.auth.authorizers.key_set import KeySet, KeySetError

__all__ = ["MAX_KEY_AGE", "REFETCH_INTERVAL", "SigningKeys"]

logger = logging.getLogger(__name__)

REFETCH_INTERVAL = 10.0
"""Seconds between fetches caused by unknown ``kid`` values (or by failures)."""
MAX_KEY_AGE = 3600.0
"""Seconds keys are used before they are fetched again (in the background): a key the
issuer withdrew stops working within this time. API Gateway keeps them up to two hours."""


class SigningKeys:
    """The keys of ``authorizer``'s issuer.

    Args:
        authorizer: Where the keys are published (``jwks_url``, or the issuer's discovery).
        fetcher: Reads the documents.
        refetch_interval: See ``REFETCH_INTERVAL``.
        max_age: See ``MAX_KEY_AGE``.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        authorizer: JwtAuthorizer,
        fetcher: IKeySetFetcher,
        *,
        refetch_interval: float = REFETCH_INTERVAL,
        max_age: float = MAX_KEY_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._authorizer = authorizer
        self._fetcher = fetcher
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._jwks_url = authorizer.jwks_url
        self._refresh: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"SigningKeys({self._authorizer.name!r}, {len(self._keys or ())} keys)"

    async def key(self, kid: str, algorithm: str) -> PyJWK | None:
        """The key ``kid`` names for ``algorithm``; None when the issuer has no such key
        (as far as a fetch allowed now can tell).

        Raises:
            AuthorizerUnavailableError: No keys were ever fetched, and fetching failed.
        """
        keys = self._keys
        now = self._clock()
        if keys is not None and kid in keys:
            if now - self._fetched_at >= self._max_age and self._may_fetch(now):
                self._start_refresh(now)  # keep serving meanwhile
            return keys.key(kid, algorithm)
        if self._refresh is not None:
            await asyncio.shield(self._refresh)
        elif self._may_fetch(now):
            await asyncio.shield(self._start_refresh(now))
        if self._keys is None:
            raise AuthorizerUnavailableError(
                f"authorizer {self._authorizer.name!r} has no signing keys yet: the last "
                "fetch failed (see the log)",
                authorizer=self._authorizer.name,
            )
        return self._keys.key(kid, algorithm)

    def current(self) -> KeySet | None:
        """The keys held now (a new object after each fetch), starting a background fetch
        when they are older than ``max_age``: what a token verified earlier was checked
        against must still be what is held for it to be taken again unchecked."""
        now = self._clock()
        if (
            self._keys is not None
            and now - self._fetched_at >= self._max_age
            and self._may_fetch(now)
        ):
            self._start_refresh(now)
        return self._keys

    async def settle(self) -> None:
        """Wait for a fetch in progress, if any (a stale key set is refreshed in the
        background while the held keys go on working)."""
        if self._refresh is not None:
            await asyncio.shield(self._refresh)

    async def close(self) -> None:
        """Stop a fetch in progress (the gateway is stopping)."""
        refresh = self._refresh
        if refresh is not None:
            refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresh

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._refetch_interval

    def _start_refresh(self, now: float) -> asyncio.Task[None]:
        """One refresh at a time; every caller that needs it waits on the same one."""
        if self._refresh is None:
            self._attempted_at = now
            self._refresh = asyncio.get_running_loop().create_task(self._fetch_keys())
        return self._refresh

    async def _fetch_keys(self) -> None:
        try:
            url = self._jwks_url or await self._discover()
            keys = KeySet.parse(await self._fetcher.fetch(url))
        except (AuthorizerUnavailableError, KeySetError) as exc:
            self._jwks_url = self._authorizer.jwks_url  # discover again next time
            held = f"keeping the {len(self._keys)} keys held" if self._keys else "no keys held"
            logger.warning(
                "authorizer %s: fetching signing keys failed (%s); %s",
                self._authorizer.name,
                exc,
                held,
            )
        else:
            self._jwks_url = url
            self._keys = keys
            self._fetched_at = self._clock()
            logger.info(
                "authorizer %s: %d signing keys from %s", self._authorizer.name, len(keys), url
            )
        finally:
            self._refresh = None

    async def _discover(self) -> str:
        """``jwks_uri`` from the issuer's OpenID discovery document.

        Raises:
            AuthorizerUnavailableError: The document cannot be fetched, or is not one of
                this issuer's, or names a key set URL that is neither https nor loopback.
        """
        url = self._authorizer.discovery_url
        body = await self._fetcher.fetch(url)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("jwks_uri"), str):
            raise AuthorizerUnavailableError(f"{url} is not a discovery document with jwks_uri")
        if document.get("issuer") != self._authorizer.issuer:
            # OpenID Connect Discovery 1.0, section 4.3: the issuer must match exactly.
            raise AuthorizerUnavailableError(
                f"{url} names another issuer ({str(document.get('issuer'))[:200]!r})"
            )
        try:
            return check_fetch_url(document["jwks_uri"], f"jwks_uri in {url}")
        except ValueError as exc:
            raise AuthorizerUnavailableError(str(exc)) from None
