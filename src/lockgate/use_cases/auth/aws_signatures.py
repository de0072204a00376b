"""``SigV4Authenticator``: the Lambda API's callers proven by AWS Signature Version 4, as AWS
proves them, against the static keys of ``[aws_credentials.NAME]``.

boto3, the AWS CLI and the JavaScript SDK sign every request already; with a key declared
here they sign with it and work unchanged. The checks, in order, each refused with AWS's
code and words (``aws_code`` on the ``UnauthorizedError``):

1. the header parses (``IncompleteSignatureException``);
2. the access key is declared (``UnrecognizedClientException``); a session token is refused
   the same way: these keys are static, and no STS here issues temporary ones;
3. the credential scope: its date is the request's, service ``lambda``, terminator
   ``aws4_request``; any well-formed region, because one gateway answers for all of them and
   the region only salts the signing key (``InvalidSignatureException``);
4. the time, within 5 minutes of this gateway's clock either way;
5. ``host`` is signed, a signed ``x-amz-content-sha256`` is the body's hash (botocore trusts
   that header as the payload hash, so a lie would otherwise pass), and the signature,
   recomputed by the ``ISigV4Signer``, matches in constant time.

The secret key is read from the secret store each time (the ``SecretManager`` caches it),
so a rotated secret takes effect within its cache's TTL; it never reaches a message or a log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lockgate.errors import ConfigError, LockgateError, SecretStoreError
from lockgate.gateways.interfaces import ISigV4Signer
from lockgate.models.security.principals import Principal
from lockgate.models.security.sigv4 import AwsCredential, SignedRequest, SigV4Authorization
from lockgate.use_cases.auth.sigv4_parsing import (
    INVALID_SIGNATURE,
    TIMESTAMP_FORMAT,
    UNRECOGNIZED,
    parse_authorization,
    request_time,
    signature_error,
)
from lockgate.use_cases.secrets.setup import SecretBackend

__all__ = [
    "SECRET_KEY_FIELD",
    "SKEW_SECONDS",
    "SigV4Authenticator",
    "check_aws_secrets",
    "secret_key_of",
]

logger = logging.getLogger(__name__)

SKEW_SECONDS = 300  # AWS Lambda's window: "(... - 5 min.)"
SECRET_KEY_FIELD = "secret_access_key"  # noqa: S105 - a field name, not a secret
_SERVICE = "lambda"
_TERMINATOR = "aws4_request"
_REGION = re.compile(r"[A-Za-z0-9-]{1,64}")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
_UNKNOWN_KEY = "The security token included in the request is invalid."


def secret_key_of(value: Any) -> str | None:
    """The secret access key in a secret's value: the value itself when it is a string,
    else its ``secret_access_key``; None when it is neither (or empty)."""
    if isinstance(value, Mapping):
        value = value.get(SECRET_KEY_FIELD)
    return value if isinstance(value, str) and value else None


class SigV4Authenticator:
    """Proves Lambda API callers by their SigV4 signatures.

    Args:
        credentials: Returns the declared keys now (a reload may change them).
        secrets: Returns the gateway's secrets now (None: it runs without secrets).
        signer: Returns the signer (botocore, imported on first use).
        clock: Wall-clock Unix seconds.
    """

    def __init__(
        self,
        credentials: Callable[[], Sequence[AwsCredential]],
        secrets: Callable[[], SecretBackend | None],
        signer: Callable[[], ISigV4Signer],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._secrets = secrets
        self._signer = signer
        self._made_signer: ISigV4Signer | None = None  # made on first use, then kept
        self._clock = clock
        self._indexed: Sequence[AwsCredential] = ()
        self._by_key: dict[str, AwsCredential] = {}
        self._principals: dict[str, Principal] = {}  # what each key proves, made once

    @property
    def configured(self) -> bool:
        """Whether any key is declared (else signatures stand for no credential)."""
        return bool(self._credentials())

    async def principal(self, authorization: str, request: SignedRequest) -> Principal:
        """The caller ``request``, signed as ``authorization`` says, proves.

        Raises:
            UnauthorizedError: The signature proves nobody; ``aws_code`` names AWS's
                exception, the message is AWS's (never the secret key).
            SecretStoreError: The key's secret cannot be read (the log says why).
            ConfigError: botocore is not installed (``lockgate[aws]``).
        """
        dated = request.header("x-amz-date") is not None or request.header("date") is not None
        parsed = parse_authorization(authorization, dated=dated)
        credential = self._credential(parsed.access_key_id)
        if request.header("x-amz-security-token") is not None:
            raise signature_error(
                UNRECOGNIZED,
                f"{_UNKNOWN_KEY} Lockgate's [aws_credentials] are static keys: sign without "
                "a session token.",
            )
        timestamp, signed_at = request_time(request)
        _check_scope(parsed, timestamp)
        _check_clock(timestamp, signed_at, self._clock())
        _check_covered(parsed, request)
        secret_key = await self._secret_key(credential)
        if self._made_signer is None:
            self._made_signer = self._signer()
        expected = self._made_signer.signature(request, parsed, timestamp, secret_key)
        if not hmac.compare_digest(expected.encode(), parsed.signature.encode("latin-1")):
            raise signature_error(INVALID_SIGNATURE, _MISMATCH)
        return self._principals[credential.access_key_id]

    def _credential(self, access_key_id: str) -> AwsCredential:
        declared = self._credentials()
        if declared is not self._indexed:  # rebuilt once per reload, not per request
            self._by_key = {c.access_key_id: c for c in declared}
            self._principals = {c.access_key_id: c.principal() for c in declared}
            self._indexed = declared
        found = self._by_key.get(access_key_id)
        if found is None:
            raise signature_error(UNRECOGNIZED, _UNKNOWN_KEY)
        return found

    async def _secret_key(self, credential: AwsCredential) -> str:
        backend = self._secrets()
        problem = "this gateway runs without secrets"
        if backend is not None:
            try:
                key = secret_key_of((await backend.get_secret(credential.secret_ref)).reveal())
            except LockgateError as exc:
                problem = exc.message
            else:
                if key is not None:
                    return key
                problem = f"its value is neither a string nor an object with {SECRET_KEY_FIELD}"
        logger.error(
            "aws_credentials.%s: cannot read its secret key from secret %r: %s",
            credential.name,
            credential.secret_ref,
            problem,
        )
        raise SecretStoreError(
            "the gateway cannot read the secret key of this access key; its log says why"
        )


def _check_scope(parsed: SigV4Authorization, timestamp: str) -> None:
    if parsed.date != timestamp[:8]:
        raise signature_error(
            INVALID_SIGNATURE,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{parsed.date[:16]}' != '{timestamp[:8]}', from '{timestamp}'.",
        )
    if parsed.service != _SERVICE:
        raise signature_error(
            INVALID_SIGNATURE, f"Credential should be scoped to correct service: '{_SERVICE}'. "
        )
    if parsed.terminator != _TERMINATOR:
        raise signature_error(
            INVALID_SIGNATURE,
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', not "
            f"'{parsed.terminator[:32]}'. ",
        )
    if not _REGION.fullmatch(parsed.region):
        raise signature_error(
            INVALID_SIGNATURE,
            f"Credential should be scoped to a valid region, not '{parsed.region[:64]}'. ",
        )


def _check_clock(timestamp: str, signed_at: float, now: float) -> None:
    def basic(seconds: float) -> str:
        return time.strftime(TIMESTAMP_FORMAT, time.gmtime(seconds))

    if signed_at < now - SKEW_SECONDS:
        raise signature_error(
            INVALID_SIGNATURE,
            f"Signature expired: {timestamp} is now earlier than "
            f"{basic(now - SKEW_SECONDS)} ({basic(now)} - 5 min.)",
        )
    if signed_at > now + SKEW_SECONDS:
        raise signature_error(
            INVALID_SIGNATURE,
            f"Signature not yet current: {timestamp} is still later than "
            f"{basic(now + SKEW_SECONDS)} ({basic(now)} + 5 min.)",
        )


def _check_covered(parsed: SigV4Authorization, request: SignedRequest) -> None:
    """What the signature must cover for the gateway to trust what it acts on."""
    if "host" not in parsed.signed_headers:
        raise signature_error(
            INVALID_SIGNATURE,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    if "x-amz-content-sha256" in parsed.signed_headers:
        claimed = request.header("x-amz-content-sha256") or ""
        actual = hashlib.sha256(request.body).hexdigest()
        if not hmac.compare_digest(claimed.lower().encode("latin-1"), actual.encode()):
            raise signature_error(
                INVALID_SIGNATURE,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )


async def check_aws_secrets(
    credentials: Sequence[AwsCredential], secrets: SecretBackend | None
) -> None:
    """Fail start-up when a declared key's secret cannot be read.

    Raises:
        ConfigError: The gateway runs without secrets, or a secret is missing or holds
            no secret key; names the credential and the secret (never the value).
    """
    for credential in credentials:
        where = f"aws_credentials.{credential.name}"
        if secrets is None:
            raise ConfigError(
                f"{where}: its secret key is the secret {credential.secret_ref!r}, but this "
                "gateway runs without secrets: configure a master key and `lockgate secrets "
                f'set {credential.secret_ref} ...`, or secrets = "env"',
                key=f"{where}.secret_ref",
            )
        try:
            value = (await secrets.get_secret(credential.secret_ref)).reveal()
        except LockgateError as exc:
            raise ConfigError(
                f"{where}: cannot read its secret {credential.secret_ref!r}: {exc.message}",
                key=f"{where}.secret_ref",
            ) from None
        if secret_key_of(value) is None:
            raise ConfigError(
                f"{where}: the secret {credential.secret_ref!r} must be the secret access key "
                f"(a string) or an object with {SECRET_KEY_FIELD!r}",
                key=f"{where}.secret_ref",
            )
