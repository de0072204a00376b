"""``ServerSpans``: the server span of each HTTP request the gateway serves, after
OpenTelemetry's HTTP conventions (``GET /hello/{name}``, ``http.request.method``,
``url.path``, ``http.route``, ``http.response.status_code``)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager

from lockgate.gateways.interfaces import ISpan, ITracer
from lockgate.models.trace import SpanKind

__all__ = ["ServerSpans"]


class ServerSpans:
    """Opens and closes requests' server spans.

    Args:
        tracer: Where spans go (only a gateway with tracing on makes one of these).
    """

    def __init__(self, tracer: ITracer) -> None:
        self._tracer = tracer

    def request(  # noqa: PLR0917 - positional: called on every traced request
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        scheme: str,
        client: str | None,
        protocol: str,
    ) -> AbstractContextManager[ISpan]:
        """The request's span, a child of the caller's ``traceparent`` when one came; named
        by the method until its route is known. The query string is left out: it may hold
        a token. (Positional arguments: it is called on every traced request.)"""
        attributes: dict[str, str | bool | int | float] = {
            "http.request.method": method,
            "url.path": path,
            "url.scheme": scheme,
            "network.protocol.version": protocol,
        }
        if client is not None:
            attributes["client.address"] = client
        if agent := headers.get("user-agent"):
            attributes["user_agent.original"] = agent
        return self._tracer.span(
            method, kind=SpanKind.SERVER, attributes=attributes, headers=headers
        )

    @staticmethod
    def finish(span: ISpan, method: str, status: int, route: str | None) -> None:
        """Record the response; a 5xx is the server's error, a 4xx the client's. (The
        common case, a declared route's response below 500, is recorded by the caller
        inline: ``http.response.status_code`` alone.)"""
        if route is not None:
            span.set_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        if status:
            span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.fail(str(status))
