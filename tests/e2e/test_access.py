"""Who may call what, through real HTTP: ``lockgate serve`` listening on ``0.0.0.0`` and a
"remote" client bound to 127.0.0.2, tokens made with ``lockgate tokens create``.

Covers the findings of the attack this was built against: nothing but three admin paths
asked who was calling; a loopback source address counted as a credential; a gateway moved
to a public address served its workflow API to anyone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lockgate.client import Client, Forbidden, Unauthorized
from tests.e2e.access_support import REMOTE, clean_env, config, error, lockgate, make_token
from tests.e2e.gateway_process import GatewayProcess
from tests.servers import free_port

SCOPES = {
    "runner": ["workflows:run", "runs:read:own"],
    "other-runner": ["workflows:run", "runs:read:own"],
    "reader": ["runs:read"],
    "canceller": ["runs:read", "runs:cancel"],
    "invoker": ["functions:invoke:echo"],
    "ops": ["ops:read"],
    "root": ["admin"],
}


@dataclass
class Public:
    """A gateway on 0.0.0.0 with a token per name in ``SCOPES``."""

    gateway: GatewayProcess
    tokens: dict[str, str]
    env: dict[str, str]

    def client(self, name: str | None = None) -> httpx.Client:
        """A client on another address, presenting ``name``'s token (none: anonymous)."""
        headers = {"Authorization": f"Bearer {self.tokens[name]}"} if name else {}
        return httpx.Client(
            base_url=self.gateway.url,
            headers=headers,
            timeout=30,
            transport=httpx.HTTPTransport(local_address=REMOTE),
        )


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Public]:
    folder = tmp_path_factory.mktemp("public")
    path = config(folder, "[auth]\ntoken_cache_ttl = 0\n")
    env = {
        "LOCKGATE_CONFIG": str(path),
        "LOCKGATE_RUN_STORE": f"sqlite:///{folder / 'runs.sqlite3'}",
    }
    tokens = {name: make_token(name, scopes, env) for name, scopes in SCOPES.items()}
    with GatewayProcess(path, env=env, host="0.0.0.0") as gateway:
        yield Public(gateway, tokens, env)


def start(http: httpx.Client, workflow: str = "pipeline", **extra: Any) -> httpx.Response:
    body = {"parameters": {"numbers": [1, 2]}} if workflow == "pipeline" else {}
    return http.post(f"/workflows/{workflow}/runs", json=body, **extra)


# -- fail closed ---------------------------------------------------------------------------


def test_a_public_listener_without_any_credential_refuses_to_start(tmp_path: Path) -> None:
    env = {"LOCKGATE_RUN_STORE": f"sqlite:///{tmp_path / 'runs.sqlite3'}"}
    argv = ["serve", "--host", "0.0.0.0", "--port", str(free_port())]

    refused = lockgate(*argv, "--config", str(config(tmp_path)), env=env)

    assert refused.returncode == 2
    for surface in ("lambda_api", "workflow_api", "operations"):
        assert f"{surface} on 0.0.0.0" in refused.stderr
    assert "lockgate tokens create NAME --scope workflows:run" in refused.stderr
    assert '[auth] allow_anonymous = ["workflow_api"]' in refused.stderr

    partly = config(tmp_path, '[auth]\nallow_anonymous = ["lambda_api", "workflow_api"]\n')
    still = lockgate(*argv, "--config", str(partly), env=env)

    assert still.returncode == 2
    assert "operations on 0.0.0.0" in still.stderr
    assert "workflow_api on" not in still.stderr
    assert "lambda_api on" not in still.stderr


def test_anonymous_callers_reach_only_probes_and_public_routes(public: Public) -> None:
    with public.client() as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert anonymous.get("/readyz").json() == {"status": "ready"}
        assert anonymous.get("/echo/ann").status_code == 200  # a route without an authorizer
        for method, path in (
            ("POST", "/workflows/pipeline/runs"),
            ("GET", "/workflows"),
            ("GET", "/runs"),
            ("GET", "/runs/0123abcd"),
            ("POST", "/runs/0123abcd/cancel"),
            ("GET", "/health"),
            ("GET", "/metrics"),
            ("GET", "/modules"),
            ("GET", "/events/deliveries"),
            ("GET", "/_lockgate/openapi.json"),
            ("GET", "/secrets"),
            ("GET", "/jobs"),
            ("GET", "/invocations"),
            ("GET", "/tokens"),
            ("GET", "/anything/reserved/later"),
        ):
            if not path.startswith(("/anything",)):
                response = anonymous.request(method, path)
                assert "needs a credential" in error(response, 401, "Unauthorized"), path
                assert response.headers["www-authenticate"] == 'Bearer realm="lockgate"'
        invoke = anonymous.post("/2015-03-31/functions/echo/invocations", json={})
        assert invoke.status_code == 403
        assert invoke.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
        assert invoke.json()["message"] == "Missing Authentication Token"


def test_boto3_with_keys_the_gateway_does_not_know_is_an_unrecognized_client(
    public: Public,
) -> None:
    lam = boto3.client(
        "lambda",
        endpoint_url=public.gateway.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="echo", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_token_that_is_not_valid_is_refused_without_echoing_it(public: Public) -> None:
    forged = public.tokens["root"][:-2] + "xx"
    for presented in (f"Bearer {forged}", "Bearer lg_nonsense", f"Basic {forged}", "Bearer"):
        with public.client() as http:
            response = http.get("/runs", headers={"Authorization": presented})
        message = error(response, 401, "Unauthorized")
        assert forged not in response.text
        assert message


# -- scopes --------------------------------------------------------------------------------


def test_runs_record_who_started_them_and_own_readers_see_only_theirs(public: Public) -> None:
    with public.client("runner") as runner, public.client("other-runner") as other:
        mine = start(runner).json()
        theirs = start(other).json()
        assert mine["status"] == "completed"
        assert mine["principal"] == "runner"

        listed = {
            run["run_id"] for run in runner.get("/runs", params={"limit": 500}).json()["runs"]
        }
        assert mine["run_id"] in listed
        assert theirs["run_id"] not in listed
        assert runner.get(f"/runs/{mine['run_id']}").status_code == 200
        hidden = runner.get(f"/runs/{theirs['run_id']}")
        assert error(hidden, 404, "RunNotFound") == f"no run {theirs['run_id']!r}"

        assert "runs:cancel" in error(
            runner.post(f"/runs/{mine['run_id']}/cancel"), 403, "Forbidden"
        )
        assert "ops:read" in error(runner.get("/health"), 403, "Forbidden")

    with public.client("reader") as reader:
        everything = {
            r["run_id"] for r in reader.get("/runs", params={"limit": 500}).json()["runs"]
        }
        assert {mine["run_id"], theirs["run_id"]} <= everything
        assert reader.get(f"/runs/{theirs['run_id']}").json()["principal"] == "other-runner"
        assert "workflows:run" in error(start(reader), 403, "Forbidden")


def test_cancel_needs_runs_cancel(public: Public) -> None:
    with public.client("runner") as runner, public.client("canceller") as canceller:
        running = runner.post("/workflows/slow/runs", params={"wait": "false"}, json={})
        assert running.status_code == 202, running.text
        run_id = running.json()["run_id"]
        cancelled = canceller.post(f"/runs/{run_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"


def test_an_idempotency_key_of_another_principal_is_a_conflict(public: Public) -> None:
    key = {"Idempotency-Key": "nightly-2026-12-07"}
    with public.client("runner") as runner, public.client("other-runner") as other:
        first = start(runner, headers=key).json()
        assert start(runner, headers=key).json()["run_id"] == first["run_id"]
        conflict = start(other, headers=key)
        message = error(conflict, 409, "IdempotencyConflict")
        assert first["run_id"] not in conflict.text
        assert "another caller" in message


def test_a_narrowed_invoke_scope_reaches_only_its_functions(public: Public) -> None:
    with public.client("invoker") as invoker:
        allowed = invoker.post("/2015-03-31/functions/echo/invocations", json={"a": 1})
        assert allowed.status_code == 200, allowed.text
        other = invoker.post("/2015-03-31/functions/pid/invocations", json={})
        assert other.status_code == 403
        assert other.headers["x-amzn-errortype"] == "AccessDeniedException"
        # AWS's IAM refusals spell the member "Message" (botocore reads either spelling).
        assert other.json()["Message"] == (
            "User: invoker is not authorized to perform: lambda:InvokeFunction on resource: "
            "arn:aws:lambda:us-east-1:000000000000:function:pid because no identity-based "
            "policy allows the lambda:InvokeFunction action"
        )
        listed = invoker.get("/2015-03-31/functions/").json()["Functions"]
        assert [f["FunctionName"] for f in listed] == ["echo"]
        assert "workflows:run" in error(start(invoker), 403, "Forbidden")


def test_ops_read_opens_operations_and_nothing_of_an_operators(public: Public) -> None:
    with public.client("ops") as ops:
        assert ops.get("/health").status_code == 200
        assert ops.get("/metrics").status_code == 200
        assert ops.get("/modules").status_code == 200
        for path in ("/secrets", "/jobs", "/invocations", "/tokens"):
            assert "scope admin" in error(ops.get(path), 403, "Forbidden")


def test_tokens_made_and_revoked_over_http_and_by_the_cli(public: Public) -> None:
    with public.client("root") as root:
        made = root.post("/tokens", json={"name": "temp", "scopes": ["runs:read"]})
        assert made.status_code == 201, made.text
        secret = made.json()["token"]
        assert secret.startswith("lg_")
        listed = root.get("/tokens").json()["tokens"]
        assert {t["name"] for t in listed} >= set(SCOPES) | {"temp"}
        assert all(set(t) == {"name", "scopes", "created_at", "last_used_at"} for t in listed)
        assert secret not in root.get("/tokens").text
        with public.client() as temp:
            auth = {"Authorization": f"Bearer {secret}"}
            assert temp.get("/runs", headers=auth).status_code == 200
            assert root.delete("/tokens/temp").status_code == 204
            error(temp.get("/runs", headers=auth), 401, "Unauthorized")
        error(root.delete("/tokens/temp"), 404, "CredentialNotFound")
        error(
            root.post("/tokens", json={"name": "runner", "scopes": ["admin"]}),
            409,
            "CredentialExists",
        )
        bad = root.post("/tokens", json={"name": "x", "scopes": ["everything"]})
        assert "unknown scope 'everything'" in error(bad, 400, "InvalidRequestContentException")

    # The CLI writes the store directly; token_cache_ttl = 0 makes the gateway see it at once.
    secret = make_token("by-cli", ["runs:read"], public.env)
    with public.client() as http:
        auth = {"Authorization": f"Bearer {secret}"}
        assert http.get("/runs", headers=auth).status_code == 200
        revoked = lockgate("tokens", "revoke", "by-cli", env=public.env)
        assert revoked.returncode == 0, revoked.stderr
        error(http.get("/runs", headers=auth), 401, "Unauthorized")


async def test_the_client_sdk_presents_its_token(public: Public) -> None:
    url = public.gateway.url
    async with Client(url, token=public.tokens["runner"]) as runner:
        result = await runner.execute_workflow("pipeline", {"numbers": [3]})
        assert result.is_success
    async with Client(url) as anonymous:
        with pytest.raises(Unauthorized):
            await anonymous.list_runs()
    async with Client(url, token=public.tokens["reader"]) as reader:
        with pytest.raises(Forbidden) as caught:
            await reader.execute_workflow("pipeline", {"numbers": [3]})
        assert caught.value.status == 403


def test_the_cli_takes_a_token_from_the_option_or_the_environment(
    public: Public, tmp_path: Path
) -> None:
    # Nowhere to find the local admin token: the CLI has only what it is given.
    env = {"LOCKGATE_RUNTIME_DIR": str(tmp_path), "LOCKGATE_ADMIN_TOKEN_FILE": str(tmp_path / "x")}
    argv = ("runs", "list", "--json", "--url", public.gateway.url)
    refused = lockgate(*argv, env=env)
    assert refused.returncode == 2
    assert "needs a credential" in refused.stderr
    given = lockgate(*argv, "--token", public.tokens["reader"], env=env)
    assert given.returncode == 0, given.stderr
    from_env = lockgate(*argv, env={**env, "LOCKGATE_TOKEN": public.tokens["reader"]})
    assert json.loads(from_env.stdout)["runs"] == json.loads(given.stdout)["runs"]
    # Run as it would be on the gateway's machine: the gateway's note of its port leads the
    # CLI to the local admin token.
    found = lockgate(*argv, env={})
    assert found.returncode == 0, found.stderr


# -- loopback: a developer's gateway -------------------------------------------------------


def test_on_loopback_everything_works_anonymously_but_operations_of_an_operator(
    gateway: GatewayProcess,
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as anonymous:
        assert start(anonymous).json()["principal"] == "anonymous"
        assert anonymous.get("/runs").status_code == 200
        assert anonymous.get("/health").status_code == 200
        assert anonymous.post("/2015-03-31/functions/echo/invocations", json={}).status_code == 200
        for path in ("/secrets", "/jobs", "/invocations", "/tokens"):
            assert "scope admin" in error(anonymous.get(path), 401, "Unauthorized")
    with httpx.Client(base_url=gateway.url, headers=gateway.admin_headers) as operator:
        assert operator.get("/invocations").status_code == 200


def test_the_cli_finds_the_local_admin_token_by_itself(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    # Run from another folder, with nothing naming the gateway's config or token file: the
    # gateway's note of its port says where the token is.
    listed = subprocess.run(
        [sys.executable, "-m", "lockgate", "invocations", "list", "--json", "--url", gateway.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert listed.returncode == 0, listed.stderr
    assert "invocations" in json.loads(listed.stdout)


def test_a_runs_cap_per_principal_answers_429(tmp_path: Path) -> None:
    path = config(tmp_path, "[limits]\nmax_runs_per_principal = 1\n")
    with GatewayProcess(path) as capped, httpx.Client(base_url=capped.url) as http:
        first = http.post("/workflows/slow/runs", params={"wait": "false"}, json={})
        assert first.status_code == 202, first.text
        second = http.post("/workflows/slow/runs", params={"wait": "false"}, json={})
        assert "max_runs_per_principal" in error(second, 429, "TooManyRequestsException")
        assert second.headers["retry-after"] == "1"
        http.post(f"/runs/{first.json()['run_id']}/cancel")
        third = http.post("/workflows/slow/runs", params={"wait": "false"}, json={})
        assert third.status_code == 202, third.text


# -- per-client limits -----------------------------------------------------------------------


def test_one_client_cannot_take_the_whole_gateway(tmp_path: Path) -> None:
    """[limits]: each client (its address, or its principal when it shows a credential) has
    its own bucket, on routes and every other surface but the probes."""
    folder = tmp_path / "limited"
    folder.mkdir()
    anonymous = '[auth]\nallow_anonymous = ["workflow_api", "lambda_api"]\n'
    path = config(folder, anonymous + "[limits]\nrate = 0.01\nburst = 3\n")
    env = {"LOCKGATE_RUN_STORE": f"sqlite:///{folder / 'runs.sqlite3'}"}
    ops = make_token("ops", ["ops:read"], {**env, "LOCKGATE_CONFIG": str(path)})
    with GatewayProcess(path, env=env, host="0.0.0.0") as gateway:
        remote = httpx.Client(
            base_url=gateway.url, transport=httpx.HTTPTransport(local_address=REMOTE)
        )
        local = httpx.Client(base_url=gateway.url)
        with remote, local:
            assert [remote.get("/echo/a").status_code for _ in range(3)] == [200] * 3
            route = remote.get("/echo/a")
            assert route.status_code == 429
            assert route.json() == {"message": "Too Many Requests"}
            assert int(route.headers["retry-after"]) >= 1
            throttled = remote.get("/runs")
            assert "[limits]" in error(throttled, 429, "TooManyRequests")
            invoke = remote.post("/2015-03-31/functions/echo/invocations", json={})
            assert invoke.status_code == 429
            assert invoke.headers["x-amzn-errortype"] == "TooManyRequestsException"
            assert invoke.json()["Reason"] == "CallerRateLimitExceeded"
            assert remote.get("/healthz").status_code == 200  # probes are never limited

            # Another address, and a caller with a credential, have buckets of their own.
            assert local.get("/echo/a").status_code == 200
            with_token = {"Authorization": f"Bearer {ops}"}
            assert remote.get("/health", headers=with_token).status_code == 200

            # Failed credentials use up the address's bucket; then they are not looked up.
            bad = {"Authorization": "Bearer lg_not-a-token"}
            statuses = [local.get("/health", headers=bad).status_code for _ in range(4)]
            assert statuses == [401, 401, 401, 429]
            assert local.get("/health", headers=with_token).status_code == 429  # same address


# -- operations on a listener of their own -----------------------------------------------------


def test_admin_listen_keeps_operations_off_the_public_listener(tmp_path: Path) -> None:
    admin_port = free_port()
    folder = tmp_path / "split"
    folder.mkdir()
    path = config(folder, '[auth]\nallow_anonymous = ["workflow_api", "lambda_api"]\n')
    path.write_text(
        path.read_text().replace(
            "[gateway]\n", f'[gateway]\nadmin_listen = "127.0.0.1:{admin_port}"\n'
        )
    )
    # Operations live on loopback only: start-up asks no ops credential of the public one.
    with GatewayProcess(path, host="0.0.0.0") as gateway:
        admin = f"http://127.0.0.1:{admin_port}"
        with (
            httpx.Client(
                base_url=gateway.url, transport=httpx.HTTPTransport(local_address=REMOTE)
            ) as public,
            httpx.Client(base_url=admin) as operations,
        ):
            assert public.get("/echo/a").status_code == 200
            assert start(public).status_code == 200
            for path_ in ("/health", "/metrics", "/secrets", "/tokens", "/_lockgate/docs"):
                error(public.get(path_), 404, "RouteNotFound")
            assert public.get("/healthz").json() == {"status": "ok"}

            # allow_anonymous names what anonymous callers may use on every listener.
            error(operations.get("/health"), 401, "Unauthorized")
            operator = gateway.admin_headers
            assert operations.get("/health", headers=operator).status_code == 200
            assert operations.get("/metrics", headers=operator).status_code == 200
            error(operations.get("/runs"), 404, "RouteNotFound")
            error(operations.get("/echo/a"), 404, "RouteNotFound")
            error(operations.get("/invocations"), 401, "Unauthorized")
            listed = operations.get("/invocations", headers=gateway.admin_headers)
            assert listed.status_code == 200
            assert operations.get("/readyz").json() == {"status": "ready"}

        # The CLI finds the local admin token by the admin listener's port too.
        found = lockgate("invocations", "list", "--json", "--url", admin, env={})
        assert found.returncode == 0, found.stderr


def test_admin_listen_on_the_main_port_is_refused(tmp_path: Path) -> None:
    port = free_port()
    path = config(tmp_path)
    path.write_text(
        path.read_text().replace("[gateway]\n", f'[gateway]\nadmin_listen = "127.0.0.1:{port}"\n')
    )
    refused = lockgate(
        "serve", "--config", str(path), "--port", str(port), env={"LOCKGATE_RUN_STORE": "memory://"}
    )
    assert refused.returncode == 2
    assert "admin_listen" in refused.stderr
    assert "another port" in refused.stderr
