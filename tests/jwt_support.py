"""An identity provider for tests, on loopback: signing keys made with ``cryptography``, a
real HTTP server publishing them (JWKS and OpenID discovery) that counts what it is asked,
and tokens signed with them, well-formed or forged in the ways attackers forge them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = ["IdentityProvider", "SigningKey", "forged_hs256", "unsigned"]

AUDIENCE = "orders-api"


@dataclass
class SigningKey:
    """A private key and its public JWK (``kid``, ``alg``)."""

    kid: str
    algorithm: str
    private: Any = field(repr=False)

    @classmethod
    def make(cls, kid: str, algorithm: str = "RS256") -> SigningKey:
        if algorithm.startswith("ES"):
            curve = ec.SECP256R1() if algorithm == "ES256" else ec.SECP384R1()
            return cls(kid, algorithm, ec.generate_private_key(curve))
        return cls(kid, algorithm, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        maker = ECAlgorithm if self.algorithm.startswith("ES") else RSAAlgorithm
        data: dict[str, Any] = json.loads(maker.to_jwk(public))
        return {**data, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def public_pem(self) -> bytes:
        key: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """A token with ``alg: none`` and no signature."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def forged_hs256(claims: dict[str, Any], key: SigningKey) -> str:
    """A token "signed" with HS256 using the issuer's *public* key as the secret: the classic
    algorithm-confusion forgery."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    body = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key.public_pem(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


class IdentityProvider:
    """``with IdentityProvider() as idp:`` serves ``/jwks.json`` and
    ``/.well-known/openid-configuration`` on 127.0.0.1 until the block ends.

    Attributes:
        keys: The keys published now (change it to rotate).
        hits: Requests by path.
    """

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys) or [SigningKey.make("key-1")]
        self.hits: Counter[str] = Counter()
        self.failing = False  # answer 503 to everything
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.hits[self.path] += 1
                body = provider._document(self.path)
                status = 503 if provider.failing else 200 if body is not None else 404
                data = json.dumps(body).encode() if status == 200 else b"{}"
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = self.url + "/"
        self.jwks_url = self.url + "/jwks.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _document(self, path: str) -> dict[str, Any] | None:
        if path == "/jwks.json":
            return {"keys": [key.jwk() for key in self.keys]}
        if path == "/.well-known/openid-configuration":
            return {"issuer": self.issuer, "jwks_uri": self.jwks_url}
        return None

    def __enter__(self) -> IdentityProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 600,
            "scope": "orders:read profile",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: SigningKey | None = None, **overrides: Any) -> str:
        """A token signed with ``key`` (the first published one by default)."""
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**overrides), key.private, algorithm=key.algorithm, headers={"kid": key.kid}
        )
