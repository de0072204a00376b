"""HTTP routes to functions, and the table that matches a request to one.

Matching follows API Gateway: a route with more literal segments wins over one with
parameters, a ``{param}`` over a greedy ``{proxy+}``, an exact method over ``ANY``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from lockgate.models.security.config import CorsConfig

__all__ = ["HTTP_METHODS", "PayloadFormat", "Route", "RouteMatch", "RouteTable"]

PayloadFormat = Literal["1.0", "2.0"]
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")


@dataclass(frozen=True, slots=True)
class Route:
    """``method path`` → ``function``; ``path`` may hold ``{param}`` and a final ``{proxy+}``.

    Attributes:
        authorizer: The ``[authorizers.NAME]`` that must let a request through; None:
            the route is public, as on API Gateway.
        scopes: With a JWT authorizer, the token must carry at least one of these.
        api_key_required: Requests must send an API key (``x-api-key``) of a usage plan.
        cors: This route's CORS, instead of ``[cors]``.
    """

    method: str
    path: str
    function: str
    payload_format: PayloadFormat = "2.0"
    authorizer: str | None = None
    scopes: tuple[str, ...] = ()
    api_key_required: bool = False
    cors: CorsConfig | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        if self.method not in HTTP_METHODS:
            raise ValueError(
                f"route {self.path!r}: method {self.method!r} must be one of "
                f"{', '.join(sorted(HTTP_METHODS))}"
            )
        if self.payload_format not in ("1.0", "2.0"):
            raise ValueError(
                f"route {self.path!r}: payload_format must be '1.0' or '2.0', "
                f"got {self.payload_format!r}"
            )
        _compile(self.path)  # raises ValueError naming the path when it is malformed

    @property
    def route_key(self) -> str:
        """``"GET /hello/{name}"``, as API Gateway names a route."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    path_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Compiled:
    route: Route
    pattern: re.Pattern[str]
    rank: tuple[int, int, int, int]


def _compile(path: str) -> tuple[re.Pattern[str], tuple[int, int, int]]:
    if not path.startswith("/"):
        raise ValueError(f"route path {path!r} must start with '/'")
    segments = list(path.split("/")[1:])
    if path == "/":
        segments = []
    parts: list[str] = []
    literals = params = 0
    greedy = 0
    seen: set[str] = set()
    for index, segment in enumerate(segments):
        match = _PARAM.match(segment)
        if match is None:
            if "{" in segment or "}" in segment or segment == "":
                raise ValueError(f"route path {path!r}: malformed segment {segment!r}")
            parts.append(re.escape(segment))
            literals += 1
            continue
        name, plus = match.groups()
        if name in seen:
            raise ValueError(f"route path {path!r}: parameter {name!r} appears twice")
        seen.add(name)
        if plus:
            if index != len(segments) - 1:
                raise ValueError(
                    f"route path {path!r}: greedy {{{name}+}} must be the last segment"
                )
            parts.append(f"(?P<{name}>.+)")
            greedy = 1
        else:
            parts.append(f"(?P<{name}>[^/]+)")
            params += 1
    pattern = re.compile("^/" + "/".join(parts) + "$")
    return pattern, (literals, params, greedy)


class RouteTable:
    """The routes of a gateway, matched most-specific first."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        compiled: list[_Compiled] = []
        keys: set[tuple[str, str]] = set()
        for route in routes:
            key = (route.method, route.path)
            if key in keys:
                raise ValueError(f"route {route.route_key!r} is declared twice")
            keys.add(key)
            pattern, (literals, params, greedy) = _compile(route.path)
            # Sort key: fewer greedy, more literals, more params, then the method: an exact
            # one first, GET next (it also serves HEAD), ANY last.
            method_order = {"ANY": 2, "GET": 1}.get(route.method, 0)
            rank = (greedy, -literals, -params, method_order)
            compiled.append(_Compiled(route, pattern, rank))
        compiled.sort(key=lambda c: c.rank)
        self._compiled = tuple(compiled)

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(c.route for c in self._compiled)

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The best route for ``method path``, with its path parameters, or None."""
        method = method.upper()
        for compiled in self._compiled:
            route = compiled.route
            # HEAD is served by a GET route, as most HTTP stacks do.
            if route.method not in ("ANY", method) and not (
                method == "HEAD" and route.method == "GET"
            ):
                continue
            found = compiled.pattern.match(path)
            if found is not None:
                return RouteMatch(route, found.groupdict())
        return None
