"""``BotocoreSigV4Signer``: recomputes a request's SigV4 signature with botocore's own signer.

botocore is what boto3 and the AWS CLI sign with, so its canonicalisation (the non-S3
double-encoded path, the sorted query, header folding, the payload hash) is theirs by
construction; nothing of it is copied here. Four things are adapted to a server's side:

* the request is rebuilt from what was *received*: the raw, still-encoded path and query
  (a decoded ``%3A`` would change the canonical path), and only the headers the caller
  listed in ``SignedHeaders``;
* ``headers_to_sign`` returns exactly those headers. botocore's own drops a few names it
  never signs (``user-agent``, ``expect`` ...) and adds ``host`` when absent: right for a
  client choosing what to sign, wrong for a server that must take the caller's list as it is
  (another SDK may sign ``user-agent``). They are handed over in a light map of their own
  rather than botocore's ``HTTPHeaders`` (an ``email.message``, slow to fill and to read);
* ``payload`` hashes the body bytes directly, always (a signed ``x-amz-content-sha256`` is
  never taken instead). botocore's reaches them through ``AWSRequest.body``, which prepares
  a whole copy of the request first: 40% of the verification's cost, for the same SHA-256;
* the signing key (four HMACs over the secret key, the date, region and service) is kept per
  key and scope, as AWS's documentation suggests: it changes once a day per key, and
  deriving it was half of what is left of the verification's cost.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from http.client import HTTPMessage

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lockgate.models.security.sigv4 import SignedRequest, SigV4Authorization

__all__ = ["BotocoreSigV4Signer"]

# The canonical request uses only the URL's path and query; the host comes from the signed
# Host header. A fixed name keeps whatever the client sent as Host out of URL parsing, and
# "http" keeps botocore hashing the payload (it may skip that for https when told to).
_BASE_URL = "http://lockgate.invalid"


_SIGNING_KEYS = 256  # scopes (key, date, region, service) kept; a day uses one per key


class _Headers:
    """The signed headers, as botocore's canonicalisation reads them: their names by
    iteration, each one's values in order by ``get_all``."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def get_all(self, name: str) -> list[str]:
        return self._values.get(name, [])


class _ExactHeaders(SigV4Auth):
    """botocore's SigV4 signer, canonicalising exactly the headers the caller signed, with
    the signing key kept per scope (botocore derives it anew for every request)."""

    def __init__(
        self,
        credentials: Credentials,
        scope: tuple[str, str, str, str],
        headers: _Headers,
        signing_keys: dict[tuple[str, str, str, str], bytes],
    ) -> None:
        super().__init__(credentials, scope[3], scope[2])
        self._scope = scope  # secret key, date, region, service
        self._headers = headers
        self._signing_keys = signing_keys

    def headers_to_sign(self, _request: AWSRequest) -> HTTPMessage:
        return self._headers  # type: ignore[return-value]  # all botocore reads of one

    def payload(self, request: AWSRequest) -> str:
        # Lambda signs every payload (never UNSIGNED-PAYLOAD or a streaming trailer).
        return hashlib.sha256(request.data or b"").hexdigest()

    def signature(self, string_to_sign: str, _request: AWSRequest) -> str:
        key = self._signing_keys.get(self._scope)
        if key is None:
            secret_key, date, region, service = self._scope
            key = f"AWS4{secret_key}".encode()
            for part in (date, region, service, "aws4_request"):  # AWS's derivation
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            if len(self._signing_keys) >= _SIGNING_KEYS:
                self._signing_keys.clear()  # keys rotated, or many scopes: start afresh
            self._signing_keys[self._scope] = key
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class BotocoreSigV4Signer:
    """Implements ``ISigV4Signer`` with ``botocore.auth.SigV4Auth``."""

    def __init__(self) -> None:
        self._signing_keys: dict[tuple[str, str, str, str], bytes] = {}

    def __repr__(self) -> str:
        return "BotocoreSigV4Signer()"

    def signature(
        self,
        request: SignedRequest,
        authorization: SigV4Authorization,
        timestamp: str,
        secret_key: str,
    ) -> str:
        """See ``ISigV4Signer.signature``."""
        wanted = frozenset(authorization.signed_headers)
        headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            if name in wanted:
                headers.setdefault(name, []).append(value)  # repeated headers are kept
        url = _BASE_URL + request.raw_path + (f"?{request.query}" if request.query else "")
        signed = AWSRequest(method=request.method, url=url, data=request.body)
        signed.context["timestamp"] = timestamp  # what every step of botocore's signing reads
        signer = _ExactHeaders(
            Credentials(authorization.access_key_id, secret_key),
            (secret_key, timestamp[0:8], authorization.region, authorization.service),
            _Headers(headers),
            self._signing_keys,
        )
        canonical = signer.canonical_request(signed)
        return signer.signature(signer.string_to_sign(signed, canonical), signed)
