"""``SigV4Authenticator`` against requests botocore signs, as boto3 signs them: each check
AWS makes, refused in AWS's code and words, and the secret key never in a message or a log.

The verifier's clock is set from the request's own time, so nothing here depends on how
fast the machine is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lockgate.errors import ConfigError, SecretStoreError, UnauthorizedError
from lockgate.gateways.aws.sigv4 import BotocoreSigV4Signer
from lockgate.gateways.stores.secrets.env import EnvironmentSecrets
from lockgate.models.security.principals import Principal
from lockgate.models.security.sigv4 import AwsCredential, SignedRequest
from lockgate.use_cases.auth.aws_signatures import SigV4Authenticator, check_aws_secrets
from lockgate.use_cases.secrets.setup import SecretBackend

KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OTHER_KEY = "AKIAI44QH8DHBEXAMPLE"
OTHER_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
HOST = "127.0.0.1:8000"
INVOKE = "/2015-03-31/functions/echo/invocations"
CI = AwsCredential("ci", KEY, "ci_aws_secret", ("echo", "reports-*"))
OPS = AwsCredential("ops", OTHER_KEY, "ops_aws", ("*",))
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
ENVIRON = {
    "LOCKGATE_SECRET_CI_AWS_SECRET": SECRET,
    "LOCKGATE_SECRET_OPS_AWS": json.dumps({"secret_access_key": OTHER_SECRET}),
    "LOCKGATE_SECRET_BAD_SHAPE": json.dumps({"password": SECRET}),
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sign(
    body: bytes = b'{"a": 1}',
    *,
    path: str = INVOKE,
    query: str = "",
    headers: Iterable[tuple[str, str]] = (),
    key: str = KEY,
    secret: str = SECRET,
    region: str = "us-east-1",
    token: str | None = None,
) -> tuple[str, SignedRequest]:
    """``Authorization`` and the request as the gateway receives it, signed by botocore."""
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest("POST", url, headers=dict(headers), data=body)
    SigV4Auth(Credentials(key, secret, token), "lambda", region).add_auth(request)
    received = [("host", HOST), *((k.lower(), v) for k, v in request.headers.items())]
    received.append(("content-length", str(len(body))))  # sent, not signed (as boto3)
    return request.headers["Authorization"], SignedRequest(
        "POST", path, query, tuple(received), body
    )


def signed_at(request: SignedRequest) -> float:
    stamp = request.header("x-amz-date")
    assert stamp is not None
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


def authenticator(
    clock: Clock, secrets: SecretBackend | None = None, credentials: tuple[AwsCredential, ...] = ()
) -> SigV4Authenticator:
    backend = secrets if secrets is not None else EnvironmentSecrets(ENVIRON)
    return SigV4Authenticator(
        lambda: credentials or (CI, OPS), lambda: backend, BotocoreSigV4Signer, clock=clock
    )


async def verify(authorization: str, request: SignedRequest, **kwargs: float) -> Principal:
    clock = Clock()
    clock.now = signed_at(request) + kwargs.get("skew", 0.0)
    return await authenticator(clock).principal(authorization, request)


async def refused(authorization: str, request: SignedRequest, code: str, skew: float = 0) -> str:
    with pytest.raises(UnauthorizedError) as caught:
        await verify(authorization, request, skew=skew)
    assert caught.value.fields["aws_code"] == code
    assert SECRET not in caught.value.message
    return caught.value.message


# -- what works ----------------------------------------------------------------------------


async def test_a_request_boto3_signs_proves_its_key_and_gets_its_functions() -> None:
    principal = await verify(*sign(headers=[("X-Amz-Invocation-Type", "Event")]))
    assert principal == Principal(
        "aws:ci", "aws", frozenset({"functions:invoke:echo", "functions:invoke:reports-*"})
    )
    assert principal.allows("functions:invoke", "reports-daily")
    assert not principal.allows("functions:invoke", "pid")


async def test_an_arn_in_the_path_is_canonicalised_double_encoded_as_the_sdks_sign_it() -> None:
    arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho"
    authorization, request = sign(
        path=f"/2015-03-31/functions/{arn}/invocations", query="Qualifier=%24LATEST"
    )
    assert (await verify(authorization, request)).name == "aws:ci"


async def test_a_secret_may_be_an_object_with_secret_access_key() -> None:
    principal = await verify(*sign(key=OTHER_KEY, secret=OTHER_SECRET))
    assert principal == Principal("aws:ops", "aws", frozenset({"functions:invoke:*"}))


async def test_any_well_formed_region_is_accepted() -> None:
    for region in ("eu-west-3", "us-gov-west-1", "local"):
        assert (await verify(*sign(region=region))).name == "aws:ci"


async def test_a_signed_content_hash_that_is_the_bodys_is_accepted() -> None:
    body = b'{"from": "the JavaScript SDK"}'
    sha = hashlib.sha256(body).hexdigest()
    assert (await verify(*sign(body, headers=[("X-Amz-Content-SHA256", sha)]))).name == "aws:ci"


async def test_exactly_five_minutes_off_either_way_is_still_current() -> None:
    authorization, request = sign()
    await verify(authorization, request, skew=300)
    await verify(authorization, request, skew=-300)


async def test_a_date_header_stands_in_for_x_amz_date() -> None:
    request = AWSRequest("POST", f"http://{HOST}{INVOKE}", data=b"{}")
    request.headers["Date"] = "Mon, 07 Dec 2026 03:00:00 GMT"  # botocore then signs Date
    SigV4Auth(Credentials(KEY, SECRET), "lambda", "us-east-1").add_auth(request)
    received = (("host", HOST), *((k.lower(), v) for k, v in request.headers.items()))
    clock = Clock()
    clock.now = parsedate_to_datetime(request.headers["Date"]).replace(tzinfo=UTC).timestamp()
    signed = SignedRequest("POST", INVOKE, "", received, b"{}")
    principal = await authenticator(clock).principal(request.headers["Authorization"], signed)
    assert principal.name == "aws:ci"


async def test_one_verifier_keeps_signing_keys_per_scope_and_follows_a_rotated_secret() -> None:
    environ = dict(ENVIRON)
    clock = Clock()
    checker = authenticator(clock, EnvironmentSecrets(environ))
    for region in ("us-east-1", "eu-west-1", "us-east-1"):  # a scope each, the first again
        authorization, request = sign(region=region)
        clock.now = signed_at(request)
        assert (await checker.principal(authorization, request)).name == "aws:ci"
    # The same scope signed with another secret is refused, kept key or not.
    authorization, request = sign(secret=OTHER_SECRET)
    with pytest.raises(UnauthorizedError, match="does not match"):
        await checker.principal(authorization, request)
    # The stored secret is rotated: the new one's signatures pass, the old one's no longer.
    environ["LOCKGATE_SECRET_CI_AWS_SECRET"] = OTHER_SECRET
    assert (await checker.principal(authorization, request)).name == "aws:ci"
    authorization, request = sign()
    with pytest.raises(UnauthorizedError, match="does not match"):
        await checker.principal(authorization, request)


# -- what AWS refuses, in AWS's words ------------------------------------------------------


async def test_a_wrong_secret_is_an_invalid_signature() -> None:
    message = await refused(*sign(secret="not-the-secret"), "InvalidSignatureException")
    assert message == MISMATCH


async def test_an_unknown_key_is_an_unrecognized_client() -> None:
    message = await refused(*sign(key="AKIAUNKNOWN0000000XX"), "UnrecognizedClientException")
    assert message == "The security token included in the request is invalid."


async def test_a_session_token_is_refused_these_keys_are_static() -> None:
    message = await refused(*sign(token="FwoGZXIvYXdzEXAMPLE"), "UnrecognizedClientException")
    assert "sign without a session token" in message


async def test_six_minutes_old_has_expired_in_aws_words() -> None:
    authorization, request = sign()
    stamp = request.header("x-amz-date")
    message = await refused(authorization, request, "InvalidSignatureException", skew=360)
    later = datetime.fromtimestamp(signed_at(request) + 360, UTC)
    bound = datetime.fromtimestamp(signed_at(request) + 60, UTC)
    assert message == (
        f"Signature expired: {stamp} is now earlier than {bound:%Y%m%dT%H%M%SZ} "
        f"({later:%Y%m%dT%H%M%SZ} - 5 min.)"
    )


async def test_six_minutes_ahead_is_not_yet_current() -> None:
    authorization, request = sign()
    stamp = request.header("x-amz-date")
    message = await refused(authorization, request, "InvalidSignatureException", skew=-360)
    earlier = datetime.fromtimestamp(signed_at(request) - 360, UTC)
    bound = datetime.fromtimestamp(signed_at(request) - 60, UTC)
    assert message == (
        f"Signature not yet current: {stamp} is still later than {bound:%Y%m%dT%H%M%SZ} "
        f"({earlier:%Y%m%dT%H%M%SZ} + 5 min.)"
    )


async def test_a_tampered_body_path_query_or_signed_header_breaks_the_signature() -> None:
    authorization, request = sign(query="Qualifier=live", headers=[("X-Amz-Log-Type", "None")])
    logged = tuple((k, "Tail" if k == "x-amz-log-type" else v) for k, v in request.headers)
    for tampered in (
        replace(request, body=b'{"a": 2}'),
        replace(request, raw_path="/2015-03-31/functions/pid/invocations"),
        replace(request, query="Qualifier=%24LATEST"),
        replace(request, headers=logged),
    ):
        assert await refused(authorization, tampered, "InvalidSignatureException") == MISMATCH


async def test_a_content_hash_that_lies_about_the_body_is_refused() -> None:
    # Signed honestly over a harmless body's hash, then sent with another body: botocore
    # alone would take the header's word for the payload and find the signature good.
    harmless = hashlib.sha256(b"{}").hexdigest()
    authorization, request = sign(b"{}", headers=[("X-Amz-Content-SHA256", harmless)])
    lying = SignedRequest(
        request.method, request.raw_path, request.query, request.headers, b'{"evil": 1}'
    )
    message = await refused(authorization, lying, "InvalidSignatureException")
    assert message == "The provided 'x-amz-content-sha256' header does not match what was computed."


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("/lambda/", "/s3/"), "Credential should be scoped to correct service: 'lambda'. "),
        (("/aws4_request", "/aws5_request"), "with a valid terminator: 'aws4_request', not"),
        (("/us-east-1/", "/us east 1/"), "Credential should be scoped to a valid region"),
        (("Credential=AKIAIOSFODNN7EXAMPLE/2", "Credential=AKIAIOSFODNN7EXAMPLE/1"), "Date in "),
        (("SignedHeaders=host;", "SignedHeaders="), "'Host' or ':authority' must be a"),
    ],
)
async def test_a_scope_that_cannot_be_right_is_an_invalid_signature(
    change: tuple[str, str], fragment: str
) -> None:
    authorization, request = sign()
    assert change[0] in authorization
    message = await refused(authorization.replace(*change), request, "InvalidSignatureException")
    assert fragment in message


@pytest.mark.parametrize(
    ("authorization", "fragment"),
    [
        ("AWS4-HMAC-SHA256 ", "requires 'Credential' parameter. Authorization header requires"),
        ("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Signature=ab", "requires 'SignedHeaders'"),
        ("AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=ab", "exactly 5"),
        ("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders", "missing equal-sign"),
        ("AWS4-HMAC-SHA512 Credential=a/b/c/d/e", "Unsupported AWS 'algorithm'"),
    ],
)
async def test_a_malformed_header_is_an_incomplete_signature(
    authorization: str, fragment: str
) -> None:
    _, request = sign()
    message = await refused(authorization, request, "IncompleteSignatureException")
    assert fragment in message


async def test_a_header_missing_everything_is_refused_in_aws_words() -> None:
    _, request = sign()
    undated = replace(request, headers=tuple(h for h in request.headers if h[0] != "x-amz-date"))
    with pytest.raises(UnauthorizedError) as caught:
        await authenticator(Clock()).principal("AWS4-HMAC-SHA256 ", undated)
    assert caught.value.fields["aws_code"] == "IncompleteSignatureException"
    assert caught.value.message == (
        "Authorization header requires 'Credential' parameter. Authorization header requires "
        "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


async def test_a_request_without_a_date_or_with_a_bad_one_is_incomplete() -> None:
    authorization, request = sign()
    undated = tuple((k, v) for k, v in request.headers if k != "x-amz-date")
    for headers, fragment in (
        (undated, "either a 'X-Amz-Date' or a 'Date' header"),
        ((*undated, ("x-amz-date", "20261399T250000Z")), "ISO-8601 'basic format'"),
        ((*undated, ("date", "yesterday")), "not an HTTP date"),
    ):
        dated = SignedRequest("POST", INVOKE, "", headers, request.body)
        with pytest.raises(UnauthorizedError) as caught:
            await authenticator(Clock()).principal(authorization, dated)
        assert caught.value.fields["aws_code"] == "IncompleteSignatureException"
        assert fragment in caught.value.message


# -- the secret ----------------------------------------------------------------------------


async def test_an_unreadable_secret_is_a_service_error_whose_reason_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shapeless = AwsCredential("shapeless", "AKIASHAPELESS0000000", "bad_shape", ("*",))
    missing = AwsCredential("gone", "AKIAGONE000000000000", "no_such_secret", ("*",))
    clock = Clock()
    verifier = authenticator(clock, credentials=(shapeless, missing))
    for credential, reason in ((shapeless, "neither a string"), (missing, "no secret named")):
        authorization, request = sign(key=credential.access_key_id)
        clock.now = signed_at(request)
        with caplog.at_level(logging.ERROR), pytest.raises(SecretStoreError) as caught:
            await verifier.principal(authorization, request)
        assert credential.secret_ref not in caught.value.message
        assert f"aws_credentials.{credential.name}" in caplog.text
        assert reason in caplog.text
    assert SECRET not in caplog.text


async def test_start_up_refuses_keys_whose_secret_cannot_be_read() -> None:
    secrets = EnvironmentSecrets(ENVIRON)
    await check_aws_secrets((CI, OPS), secrets)
    cases = [
        ((CI,), None, "aws_credentials.ci: its secret key is the secret 'ci_aws_secret', but"),
        ((AwsCredential("x", KEY, "absent", ("*",)),), secrets, "cannot read its secret 'absent'"),
        ((AwsCredential("y", KEY, "bad_shape", ("*",)),), secrets, "'secret_access_key'"),
    ]
    for credentials, backend, fragment in cases:
        with pytest.raises(ConfigError) as caught:
            await check_aws_secrets(credentials, backend)
        assert fragment in caught.value.message
        assert caught.value.fields["key"].endswith(".secret_ref")
        assert SECRET not in caught.value.message
