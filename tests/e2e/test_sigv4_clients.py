"""The other clients the Lambda API promises, signing with ``[aws_credentials]`` keys
through a real ``lockgate serve``: the AWS CLI (v1, a dev dependency, reaching the gateway
through ``AWS_ENDPOINT_URL_LAMBDA`` as docs/how-to/aws-tools.md says) and the AWS SDK for
JavaScript v3 (``@aws-sdk/client-lambda`` from the npm registry, run by the machine's
Node.js). Each works unchanged with the right secret and raises AWS's
InvalidSignatureException with a wrong one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.js_sdk import js_sdk_modules, run_js
from tests.e2e.sigv4_support import CI_KEY, CI_SECRET, SignedGateway, signed_gateway

AWS_CLI = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedGateway]:
    with signed_gateway(tmp_path_factory.mktemp("sigv4-clients")) as running:
        yield running


def aws(
    signed: SignedGateway, folder: Path, *args: str, secret: str = CI_SECRET
) -> subprocess.CompletedProcess[str]:
    """The AWS CLI, configured only by the environment a user would set."""
    assert AWS_CLI.exists(), f"{AWS_CLI} is missing: the AWS CLI is a dev dependency (uv sync)"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "AWS_ENDPOINT_URL_LAMBDA": signed.url,
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": CI_KEY,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [str(AWS_CLI), "lambda", *args],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_aws_cli_signs_and_works_unchanged(signed: SignedGateway, tmp_path: Path) -> None:
    invoked = aws(
        signed, tmp_path, "invoke", "--function-name", "echo", "--payload", '{"a": 1}', "out.json"
    )
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["StatusCode"] == 200
    assert json.loads((tmp_path / "out.json").read_text())["event"] == {"a": 1}

    listed = aws(signed, tmp_path, "list-functions")
    assert listed.returncode == 0, listed.stderr
    names = [f["FunctionName"] for f in json.loads(listed.stdout)["Functions"]]
    assert names == ["echo", "reports-daily"]

    wrong = aws(signed, tmp_path, "list-functions", secret="not-" + CI_SECRET)
    assert wrong.returncode != 0
    assert "An error occurred (InvalidSignatureException) when calling the ListFunctions" in (
        wrong.stderr
    )


@pytest.mark.timeout(600)  # a machine's first run installs the SDK from the npm registry
def test_the_javascript_sdk_signs_and_works_unchanged(
    signed: SignedGateway, tmp_path: Path
) -> None:
    modules = js_sdk_modules()
    arn = "arn:aws:lambda:us-east-1:000000000000:function:echo"
    calls = [
        {"op": "invoke", "functionName": "echo", "payload": {"from": "node"}},
        {"op": "invoke", "functionName": arn, "qualifier": "$LATEST", "payload": {"q": 1}},
        {"op": "list"},
        {"op": "invoke", "functionName": "pid", "payload": {}},
    ]
    job = {
        "endpoint": signed.url,
        "region": "ap-southeast-2",
        "accessKeyId": CI_KEY,
        "secretAccessKey": CI_SECRET,
        "calls": calls,
    }
    plain, qualified, listed, denied = run_js(modules, job, tmp_path)
    assert plain == {"ok": True, "status": 200, "payload": plain["payload"]}
    assert plain["payload"]["event"] == {"from": "node"}
    assert qualified["payload"]["event"] == {"q": 1}
    assert listed == {"ok": True, "names": ["echo", "reports-daily"]}
    assert denied["name"] == "AccessDeniedException"
    assert denied["status"] == 403
    assert denied["message"].startswith("User: arn:aws:iam::000000000000:user/ci is not ")

    wrong = {**job, "secretAccessKey": "not-" + CI_SECRET, "calls": calls[:1]}
    [refused] = run_js(modules, wrong, tmp_path)
    assert refused["name"] == "InvalidSignatureException"
    assert refused["status"] == 403
    assert refused["message"].startswith("The request signature we calculated does not match")
