"""What the SigV4 end-to-end tests share: a gateway on 0.0.0.0 whose Lambda API only
``[aws_credentials]`` open, with their secret keys stored encrypted by ``lockgate secrets
set`` (docs/security.md's steps), and boto3 clients signing with those keys."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from mypy_boto3_lambda import LambdaClient

from tests.e2e.access_support import clean_env, config
from tests.e2e.gateway_process import APP_DIR, GatewayProcess

__all__ = [
    "CI_KEY",
    "CI_SECRET",
    "MAX_BODY",
    "OPS_KEY",
    "OPS_SECRET",
    "SignedGateway",
    "lambda_client",
    "signed_gateway",
]

CI_KEY = "AKIAIOSFODNN7EXAMPLE"
CI_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OPS_KEY = "AKIAI44QH8DHBEXAMPLE"
OPS_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
MAX_BODY = 64 * 1024

_TABLES = f"""
[auth]
allow_anonymous = ["workflow_api", "operations"]   # the Lambda API: keys only
token_cache_ttl = 0

[functions.reports-daily]
handler = "handlers:echo"
code_dir = {json.dumps(str(APP_DIR))}

[aws_credentials.ci]
access_key_id = "{CI_KEY}"
secret_ref = "ci_aws_secret"
allow_functions = ["echo", "reports-*"]

[aws_credentials.ops]
access_key_id = "{OPS_KEY}"
secret_ref = "ops_aws"
allow_functions = ["*"]
"""


@dataclass
class SignedGateway:
    gateway: GatewayProcess
    env: dict[str, str]  # what the CLI needs to reach its stores

    @property
    def url(self) -> str:
        return self.gateway.url


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lockgate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean_env(), **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def signed_gateway(folder: Path, extra: str = "") -> Iterator[SignedGateway]:
    """``lockgate serve`` on 0.0.0.0 with the keys ``ci`` (echo, reports-*; its secret a
    string) and ``ops`` (every function; its secret an object)."""
    path = config(folder, _TABLES + textwrap.dedent(extra))
    key_file = folder / "master.key"
    env = {
        "LOCKGATE_CONFIG": str(path),
        "LOCKGATE_RUN_STORE": f"sqlite:///{folder / 'runs.sqlite3'}",
        "LOCKGATE_MASTER_KEY_FILE": str(key_file),
    }
    _cli(env, "secrets", "init-key", "--key-file", str(key_file))
    _cli(env, "secrets", "set", "ci_aws_secret", stdin=CI_SECRET)
    _cli(
        env,
        "secrets",
        "set",
        "ops_aws",
        "--json",
        stdin=json.dumps({"secret_access_key": OPS_SECRET}),
    )
    served = {**env, "LOCKGATE_MAX_BODY_BYTES": str(MAX_BODY)}
    with GatewayProcess(path, env=served, host="0.0.0.0") as gateway:
        yield SignedGateway(gateway, env)


def lambda_client(
    url: str,
    key: str = CI_KEY,
    secret: str = CI_SECRET,
    *,
    region: str = "eu-west-1",
    token: str | None = None,
) -> LambdaClient:
    """boto3 signing with ``key``; one attempt, so a refusal is seen as sent."""
    client: LambdaClient = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )
    return client
