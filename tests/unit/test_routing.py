"""RouteTable: literal > {param} > {proxy+}, exact method > ANY, HEAD served by GET, and
ValueError naming the path for duplicate routes and malformed paths."""

from __future__ import annotations

import re

import pytest

from lockgate.models.routing import Route, RouteMatch, RouteTable


def matched(table: RouteTable, method: str, path: str) -> tuple[str, dict[str, str]]:
    found = table.match(method, path)
    assert found is not None, f"{method} {path} matched nothing"
    return found.route.function, dict(found.path_parameters)


def test_literal_beats_param_beats_greedy_whatever_the_declaration_order() -> None:
    routes = [
        Route("GET", "/{proxy+}", "greedy"),
        Route("GET", "/users/{id}", "param"),
        Route("GET", "/users/me", "literal"),
    ]
    for ordering in (routes, routes[::-1]):
        table = RouteTable(ordering)
        assert matched(table, "GET", "/users/me") == ("literal", {})
        assert matched(table, "GET", "/users/42") == ("param", {"id": "42"})
        assert matched(table, "GET", "/users/42/orders") == (
            "greedy",
            {"proxy": "users/42/orders"},
        )


def test_more_literal_segments_win() -> None:
    table = RouteTable(
        [Route("GET", "/{a}/{b}/{c}", "params"), Route("GET", "/shop/{b}/items", "two-literals")]
    )
    assert matched(table, "GET", "/shop/7/items") == ("two-literals", {"b": "7"})
    assert matched(table, "GET", "/shop/7/other") == (
        "params",
        {"a": "shop", "b": "7", "c": "other"},
    )


def test_greedy_under_a_prefix_beats_a_root_greedy() -> None:
    table = RouteTable([Route("ANY", "/{proxy+}", "root"), Route("ANY", "/api/{proxy+}", "api")])
    assert matched(table, "GET", "/api/v1/x") == ("api", {"proxy": "v1/x"})
    assert matched(table, "GET", "/other/x") == ("root", {"proxy": "other/x"})


def test_greedy_does_not_match_the_bare_prefix() -> None:
    table = RouteTable([Route("GET", "/files/{path+}", "files")])
    assert table.match("GET", "/files/") is None
    assert table.match("GET", "/files") is None
    assert matched(table, "GET", "/files/a/b.txt") == ("files", {"path": "a/b.txt"})
    assert RouteTable([Route("GET", "/{proxy+}", "root")]).match("GET", "/") is None


def test_exact_method_beats_any() -> None:
    routes = [Route("ANY", "/items", "any"), Route("POST", "/items", "post")]
    for ordering in (routes, routes[::-1]):
        table = RouteTable(ordering)
        assert matched(table, "POST", "/items") == ("post", {})
        assert matched(table, "DELETE", "/items") == ("any", {})


def test_path_specificity_comes_before_the_method() -> None:
    table = RouteTable(
        [Route("GET", "/items/{id}", "get-param"), Route("ANY", "/items/new", "any")]
    )
    assert matched(table, "GET", "/items/new") == ("any", {})
    assert matched(table, "GET", "/items/3") == ("get-param", {"id": "3"})


def test_method_is_matched_case_insensitively_and_wrong_methods_miss() -> None:
    table = RouteTable([Route("post", "/items", "post")])
    assert table.routes[0].method == "POST"
    assert matched(table, "post", "/items") == ("post", {})
    assert table.match("GET", "/items") is None


def test_head_is_served_by_get() -> None:
    table = RouteTable([Route("GET", "/page", "page")])
    assert matched(table, "HEAD", "/page") == ("page", {})
    assert table.match("HEAD", "/other") is None


def test_get_does_not_serve_other_methods() -> None:
    table = RouteTable([Route("GET", "/page", "page")])
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        assert table.match(method, "/page") is None


def test_an_explicit_head_route_beats_get_for_head() -> None:
    table = RouteTable([Route("GET", "/page", "get"), Route("HEAD", "/page", "head")])
    assert matched(table, "HEAD", "/page") == ("head", {})


def test_explicit_head_route_serves_head_when_declared_first() -> None:
    table = RouteTable([Route("HEAD", "/page", "head"), Route("GET", "/page", "get")])
    assert matched(table, "HEAD", "/page") == ("head", {})
    assert matched(table, "GET", "/page") == ("get", {})


def test_root_route() -> None:
    table = RouteTable([Route("GET", "/", "root"), Route("GET", "/{name}", "named")])
    assert matched(table, "GET", "/") == ("root", {})
    assert matched(table, "GET", "/x") == ("named", {"name": "x"})


def test_param_does_not_cross_slashes_or_match_empty_segments() -> None:
    table = RouteTable([Route("GET", "/users/{id}", "user")])
    assert table.match("GET", "/users/1/2") is None
    assert table.match("GET", "/users/") is None
    assert table.match("GET", "/users") is None


def test_match_returns_a_route_match_with_the_route() -> None:
    route = Route("GET", "/a/{b}", "fn", "1.0")
    found = RouteTable([route]).match("GET", "/a/x")
    assert isinstance(found, RouteMatch)
    assert found.route == route
    assert found.route.payload_format == "1.0"
    assert found.route.route_key == "GET /a/{b}"


def test_literal_segments_are_not_regular_expressions() -> None:
    table = RouteTable([Route("GET", "/v1.0/a+b", "dots")])
    assert matched(table, "GET", "/v1.0/a+b") == ("dots", {})
    assert table.match("GET", "/v1x0/aab") is None


def test_empty_table_matches_nothing() -> None:
    assert RouteTable().match("GET", "/") is None


def test_duplicate_routes_raise_naming_the_path() -> None:
    with pytest.raises(ValueError, match=re.escape("/items/{id}")):
        RouteTable([Route("GET", "/items/{id}", "a"), Route("get", "/items/{id}", "b")])


def test_same_path_with_different_methods_is_not_a_duplicate() -> None:
    table = RouteTable([Route("GET", "/items", "a"), Route("ANY", "/items", "b")])
    assert len(table.routes) == 2


@pytest.mark.parametrize(
    "path",
    [
        "items",
        "",
        "/items/",
        "/a//b",
        "/a/{b",
        "/a/b}",
        "/a/{}",
        "/a/{1x}",
        "/a/x{b}",
        "/{proxy+}/tail",
        "/{a}/{a}",
        "/{a-b}",
    ],
)
def test_malformed_paths_raise_naming_the_path(path: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(path))):
        Route("GET", path, "fn")


@pytest.mark.parametrize(
    ("method", "payload_format"), [("FETCH", "2.0"), ("GET", "3.0"), ("CONNECT", "1.0")]
)
def test_bad_method_or_format_raises_naming_the_path(method: str, payload_format: str) -> None:
    with pytest.raises(ValueError, match=re.escape("'/ok'")):
        Route(method, "/ok", "fn", payload_format)  # type: ignore[arg-type]
