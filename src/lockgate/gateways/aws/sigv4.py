"""``BotocoreSigV4Signer``: recomputes a request's SigV4 signature with botocore's own signer.

botocore is what boto3 and the AWS CLI sign with, so its canonicalisation (the non-S3
double-encoded path, the sorted query, header folding, the payload hash) is theirs by
construction; nothing of it is copied here. Two things are adapted to a server's side:

* the request is rebuilt from what was *received*: the raw, still-encoded path and query
  (a decoded ``%3A`` would change the canonical path), and only the headers the caller
  listed in ``SignedHeaders``;
* ``headers_to_sign`` returns exactly those headers. botocore's own drops a few names it
  never signs (``user-agent``, ``expect`` ...) and adds ``host`` when absent: right for a
  client choosing what to sign, wrong for a server that must take the caller's list as it is
  (another SDK may sign ``user-agent``);
* ``payload`` hashes the body bytes directly. botocore's reaches them through
  ``AWSRequest.body``, which prepares a whole copy of the request first: 40% of the
  verification's cost, for the same SHA-256.
"""

from __future__ import annotations

import hashlib
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


class _ExactHeaders(SigV4Auth):
    """botocore's SigV4 signer, canonicalising exactly the headers the request carries."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPMessage:
        return request.headers

    def payload(self, request: AWSRequest) -> str:
        # Lambda signs every payload (never UNSIGNED-PAYLOAD or a streaming trailer).
        return hashlib.sha256(request.data or b"").hexdigest()


class BotocoreSigV4Signer:
    """Implements ``ISigV4Signer`` with ``botocore.auth.SigV4Auth``."""

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
        url = _BASE_URL + request.raw_path + (f"?{request.query}" if request.query else "")
        signed = AWSRequest(method=request.method, url=url, data=request.body)
        for name, value in request.headers:
            if name in wanted:
                signed.headers[name] = value  # a Message appends: repeated headers are kept
        signed.context["timestamp"] = timestamp  # what every step of botocore's signing reads
        signer = _ExactHeaders(
            Credentials(authorization.access_key_id, secret_key),
            authorization.service,
            authorization.region,
        )
        canonical = signer.canonical_request(signed)
        return signer.signature(signer.string_to_sign(signed, canonical), signed)
