"""``JwtVerifier``: the checks an HTTP API JWT authorizer makes, in its order.

1. the header: an allowed algorithm (never ``none`` or HMAC) and a ``kid``;
2. the signature, with the issuer's key of that ``kid``;
3. ``exp`` (required), ``nbf`` and ``iat``, with ``LEEWAY`` seconds for clock skew;
4. ``iss`` exactly; ``aud`` one of the audiences, or ``client_id`` when there is no ``aud``.

Signature and time checks are PyJWT's (pure code over ``cryptography``); fetching keys is
``SigningKeys``' business.

A token that passed is remembered by its exact text (as Envoy's ``jwt_authn`` cache does),
so the next request carrying it costs a dictionary look-up instead of a header parse and an
RSA or ECDSA verification (about 70 µs): it is taken again unchecked only while it has not
expired (``exp`` plus ``LEEWAY``) and the issuer's keys held are the very ones it was
checked with (a refresh, at least hourly, forgets it). Refused tokens are never remembered,
and the memory is bounded (``REMEMBERED_TOKENS`` tokens of at most ``REMEMBERED_BYTES``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from lockgate.models.security.authorizers import JwtAuthorizer
from lockgate.use_cases.auth.authorizers.identity import event_claims
from lockgate.use_cases.auth.authorizers.key_set import ALGORITHMS, KeySet
from lockgate.use_cases.auth.authorizers.signing_keys import SigningKeys

__all__ = [
    "LEEWAY",
    "REMEMBERED_BYTES",
    "REMEMBERED_TOKENS",
    "JwtRejectedError",
    "JwtVerifier",
    "VerifiedToken",
    "token_scopes",
]

LEEWAY = 30
"""Seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``. API Gateway documents
none; 30 s absorbs the drift of hosts without tight time sync (and of the test machine),
and adds under 1% to an hour-long token."""

REMEMBERED_TOKENS = 4096
"""Verified tokens remembered per authorizer; the oldest is forgotten first."""
REMEMBERED_BYTES = 4096
"""Longer tokens are verified every time: the memory stays under 16 MiB per authorizer."""

_MESSAGES: tuple[tuple[type[PyJWTError], str], ...] = (
    (ExpiredSignatureError, "the token has expired"),
    (ImmatureSignatureError, "the token is not valid yet"),
    (InvalidIssuedAtError, "the token's iat claim is not a number"),
    (InvalidIssuerError, "the token does not have a valid issuer"),
    (InvalidSignatureError, "the token's signature is not valid"),
)


class JwtRejectedError(Exception):
    """The token proves nothing; ``reason`` says why (never quoting the token), in the words
    ``WWW-Authenticate``'s ``error_description`` carries."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VerifiedToken(NamedTuple):
    claims: Mapping[str, Any]
    scopes: tuple[str, ...]
    event_claims: Mapping[str, str]  # as the function's event shows them, made once


class _Remembered(NamedTuple):
    verified: VerifiedToken
    expires: float  # Unix seconds: exp + LEEWAY
    keys: KeySet  # the issuer's keys it was checked against


def token_scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The scopes a token carries: OAuth's space-separated ``scope`` and the ``scp`` array
    (or string) some providers use instead, in order, each once."""
    found: list[str] = []
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.extend(value.split())
        elif isinstance(value, list):
            found.extend(item for item in value if isinstance(item, str) and item)
    return tuple(dict.fromkeys(found))


class JwtVerifier:
    """Checks tokens of one JWT authorizer.

    Args:
        authorizer: Its issuer and audiences.
        keys: Its issuer's signing keys.
        clock: Unix seconds (what ``exp`` is compared with).
    """

    def __init__(
        self,
        authorizer: JwtAuthorizer,
        keys: SigningKeys,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authorizer = authorizer
        self.keys = keys
        self._audience = frozenset(authorizer.audience)
        self._clock = clock
        self._remembered: dict[str, _Remembered] = {}

    async def verify(self, token: str) -> VerifiedToken:
        """The token's claims and scopes, once every check passed (or, for a token that
        passed before, while it has not expired and the issuer's keys are unchanged).

        Raises:
            JwtRejectedError: A check failed.
            AuthorizerUnavailableError: There are no keys to check it with (the issuer's
                keys were never fetched): the gateway's failure, not the caller's.
        """
        remembered = self._remembered.get(token)
        if remembered is not None:
            if remembered.keys is self.keys.current() and self._clock() < remembered.expires:
                return remembered.verified
            del self._remembered[token]
        before = self.keys.current()
        verified = await self._verify(token)
        # Remembered with the keys it was checked against: those held before, or the first
        # ones fetched meanwhile; not when a refresh replaced the keys during the check.
        after = self.keys.current()
        if after is not None and before in (None, after) and len(token) <= REMEMBERED_BYTES:
            self._remember(token, verified, after)
        return verified

    def _remember(self, token: str, verified: VerifiedToken, keys: KeySet) -> None:
        if len(self._remembered) >= REMEMBERED_TOKENS:
            del self._remembered[next(iter(self._remembered))]  # the oldest
        # PyJWT has checked exp is a number; LEEWAY as PyJWT applies it.
        expires = float(verified.claims["exp"]) + LEEWAY
        self._remembered[token] = _Remembered(verified, expires, keys)

    async def _verify(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise JwtRejectedError("the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise JwtRejectedError(f"the token's algorithm is not one of {', '.join(ALGORITHMS)}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise JwtRejectedError("the token has no kid")
        key = await self.keys.key(kid, algorithm)
        if key is None:
            raise JwtRejectedError("the token's kid is not one of the issuer's signing keys")
        claims = self._decode(token, key, algorithm)
        self._check_audience(claims)
        return VerifiedToken(claims, token_scopes(claims), event_claims(claims))

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.authorizer.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except MissingRequiredClaimError as exc:
            raise JwtRejectedError(f"the token has no {exc.claim} claim") from None
        except PyJWTError as exc:
            for kind, message in _MESSAGES:
                if isinstance(exc, kind):
                    raise JwtRejectedError(message) from None
            raise JwtRejectedError("the token is malformed") from None
        return claims

    def _check_audience(self, claims: Mapping[str, Any]) -> None:
        # As API Gateway: aud when present (a string or an array, any element may match),
        # client_id only when there is no aud (Cognito's access tokens).
        audience = claims.get("aud", claims.get("client_id"))
        presented = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a in self._audience for a in presented):
            raise JwtRejectedError("the token does not have a valid audience")
