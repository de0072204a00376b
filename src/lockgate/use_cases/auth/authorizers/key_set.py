"""``KeySet``: a JWKS document, parsed once, answering "the key for this ``kid`` and this
algorithm" (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from jwt import PyJWK
from jwt.exceptions import PyJWTError

__all__ = ["ALGORITHMS", "KeySet", "KeySetError"]

# RSA as HTTP APIs accept, and ECDSA P-256/P-384 on top (the issue asks for ES256; REST
# APIs' newer JWT authorizer accepts it too). Never "none", never HMAC: a public key must
# never be usable as a shared secret.
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384")
_KEY_TYPES = {"RS": "RSA", "ES": "EC"}
_CURVES = {"ES256": "P-256", "ES384": "P-384"}


class KeySetError(ValueError):
    """A document is not a usable JWKS; the message says why."""


class KeySet:
    """The signing keys of one issuer, by ``kid``.

    Keys without a ``kid``, of another type than RSA and EC, or marked for encryption only
    are left out: a token names its key by ``kid``, and nothing else may sign.
    """

    __slots__ = ("_jwks", "_made")

    def __init__(self, keys: Mapping[str, Mapping[str, Any]]) -> None:
        self._jwks = dict(keys)
        self._made: dict[tuple[str, str], PyJWK | None] = {}

    def __len__(self) -> int:
        return len(self._jwks)

    def __contains__(self, kid: object) -> bool:
        return kid in self._jwks

    @classmethod
    def parse(cls, body: bytes) -> KeySet:
        """The keys of a JWKS document.

        Raises:
            KeySetError: It is not JSON, has no ``keys`` array, or no usable key.
        """
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise KeySetError("the key set is not JSON") from None
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise KeySetError("the key set has no 'keys' array")
        usable: dict[str, Mapping[str, Any]] = {}
        for jwk in keys:
            if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
                continue
            if jwk.get("kty") not in ("RSA", "EC") or jwk.get("use", "sig") != "sig":
                continue
            usable.setdefault(jwk["kid"], jwk)  # a repeated kid: the first one stands
        if not usable:
            raise KeySetError("the key set has no RSA or EC signing key with a 'kid'")
        return cls(usable)

    def key(self, kid: str, algorithm: str) -> PyJWK | None:
        """The key ``kid`` names, made for ``algorithm`` (one of ``ALGORITHMS``); None when
        there is none, or when that key is not for that algorithm (its ``kty``, ``crv`` or
        ``alg`` says otherwise)."""
        made_key = (kid, algorithm)
        if made_key in self._made:
            return self._made[made_key]
        made = self._make(kid, algorithm)
        self._made[made_key] = made  # bounded: by the keys times the five algorithms
        return made

    def _make(self, kid: str, algorithm: str) -> PyJWK | None:
        jwk = self._jwks.get(kid)
        if jwk is None or algorithm not in ALGORITHMS:
            return None
        if jwk.get("kty") != _KEY_TYPES[algorithm[:2]]:
            return None
        if jwk.get("alg", algorithm) != algorithm:
            return None
        if algorithm in _CURVES and jwk.get("crv") != _CURVES[algorithm]:
            return None
        try:
            return PyJWK(dict(jwk), algorithm)
        except PyJWTError:
            return None
