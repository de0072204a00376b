"""A bounded schemathesis run of the gateway's own OpenAPI schema against a real
``lockgate serve``: no server error whatever the input, every status answered is one the
schema documents, and a method an endpoint does not serve is a 405 naming the ones it does
(``Allow``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.controllers.http.app import create_app
from lockgate.use_cases.secrets.master_key import generate_master_key
from tests.e2e.gateway_process import GatewayProcess

# The schema the gateway serves, made in-process (no I/O) so the cases exist at collection.
schema = schemathesis.openapi.from_dict(
    create_app(build(Settings(run_store="memory://"))).api.openapi()
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The e2e app with everything on: a SQLite store with secrets, jobs, Event invocations."""
    folder = tmp_path_factory.mktemp("schema")
    env = {
        "LOCKGATE_RUN_STORE": f"sqlite:///{folder / 'runs.sqlite3'}",
        "LOCKGATE_MASTER_KEY": generate_master_key(),
        "LOCKGATE_SECRETS_HTTP_READ": "true",
    }
    with GatewayProcess(env=env) as gateway:
        yield gateway


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_schema_holds(case: schemathesis.Case[Any], served: GatewayProcess) -> None:
    if case.path.endswith("/logs") and case.query:
        # follow=true streams until the client leaves (tests/e2e/test_function_logs.py
        # follows one); a fuzzer reading the whole answer would wait forever.
        case.query.pop("follow", None)
    case.call_and_validate(
        base_url=served.url,
        headers=served.admin_headers,
        checks=[not_a_server_error, status_code_conformance],
    )


def test_a_method_an_endpoint_does_not_serve_is_a_405_naming_those_it_does(
    served: GatewayProcess,
) -> None:
    paths = create_app(build(Settings(run_store="memory://"))).api.openapi()["paths"]
    patterns = {t: re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$") for t in paths}
    wrong: list[str] = []
    with httpx.Client(base_url=served.url, headers=served.admin_headers) as http:
        for template in paths:
            path = re.sub(r"\{[^}]+\}", "x", template)
            served_methods = {
                method.upper()
                for other, operations in paths.items()
                if patterns[other].match(path)
                for method in operations
            }
            for method in {"GET", "POST", "PUT", "DELETE", "PATCH"} - served_methods:
                response = http.request(method, path)
                allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
                if response.status_code != 405 or not served_methods <= allowed:
                    wrong.append(f"{method} {path}: {response.status_code} Allow={allowed}")
    assert not wrong, wrong
