"""What checking an AWS SigV4 signature costs the gateway, beside what signing it costs boto3.

    .venv/bin/python benchmarks/auth/sigv4.py      # about 20 s; --batches N, --batch-size N

In one process, on one ``Invoke`` request (``POST /2015-03-31/functions/echo/invocations``, a
27-byte JSON body, signed headers ``host;x-amz-date``, as boto3 signs it):

- **sign (boto3's side)**: botocore's ``SigV4Auth.add_auth``, what every boto3 call pays;
- **recompute**: ``BotocoreSigV4Signer.signature`` alone (botocore's canonical request,
  string to sign and HMAC chain over the request as received);
- **verify**: ``SigV4Authenticator.principal``: parse the header, find the key, check scope,
  clock and covered headers, read the secret key (``SecretManager``, cached: in-memory
  store, ``cache_ttl`` 300 s), recompute, compare in constant time;
- **bearer**: ``Authenticator.principal`` of ``admin_token`` (a SHA-256 and a constant-time
  compare), for scale;
- **gate + DryRun, signed vs bearer**: the whole ASGI app (``create_app``) called directly
  (no HTTP) with a DryRun Invoke, once SigV4-signed (the body read and replayed) and once
  with the bearer token; the difference is what a signature adds to a request.

Each figure is over batches of the batch's mean time per operation (min, median, p90), so a
preemption on a shared machine spoils one batch, not the figure; on a busy machine the min
is the closest to the code's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.controllers.http.app import create_app
from lockgate.gateways.aws.sigv4 import BotocoreSigV4Signer
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.security.config import ClientLimits, SecurityConfig
from lockgate.models.security.sigv4 import AwsCredential, SignedRequest
from lockgate.use_cases.auth.sigv4_parsing import parse_authorization, request_time
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey, generate_master_key

KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ADMIN = "bench-admin-token-0123456789"
HOST = "127.0.0.1:8000"
PATH = "/2015-03-31/functions/echo/invocations"
BODY = b'{"order": 42, "items": [1]}'


def boto3_request(**headers: str) -> AWSRequest:
    request = AWSRequest("POST", f"http://{HOST}{PATH}", headers=headers, data=BODY)
    SigV4Auth(Credentials(KEY, SECRET), "lambda", "us-east-1").add_auth(request)
    return request


def received(request: AWSRequest) -> SignedRequest:
    headers = [("host", HOST), *((k.lower(), v) for k, v in request.headers.items())]
    headers.append(("content-length", str(len(BODY))))
    return SignedRequest("POST", PATH, "", tuple(headers), BODY)


async def per_op_us(
    operation: Callable[[], Awaitable[object]], batches: int, size: int
) -> list[float]:
    """Each batch's mean µs per operation (after one unmeasured batch)."""
    means = []
    for index in range(batches + 1):
        start = time.perf_counter()
        for _ in range(size):
            await operation()
        if index:
            means.append((time.perf_counter() - start) / size * 1e6)
    return means


def asgi_call(app: Any, headers: list[tuple[bytes, bytes]]) -> Callable[[], Awaitable[int]]:
    """A DryRun Invoke straight into the ASGI app; returns the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def call() -> int:
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": BODY, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope), receive, send)
        assert status == 204, status
        return status

    return call


async def main(batches: int, size: int) -> None:
    key = MasterKey.from_base64(generate_master_key())
    secrets = SecretManager(InMemorySecretStore(), key, cache_ttl=300)
    await secrets.store_secret("ci_aws_secret", SECRET)
    credential = AwsCredential("ci", KEY, "ci_aws_secret", ("*",))
    config = GatewayConfig(
        functions={"echo": FunctionEntity(name="echo", handler="handlers:echo")},
        # [limits] far above the loop's pace, as in the functions benchmark: the check runs,
        # the limit never answers 429.
        security=SecurityConfig(
            aws_credentials=(credential,), limits=ClientLimits(rate=1e9, burst=10**9)
        ),
    )
    application = build(
        Settings(run_store="memory://", admin_token=ADMIN), config, secret_manager=secrets
    )
    signer = BotocoreSigV4Signer()
    request = boto3_request()
    authorization = request.headers["Authorization"]
    signed = received(request)
    parsed = parse_authorization(authorization)
    timestamp, _ = request_time(signed)
    authenticator = application.authenticator
    dry = boto3_request(**{"X-Amz-Invocation-Type": "DryRun"})
    signed_headers = [(k.lower().encode(), v.encode()) for k, v in dry.headers.items()]
    signed_headers += [(b"host", HOST.encode()), (b"content-length", str(len(BODY)).encode())]
    bearer_headers = [
        (b"host", HOST.encode()),
        (b"authorization", f"Bearer {ADMIN}".encode()),
        (b"x-amz-invocation-type", b"DryRun"),
        (b"content-length", str(len(BODY)).encode()),
    ]

    async def sign() -> None:
        boto3_request()

    async def recompute() -> None:
        signer.signature(signed, parsed, timestamp, SECRET)

    async def verify() -> None:
        await authenticator.signed_principal(authorization, signed)

    async def bearer() -> None:
        await authenticator.principal(f"Bearer {ADMIN}")

    results: dict[str, list[float]] = {}
    async with application:
        app = create_app(application)
        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "sign (boto3's side: SigV4Auth.add_auth)": sign,
            "recompute (BotocoreSigV4Signer.signature)": recompute,
            "verify (SigV4Authenticator.principal)": verify,
            "bearer admin_token (Authenticator.principal)": bearer,
            "gate + DryRun Invoke, SigV4-signed": asgi_call(app, signed_headers),
            "gate + DryRun Invoke, bearer token": asgi_call(app, bearer_headers),
        }
        for name, operation in cases.items():
            results[name] = await per_op_us(operation, batches, size)
    print(f"{batches} batches of {size}; µs per operation over the batches' means\n")
    print("| operation | min µs | median µs | p90 µs |")
    print("|---|---:|---:|---:|")
    medians = {}
    for name, means in results.items():
        medians[name] = statistics.median(means)
        p90 = statistics.quantiles(means, n=10)[-1]
        print(f"| {name} | {min(means):.1f} | {medians[name]:.1f} | {p90:.1f} |")
    names = list(results)
    print(f"\nverify / sign: {medians[names[2]] / medians[names[0]]:.2f}x")
    added = medians[names[4]] - medians[names[5]]
    print(f"a signature adds to a request, gate to response: {added:.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=500)
    options = parser.parse_args()
    asyncio.run(main(options.batches, options.batch_size))
