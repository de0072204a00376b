"""The authenticated setups of the functions benchmark, in the same gateway as the open ones.

- (b-jwt) ``GET /secure/echo/{name}``: the same echo behind an HTTP API JWT authorizer
  (RS256, the issuer's key fetched once from a JWKS server on loopback, then cached), every
  request carrying the same valid bearer token;
- (c-sigv4) the Invoke API on the same function, signed with AWS Signature Version 4 by
  botocore exactly as boto3 signs (``host;x-amz-date``), against an ``[aws_credentials]`` key
  whose secret is stored encrypted by ``lockgate secrets set``, as docs/security.md says.

A loopback listener keeps the Lambda API open to anonymous callers, so the unsigned (c) and
the signed (c-sigv4) run against one gateway, one pool, minutes apart. wrk replays one signed
request for a whole measurement (its headers are signed again before each): SigV4 has no
nonce, so the gateway verifies every copy in full, as AWS does within its 5-minute window.
``auth_sections`` sets each beside its open twin with the issue's targets.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from benchmarks.functions.loadgen import Request
from benchmarks.functions.probes import PairedProbe
from benchmarks.functions.report import Setup
from benchmarks.tables import Section
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

__all__ = [
    "AUTH_LEGEND",
    "SECURE_ROUTE",
    "AuthComparison",
    "IdentityProvider",
    "auth_sections",
    "auth_tables",
    "identity_provider",
    "sigv4_request",
    "store_secret_key",
]

SECURE_ROUTE = "/secure/echo/{name}"
AUDIENCE = "bench-api"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key, not a real one
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRET_REF = "bench_aws_secret"
REGION = "eu-west-1"
_KID = "bench-1"
_TOKEN_LIFETIME = 3600.0  # far longer than a run: no request ever carries an expired token

# The targets (12): throughput over the open twin at c=64, and added time at c=1.
JWT_RATIO, JWT_ADDED_US = 0.9, 60.0
SIGV4_RATIO, SIGV4_ADDED_US = 0.85, 120.0

AUTH_LEGEND = [
    "JWT route = GET /secure/echo/{name} on the same warm pool behind an HTTP API JWT "
    "authorizer (RS256, 2048-bit key, audience and issuer checked; the issuer's JWKS fetched "
    "once from a server on loopback and cached), every request with the same valid bearer "
    "token. SigV4 Invoke = the Invoke API on the same function signed by botocore as boto3 "
    "signs it, checked against an [aws_credentials] key whose secret the gateway keeps "
    "encrypted. Both run in the same gateway as their open twin, right after it.",
    "auth / open = the authenticated setup's requests/s at c=64 over its open twin's. Added "
    "gateway time = the median of the differences of X-Lockgate-Latency over pairs of "
    "requests (as many as --samples, 3,000 by default), open then authenticated, sent in "
    "turns one at a time (each pair sees the same "
    "moment of a shared machine); the header counts from the request's arrival, so the "
    "gate's work (a signed body is read whole before its signature is checked) is in it. "
    "With several rounds the verdict is on the median of the rounds.",
]


@dataclass(frozen=True, slots=True)
class IdentityProvider:
    """An OpenID issuer on loopback: where its keys are, and a token it issued."""

    issuer: str
    jwks_url: str
    token: str
    fetches: list[float]  # when the gateway fetched the JWKS (it should, once)


class _JwksHandler(BaseHTTPRequestHandler):
    jwks: bytes = b""
    fetches: list[float]

    def do_GET(self) -> None:
        if self.path != "/.well-known/jwks.json":
            self.send_error(404)
            return
        self.fetches.append(time.time())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.jwks)))
        self.end_headers()
        self.wfile.write(self.jwks)

    def log_message(self, *_: Any) -> None:
        return  # the benchmark's output is its tables


@contextmanager
def identity_provider() -> Iterator[IdentityProvider]:
    """A JWKS server on loopback for the run, with a fresh RSA key and a token it signed."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=_KID, use="sig", alg="RS256")
    fetches: list[float] = []
    handler = type(
        "Jwks", (_JwksHandler,), {"jwks": json.dumps({"keys": [jwk]}).encode(), "fetches": fetches}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="jwks", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    now = time.time()
    claims = {
        "iss": f"{base}/",
        "aud": AUDIENCE,
        "sub": "bench-user",
        "scope": "echo:read",
        "iat": int(now),
        "exp": int(now + _TOKEN_LIFETIME),
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": _KID})
    try:
        yield IdentityProvider(f"{base}/", f"{base}/.well-known/jwks.json", token, fetches)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def auth_tables(idp: IdentityProvider, function: str) -> dict[str, Any]:
    """What the gateway's configuration gains: the authorizer, its route, the AWS key."""
    return {
        "authorizers": {
            "bench": {
                "type": "jwt",
                "issuer": idp.issuer,
                "audience": [AUDIENCE],
                "jwks_url": idp.jwks_url,
            }
        },
        "routes": [
            {
                "method": "GET",
                "path": SECURE_ROUTE,
                "function": function,
                "payload_format": "2.0",
                "authorizer": "bench",
                "scopes": ["echo:read"],
            }
        ],
        "aws_credentials": {
            "bench": {
                "access_key_id": ACCESS_KEY_ID,
                "secret_ref": SECRET_REF,
                "allow_functions": [function],
            }
        },
    }


def store_secret_key(env: dict[str, str]) -> None:
    """A master key, and the AWS secret key encrypted under it, by the CLI as users do."""
    key_file = env["LOCKGATE_MASTER_KEY_FILE"]
    for args, stdin in (
        (["secrets", "init-key", "--key-file", key_file], None),
        (["secrets", "set", SECRET_REF], SECRET_KEY),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "lockgate", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"lockgate {' '.join(args[:2])} failed: {done.stderr.strip()}")


def sigv4_request(url: str, body: str) -> Request:
    """``url`` POSTed with ``body``, signed now as boto3 signs an Invoke."""
    signed = AWSRequest("POST", url, data=body.encode())
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_KEY), "lambda", REGION).add_auth(signed)
    return Request(url, body, tuple(signed.headers.items()))


@dataclass(frozen=True, slots=True)
class AuthComparison:
    """One round: the two authenticated setups, each with its open twin from the same
    gateway, and what each adds at c=1, measured in turns with its twin."""

    route: Setup
    jwt_route: Setup
    invoke: Setup
    sigv4_invoke: Setup
    jwt_added: PairedProbe
    sigv4_added: PairedProbe
    jwks_fetches: int


@dataclass(frozen=True, slots=True)
class _Target:
    name: str
    goal: str
    values: list[float]  # one per round
    shown: list[str]
    at_least: float | None = None
    at_most: float | None = None

    def passed(self, value: float) -> bool:
        if self.at_least is not None:
            return value >= self.at_least
        assert self.at_most is not None
        return value <= self.at_most


def _ratio(setup: Setup, twin: Setup) -> float:
    return setup.c64.requests_per_s / twin.c64.requests_per_s


def _targets(rounds: list[AuthComparison]) -> list[_Target]:
    jwt = [_ratio(r.jwt_route, r.route) for r in rounds]
    sigv4 = [_ratio(r.sigv4_invoke, r.invoke) for r in rounds]
    jwt_us = [r.jwt_added.added_us for r in rounds]
    sigv4_us = [r.sigv4_added.added_us for r in rounds]
    return [
        _Target(
            "JWT route throughput, c=64",
            f"≥ {JWT_RATIO:g}x open",
            jwt,
            [
                f"{v:.2f}x ({r.jwt_route.c64.requests_per_s:,.0f} / "
                f"{r.route.c64.requests_per_s:,.0f})"
                for v, r in zip(jwt, rounds, strict=True)
            ],
            at_least=JWT_RATIO,
        ),
        _Target(
            "JWT route added gateway time, c=1",
            f"≤ {JWT_ADDED_US:g} µs",
            jwt_us,
            [f"{v:.0f} µs" for v in jwt_us],
            at_most=JWT_ADDED_US,
        ),
        _Target(
            "SigV4 Invoke throughput, c=64",
            f"≥ {SIGV4_RATIO:g}x open",
            sigv4,
            [
                f"{v:.2f}x ({r.sigv4_invoke.c64.requests_per_s:,.0f} / "
                f"{r.invoke.c64.requests_per_s:,.0f})"
                for v, r in zip(sigv4, rounds, strict=True)
            ],
            at_least=SIGV4_RATIO,
        ),
        _Target(
            "SigV4 Invoke added gateway time, c=1",
            f"≤ {SIGV4_ADDED_US:g} µs",
            sigv4_us,
            [f"{v:.0f} µs" for v in sigv4_us],
            at_most=SIGV4_ADDED_US,
        ),
    ]


def _setup_row(setup: Setup) -> list[str]:
    assert setup.header is not None
    assert setup.cpu is not None
    server, workers, _, _ = setup.cpu.per_request_us(setup.c64.requests)
    return [
        setup.label,
        f"{setup.c1.requests_per_s:,.0f}",
        f"{setup.c1.p50_ms:.3f}",
        f"{setup.c64.requests_per_s:,.0f}",
        f"{setup.c64.p99_ms:.2f}",
        f"{server:.0f} + {workers:.0f}",
        f"{setup.header.added_p50_ms * 1000:.0f} / {setup.header.added_p99_ms * 1000:.0f}",
        str(setup.errors),
    ]


def auth_sections(rounds: list[AuthComparison], *, setups: bool) -> list[Section]:
    """The issue's four authentication targets, each against its open twin: each round's
    figure, their median and the verdict on it; with ``setups``, first the setups' own
    figures round by round (the full run has them in its main tables)."""
    numbered = len(rounds) > 1
    fetches = sorted({r.jwks_fetches for r in rounds})
    round_heads = [f"round {n}" for n in range(1, len(rounds) + 1)] if numbered else ["measured"]
    rows = []
    for target in _targets(rounds):
        median = statistics.median(target.values)
        rows.append(
            [
                target.name,
                target.goal,
                *target.shown,
                *(
                    [f"{median:.2f}x" if target.at_least else f"{median:.0f} µs"]
                    if numbered
                    else []
                ),
                "PASS" if target.passed(median) else "MISS",
            ]
        )
    title = (
        "Authentication targets, each against its open twin in the same gateway (JWKS "
        f"fetched {', '.join(map(str, fetches))} time(s) per run)"
    )
    heads = ["target", "goal", *round_heads, *(["median"] if numbered else []), "verdict"]
    sections = [Section(title, heads, rows)]
    if setups:
        measured = [
            [str(index), *_setup_row(setup)]
            for index, r in enumerate(rounds, 1)
            for setup in (r.route, r.jwt_route, r.invoke, r.sigv4_invoke)
        ]
        headers = [
            "round", "setup", "req/s c=1", "p50 c=1 (ms)", "req/s c=64", "p99 c=64 (ms)",
            "CPU µs/request c=64: gateway + workers", "X-Lockgate-Latency p50 / p99 (µs)",
            "errors",
        ]  # fmt: skip
        sections.insert(0, Section("The open and authenticated setups", headers, measured))
    return sections
