"""Taking a SigV4 request apart: its ``Authorization`` header and its time, refused in AWS's
codes and words when malformed, so the SDKs raise what they would against AWS.

Every refusal is an ``UnauthorizedError`` whose ``aws_code`` field names AWS's exception
(``IncompleteSignatureException`` for a malformed header, ``InvalidSignatureException``
for a well-formed one that cannot be right). AWS echoes the whole ``Authorization`` header
in some of these messages; these never do (it carries the signature).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lockgate.errors import UnauthorizedError
from lockgate.models.security.sigv4 import SIGV4_ALGORITHM, SignedRequest, SigV4Authorization

__all__ = [
    "INCOMPLETE",
    "INVALID_SIGNATURE",
    "TIMESTAMP_FORMAT",
    "UNRECOGNIZED",
    "parse_authorization",
    "request_time",
    "signature_error",
]

INCOMPLETE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED = "UnrecognizedClientException"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_BASIC_TIMESTAMP = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")
_PARTS = ("Credential", "Signature", "SignedHeaders")  # the order AWS names them in
_NO_DATE = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
_ECHO = 64  # at most this much of a caller's value goes back into a message


def signature_error(code: str, message: str) -> UnauthorizedError:
    """A refused signature: ``aws_code`` says which AWS exception reports it."""
    return UnauthorizedError(message, presented=True, aws_code=code)


def parse_authorization(value: str, *, dated: bool = True) -> SigV4Authorization:
    """``AWS4-HMAC-SHA256 Credential=AK/date/region/service/term, SignedHeaders=a;b,
    Signature=hex`` taken apart.

    Args:
        value: The header's value.
        dated: Whether the request has an ``X-Amz-Date`` or ``Date`` header; AWS names its
            absence in the same message as the missing parts.

    Raises:
        UnauthorizedError: With ``aws_code`` IncompleteSignatureException: another scheme, a
            part missing or malformed, a credential without its five elements.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme != SIGV4_ALGORITHM:
        raise signature_error(INCOMPLETE, f"Unsupported AWS 'algorithm': {scheme[:_ECHO]!r}")
    found: dict[str, str] = {}
    for raw in rest.split(","):
        item = raw.strip()
        if not item:
            continue
        key, equals, part = item.partition("=")
        if not equals:
            raise signature_error(
                INCOMPLETE,
                f"'{item[:_ECHO]}' not a valid key=value pair (missing equal-sign) in "
                "Authorization header.",
            )
        found[key.strip()] = part.strip()
    missing = [f"Authorization header requires '{name}' parameter." for name in _PARTS]
    missing = [text for name, text in zip(_PARTS, missing, strict=True) if not found.get(name)]
    if missing:
        raise signature_error(INCOMPLETE, " ".join(missing + ([] if dated else [_NO_DATE])))
    elements = found["Credential"].split("/")
    if len(elements) != 5 or not all(elements):
        raise signature_error(
            INCOMPLETE,
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{found['Credential'][: _ECHO * 2]}'",
        )
    access_key_id, date, region, service, terminator = elements
    return SigV4Authorization(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(h.strip().lower() for h in found["SignedHeaders"].split(";")),
        signature=found["Signature"],
    )


def request_time(request: SignedRequest) -> tuple[str, float]:
    """The time a request says it was signed: ``X-Amz-Date`` (ISO 8601 basic format), else
    ``Date`` (HTTP's format), as the timestamp the signature covers and as Unix seconds.

    Raises:
        UnauthorizedError: With ``aws_code`` IncompleteSignatureException: neither header,
            or a date that is not one.
    """
    amz_date = request.header("x-amz-date")
    if amz_date is not None:
        if match := _BASIC_TIMESTAMP.fullmatch(amz_date):
            try:  # datetime() checks the ranges; strptime would cost 5x as much
                year, month, day, hour, minute, second = map(int, match.groups())
                when = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except ValueError:
                pass  # twenty-five o'clock: reported below
            else:
                return amz_date, when.timestamp()
        raise signature_error(
            INCOMPLETE,
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date[:_ECHO]}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        )
    http_date = request.header("date")
    if http_date is not None:
        try:
            sent = parsedate_to_datetime(http_date)
        except (TypeError, ValueError):
            pass
        else:
            if sent.tzinfo is None:  # "-0000", as botocore writes it: UTC, zone unstated
                sent = sent.replace(tzinfo=UTC)
            return sent.astimezone(UTC).strftime(TIMESTAMP_FORMAT), sent.timestamp()
        raise signature_error(INCOMPLETE, f"Date header is not an HTTP date: '{http_date[:_ECHO]}'")
    raise signature_error(INCOMPLETE, _NO_DATE)
