"""Declared routes may not claim a path the gateway serves itself: such a route would never
see a request, so the loader refuses it, naming ``routes[i].path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.config.settings import (
    RESERVED_PATHS,
    RESERVED_PREFIXES,
    is_reserved_path,
    load_config,
)
from lockgate.controllers.http import app
from lockgate.errors import ConfigError

HEADER = """
[functions.echo]
handler = "handlers:echo"

[[routes]]
method = "GET"
path = "/hello/{name}"
function = "echo"
"""


def route(path: str, method: str = "ANY") -> str:
    return f'\n[[routes]]\nmethod = "{method}"\npath = "{path}"\nfunction = "echo"\n'


def load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "lockgate.toml"
    path.write_text(text, encoding="utf-8")
    load_config(path)


@pytest.mark.parametrize(
    "path",
    [
        "/workflows",
        "/workflows/{name}",
        "/workflows/{name}/runs",
        "/runs",
        "/runs/{proxy+}",
        "/healthz",
        "/readyz",
        "/health",
        "/metrics",
        "/_lockgate/docs",
        "/_lockgate/{proxy+}",
        "/2015-03-31/functions/{name}/invocations",
    ],
)
def test_a_route_under_a_reserved_path_is_a_config_error_naming_it(
    tmp_path: Path, path: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, HEADER + route(path))
    error = caught.value
    assert error.fields["key"] == "routes[1].path"
    assert repr(path) in error.message
    assert "/workflows" in error.message  # says what is reserved


@pytest.mark.parametrize(
    "path",
    ["/workflow", "/workflowsx", "/run", "/api/workflows", "/v1/runs/{id}", "/healthz/{x}", "/{x}"],
)
def test_paths_beside_the_reserved_ones_are_allowed(tmp_path: Path, path: str) -> None:
    load(tmp_path, HEADER + route(path))


def test_every_reserved_route_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, HEADER + route("/runs") + route("/metrics", "GET"))
    assert caught.value.fields["keys"] == ("routes[1].path", "routes[2].path")


def test_the_dispatcher_reserves_exactly_what_the_loader_refuses() -> None:
    assert app.RESERVED_PATHS is RESERVED_PATHS
    assert app.RESERVED_PREFIXES is RESERVED_PREFIXES
    for path in ("/workflows", "/workflows/x/runs", "/runs", "/runs/abc/cancel", "/healthz"):
        assert is_reserved_path(path)
    for path in ("/workflowsx", "/runsx", "/", "/echo/x"):
        assert not is_reserved_path(path)
