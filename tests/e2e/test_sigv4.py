"""SigV4 on the Lambda API through a real ``lockgate serve`` on 0.0.0.0: boto3 signing with
the keys of ``[aws_credentials]`` works unchanged, and every refusal is the exception boto3
raises against AWS (code, status, message). Requests replayed or altered after signing are
signed by botocore itself, then sent with httpx, as a captured request would be."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.auth
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.access_support import REMOTE, config, lockgate, make_token
from tests.e2e.sigv4_support import (
    CI_KEY,
    CI_SECRET,
    MAX_BODY,
    OPS_KEY,
    OPS_SECRET,
    SignedGateway,
    lambda_client,
    signed_gateway,
)
from tests.servers import free_port

INVOKE = "/2015-03-31/functions/echo/invocations"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedGateway]:
    with signed_gateway(tmp_path_factory.mktemp("sigv4")) as running:
        yield running


def refusal(caught: pytest.ExceptionInfo[ClientError], code: str, status: int = 403) -> str:
    """The message of a refusal boto3 raised, once its code and status are as AWS's."""
    response = caught.value.response
    assert response["Error"]["Code"] == code, response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    return response["Error"]["Message"]


def signed_request(url: str, body: bytes, **headers: str) -> dict[str, str]:
    """The headers botocore signs ``POST echo/invocations`` with, as the CI key."""
    request = AWSRequest("POST", url + INVOKE, headers=headers, data=body)
    SigV4Auth(Credentials(CI_KEY, CI_SECRET), "lambda", "us-east-1").add_auth(request)
    return dict(request.headers.items())


# -- what works ----------------------------------------------------------------------------


def test_boto3_signing_with_a_declared_key_invokes_lists_and_describes(
    signed: SignedGateway,
) -> None:
    lam = lambda_client(signed.url)
    answered = lam.invoke(FunctionName="echo", Payload=json.dumps({"a": 1}))
    assert answered["StatusCode"] == 200
    assert json.load(answered["Payload"])["event"] == {"a": 1}

    arn = "arn:aws:lambda:us-east-1:000000000000:function:reports-daily"
    qualified = lam.invoke(FunctionName=arn, Qualifier="$LATEST", Payload=b'{"b": 2}')
    assert json.load(qualified["Payload"])["event"] == {"b": 2}

    assert (
        lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    )
    listed = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert listed == ["echo", "reports-daily"]  # its allow_functions, not pid
    assert lam.get_function(FunctionName="echo")["Configuration"]["FunctionName"] == "echo"


def test_a_key_whose_secret_is_an_object_and_that_may_call_everything(
    signed: SignedGateway,
) -> None:
    lam = lambda_client(signed.url, OPS_KEY, OPS_SECRET, region="us-gov-west-1")
    listed = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert {"echo", "pid", "reports-daily"} <= listed
    assert lam.invoke(FunctionName="pid", Payload=b"{}")["StatusCode"] == 200


def test_a_bearer_token_with_functions_invoke_still_works_for_curl(
    signed: SignedGateway,
) -> None:
    token = make_token("curl", ["functions:invoke"], signed.env)  # seen at once: ttl 0
    with httpx.Client(base_url=signed.url, timeout=30) as curl:
        answered = curl.post(
            INVOKE, json={"by": "curl"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert answered.status_code == 200, answered.text
    assert answered.json()["event"] == {"by": "curl"}


# -- what AWS refuses, as boto3 reports it -------------------------------------------------


def test_a_wrong_secret_is_an_invalid_signature(signed: SignedGateway) -> None:
    lam = lambda_client(signed.url, CI_KEY, "not-" + CI_SECRET)
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="echo", Payload=b"{}")
    assert refusal(caught, "InvalidSignatureException") == MISMATCH
    logged = signed.gateway.read_output()
    assert CI_SECRET.encode() not in logged
    assert OPS_SECRET.encode() not in logged


def test_an_unknown_key_is_an_unrecognized_client(signed: SignedGateway) -> None:
    lam = lambda_client(signed.url, "AKIAUNKNOWN000000000", CI_SECRET)
    with pytest.raises(ClientError) as caught:
        lam.list_functions()
    message = refusal(caught, "UnrecognizedClientException")
    assert message == "The security token included in the request is invalid."


def test_a_session_token_is_refused(signed: SignedGateway) -> None:
    lam = lambda_client(signed.url, token="FwoGZXIvYXdzEXAMPLETOKEN")
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="echo", Payload=b"{}")
    assert "without a session token" in refusal(caught, "UnrecognizedClientException")


def test_a_function_outside_allow_functions_is_access_denied(signed: SignedGateway) -> None:
    lam = lambda_client(signed.url)
    user = "arn:aws:iam::000000000000:user/ci"
    resource = "arn:aws:lambda:us-east-1:000000000000:function:pid"
    for call, action in (
        (lambda: lam.invoke(FunctionName="pid", Payload=b"{}"), "lambda:InvokeFunction"),
        (lambda: lam.get_function(FunctionName="pid"), "lambda:GetFunction"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert refusal(caught, "AccessDeniedException") == (
            f"User: {user} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action"
        )


def test_a_request_signed_six_minutes_ago_has_expired(
    signed: SignedGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    then = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: then)  # boto3's clock
    with pytest.raises(ClientError) as caught:
        lambda_client(signed.url).invoke(FunctionName="echo", Payload=b"{}")
    message = refusal(caught, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {then:%Y%m%dT%H%M%SZ} is now earlier than ")
    assert message.endswith(" - 5 min.)")


def test_a_signed_request_replays_but_not_with_another_body(signed: SignedGateway) -> None:
    headers = signed_request(signed.url, b'{"amount": 1}')
    with httpx.Client(base_url=signed.url, timeout=30) as http:
        assert http.post(INVOKE, content=b'{"amount": 1}', headers=headers).status_code == 200
        tampered = http.post(INVOKE, content=b'{"amount": 1000}', headers=headers)
    assert tampered.status_code == 403
    assert tampered.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert tampered.json()["message"] == MISMATCH


def test_a_content_hash_that_lies_about_the_body_is_refused(signed: SignedGateway) -> None:
    honest = hashlib.sha256(b"{}").hexdigest()
    headers = signed_request(signed.url, b"{}", **{"X-Amz-Content-SHA256": honest})
    with httpx.Client(base_url=signed.url, timeout=30) as http:
        assert http.post(INVOKE, content=b"{}", headers=headers).status_code == 200
        lying = http.post(INVOKE, content=b'{"evil": true}', headers=headers)
    assert lying.status_code == 403
    assert lying.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert "'x-amz-content-sha256' header does not match" in lying.json()["message"]


def test_a_malformed_signature_header_is_incomplete(signed: SignedGateway) -> None:
    with httpx.Client(base_url=signed.url, timeout=30) as http:
        answered = http.post(
            INVOKE, content=b"{}", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"}
        )
    assert answered.status_code == 400
    assert answered.headers["x-amzn-errortype"] == "IncompleteSignatureException"
    assert "requires 'Signature' parameter" in answered.json()["message"]


def test_a_signed_body_over_max_body_bytes_is_too_large(signed: SignedGateway) -> None:
    payload = json.dumps({"pad": "x" * MAX_BODY})
    with pytest.raises(ClientError) as caught:
        lambda_client(signed.url).invoke(FunctionName="echo", Payload=payload)
    assert str(MAX_BODY) in refusal(caught, "RequestTooLargeException", 413)


def test_a_remote_caller_without_credentials_gets_missing_authentication_token(
    signed: SignedGateway,
) -> None:
    remote = httpx.HTTPTransport(local_address=REMOTE)
    with httpx.Client(base_url=signed.url, timeout=30, transport=remote) as anonymous:
        answered = anonymous.post(INVOKE, json={})
        listed = anonymous.get("/2015-03-31/functions/")
        assert anonymous.get("/health").status_code == 200  # anonymous there, on purpose
    for response in (answered, listed):
        assert response.status_code == 403
        assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
        assert response.json()["message"] == "Missing Authentication Token"


# -- start-up ------------------------------------------------------------------------------


def test_start_up_needs_a_key_or_a_token_for_the_lambda_api_and_each_keys_secret(
    tmp_path: Path,
) -> None:
    env = {"LOCKGATE_RUN_STORE": f"sqlite:///{tmp_path / 'runs.sqlite3'}"}
    argv = ["serve", "--host", "0.0.0.0", "--port", str(free_port())]
    anonymous_elsewhere = '[auth]\nallow_anonymous = ["workflow_api", "operations"]\n'

    keyless = lockgate(*argv, "--config", str(config(tmp_path, anonymous_elsewhere)), env=env)
    assert keyless.returncode == 2
    assert "lambda_api on 0.0.0.0" in keyless.stderr
    assert "[aws_credentials.NAME]" in keyless.stderr

    with_key = anonymous_elsewhere + (
        '[aws_credentials.ci]\naccess_key_id = "AKIAIOSFODNN7EXAMPLE"\n'
        'secret_ref = "ci_aws_secret"\nallow_functions = ["echo"]\n'
    )
    no_secrets = lockgate(*argv, "--config", str(config(tmp_path, with_key)), env=env)
    assert no_secrets.returncode == 2
    assert "aws_credentials.ci: its secret key is the secret 'ci_aws_secret'" in (no_secrets.stderr)
