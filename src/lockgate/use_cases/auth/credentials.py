"""``CredentialService``: make, list, revoke and recognise tokens and API keys.

A secret is shown once, when it is made; the store keeps its SHA-256. A fast hash is the
right one here: the secrets are 256 random bits, so there is nothing to guess, and a slow
hash would cost every request. Lookups are cached for ``cache_ttl`` seconds (a revocation
made on another node or by the CLI takes effect within that time; one made through this
service at once), and last use is written about once a minute, never on the request path.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable

from lockgate.errors import CredentialNotFoundError, InvalidRequestError
from lockgate.gateways.interfaces import ICredentialStore
from lockgate.models.security.principals import (
    CREDENTIAL_NAME,
    Credential,
    CredentialKind,
    check_scope,
)

__all__ = ["PREFIXES", "CredentialService", "hash_secret"]

logger = logging.getLogger(__name__)

PREFIXES = {CredentialKind.TOKEN: "lg_", CredentialKind.API_KEY: "lgk_"}
"""Recognisable prefixes, so a leaked secret is easy to find in code and logs scanners."""
_SECRET_BYTES = 32
_MAX_SECRET = 200  # longer presented values are not ours: not hashed, not looked up
_CACHE_SIZE = 10_000


def hash_secret(secret: str) -> str:
    """The hash a credential's secret is stored and looked up by."""
    return hashlib.sha256(secret.encode()).hexdigest()


class CredentialService:
    """Tokens and API keys on a ``ICredentialStore``.

    Args:
        store: Where they are kept (opened by the caller).
        cache_ttl: Seconds a lookup (found or not) is reused.
        clock: Monotonic seconds, for the cache.
        wall_clock: Unix seconds, for created and last-used times.
    """

    def __init__(
        self,
        store: ICredentialStore,
        *,
        cache_ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._wall_clock = wall_clock
        self._cache: dict[str, tuple[float, Credential | None]] = {}
        self._used: dict[str, float] = {}

    @property
    def store(self) -> ICredentialStore:
        return self._store

    async def create(
        self,
        kind: CredentialKind,
        name: str,
        *,
        scopes: Iterable[str] = (),
        plan: str | None = None,
    ) -> tuple[Credential, str]:
        """Make a credential.

        Returns:
            The stored credential and its secret, which is never shown again.

        Raises:
            InvalidRequestError: A bad name or scope, scopes on an API key, a token without
                any scope, or an API key without a plan.
            CredentialExistsError: One of that kind has that name.
            RunStoreError: The store failed.
        """
        scopes = tuple(dict.fromkeys(scopes))
        if not CREDENTIAL_NAME.fullmatch(name):
            raise InvalidRequestError(
                f"name {name!r} is invalid: expected 1-128 letters, digits or _ . @ -, "
                "starting with a letter or digit",
                field="name",
            )
        try:
            for scope in scopes:
                check_scope(scope)
        except ValueError as exc:
            raise InvalidRequestError(str(exc), field="scopes") from None
        if kind is CredentialKind.TOKEN and not scopes:
            raise InvalidRequestError(
                "a token needs at least one scope (e.g. --scope workflows:run)", field="scopes"
            )
        if kind is CredentialKind.API_KEY and (scopes or not plan):
            raise InvalidRequestError(
                "an API key has a usage plan and no scopes (it meters routes; tokens carry scopes)",
                field="plan",
            )
        secret = PREFIXES[kind] + secrets.token_urlsafe(_SECRET_BYTES)
        credential = Credential(
            credential_id=secrets.token_hex(8),
            kind=kind,
            name=name,
            secret_hash=hash_secret(secret),
            created_at=self._wall_clock(),
            scopes=scopes,
            plan=plan,
        )
        await self._store.add(credential)
        logger.info("%s %r created (scopes: %s)", kind.value, name, " ".join(scopes) or "-")
        return credential, secret

    async def list(self, kind: CredentialKind) -> list[Credential]:
        """Every credential of ``kind``, by name (last use as of the latest flush)."""
        await self.flush()
        return await self._store.list(kind)

    async def revoke(self, kind: CredentialKind, name: str) -> None:
        """Delete a credential; this node stops accepting it at once.

        Raises:
            CredentialNotFoundError: None of that kind has that name.
            RunStoreError: The store failed.
        """
        if not await self._store.revoke(kind, name):
            raise CredentialNotFoundError(f"no {kind.value} named {name!r}", name=name)
        self._cache = {
            h: entry
            for h, entry in self._cache.items()
            if entry[1] is None or (entry[1].kind, entry[1].name) != (kind, name)
        }
        logger.info("%s %r revoked", kind.value, name)

    async def authenticate(self, secret: str, kind: CredentialKind) -> Credential | None:
        """The credential of ``kind`` whose secret ``secret`` is, or None.

        Raises:
            RunStoreError: The store failed (the caller answers 503, not 401).
        """
        if not secret.startswith(PREFIXES[kind]) or len(secret) > _MAX_SECRET:
            return None
        digest = hash_secret(secret)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            found = cached[1]
        else:
            found = await self._store.find(digest)
            if len(self._cache) >= _CACHE_SIZE:
                del self._cache[next(iter(self._cache))]  # the oldest entry
            self._cache[digest] = (now + self._cache_ttl, found)
        if found is None or found.kind is not kind:
            return None
        self._used[found.credential_id] = self._wall_clock()
        return found

    async def flush(self) -> None:
        """Write the last-use times gathered since the previous flush.

        Raises:
            RunStoreError: The store failed (the times are kept for the next flush).
        """
        if not self._used:
            return
        used, self._used = self._used, {}
        try:
            await self._store.touch(used)
        except BaseException:
            for credential_id, when in used.items():
                self._used[credential_id] = max(when, self._used.get(credential_id, 0.0))
            raise
