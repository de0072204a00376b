"""AWS Signature Version 4 on the Lambda API: the static credentials ``[aws_credentials.NAME]``
declares, a parsed ``Authorization: AWS4-HMAC-SHA256 ...`` header, and the request as the
signature covers it.

A credential's secret access key is never here: ``secret_ref`` names the secret that holds
it, read from the secret store when a request needs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lockgate.models.secret import SECRET_NAME
from lockgate.models.security.principals import (
    CREDENTIAL_NAME,
    FUNCTIONS_INVOKE,
    Principal,
    check_scope,
)

__all__ = [
    "ACCESS_KEY_ID",
    "AWS_ACCOUNT",
    "SIGV4_ALGORITHM",
    "AwsCredential",
    "SigV4Authorization",
    "SignedRequest",
    "user_arn",
]

SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
"""What an access key id may be: AWS's are 16-128 upper-case letters and digits (``AKIA...``)."""
AWS_ACCOUNT = "000000000000"
"""The account every ARN the gateway writes names (functions', and its users')."""


def user_arn(credential_name: str) -> str:
    """The IAM user ARN AWS's messages would name for the key ``credential_name``."""
    return f"arn:aws:iam::{AWS_ACCOUNT}:user/{credential_name}"


@dataclass(frozen=True, slots=True)
class AwsCredential:
    """``[aws_credentials.NAME]``: a static access key that may call some functions.

    Attributes:
        name: The table's name; the caller's principal is ``aws:<name>``.
        access_key_id: What the caller's ``Credential=`` names (``AKIA...``).
        secret_ref: The secret holding the secret access key (a string, or an object with
            ``secret_access_key``).
        allow_functions: Names or shell-style globs (``reports-*``) of the functions this
            key may invoke, list and describe; ``["*"]`` for all, ``[]`` for none.

    Raises:
        ValueError: A field is malformed (the message names it).
    """

    name: str
    access_key_id: str
    secret_ref: str
    allow_functions: tuple[str, ...]

    def __post_init__(self) -> None:
        if not CREDENTIAL_NAME.fullmatch(self.name):
            raise ValueError(
                f"name {self.name!r} is invalid: expected 1-128 letters, digits or _ . @ -, "
                "starting with a letter or digit"
            )
        if not ACCESS_KEY_ID.fullmatch(self.access_key_id):
            raise ValueError(
                "access_key_id: expected 16-128 upper-case letters and digits (AKIA...)"
            )
        if not SECRET_NAME.fullmatch(self.secret_ref):
            raise ValueError(
                f"secret_ref: {self.secret_ref!r} is not a secret name (letters, digits, "
                "_ . - /, up to 128 characters)"
            )
        for pattern in self.allow_functions:
            try:
                check_scope(f"{FUNCTIONS_INVOKE}:{pattern}")
            except ValueError:
                raise ValueError(
                    f"allow_functions: {pattern!r} is not a function name or glob (1-64 "
                    "letters, digits, _ - * ?)"
                ) from None

    def __repr__(self) -> str:  # the key id is not secret, but half of a credential
        return f"AwsCredential({self.name!r}, secret_ref={self.secret_ref!r})"

    def principal(self) -> Principal:
        """The caller this key proves: ``aws:<name>``, allowed ``functions:invoke`` on
        ``allow_functions`` only, so the scope checks and ListFunctions' filter apply."""
        scopes = frozenset(f"{FUNCTIONS_INVOKE}:{pattern}" for pattern in self.allow_functions)
        return Principal(f"aws:{self.name}", "aws", scopes)


@dataclass(frozen=True, slots=True)
class SigV4Authorization:
    """An ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``
    header, taken apart.

    Attributes:
        access_key_id: The key the caller signed with.
        date: The credential scope's date (``YYYYMMDD``).
        region, service, terminator: The rest of the credential scope.
        signed_headers: The lower-case names of the headers the signature covers.
        signature: The signature, hex.
    """

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str

    def __repr__(self) -> str:
        return f"SigV4Authorization({self.access_key_id!r}, {self.credential_scope!r})"

    @property
    def credential_scope(self) -> str:
        """``date/region/service/terminator``."""
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as received, in the forms its signature covers.

    Attributes:
        method: ``POST``, ``GET`` ...
        raw_path: The path exactly as sent, still percent-encoded (``arn%3Aaws%3A...``).
        query: The query string exactly as sent, without ``?``.
        headers: Every header as received: lower-case names, values as sent, repeats kept.
        body: The whole body.
    """

    method: str
    raw_path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def __repr__(self) -> str:  # bodies and headers may hold what the caller keeps private
        return f"SignedRequest({self.method} {self.raw_path!r}, {len(self.body)} bytes)"

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None
