"""The ``[tracing]`` table of ``lockgate.toml``, checked key by key into a
:class:`TracingConfig`. The OpenTelemetry SDK's own ``OTEL_*`` variables still apply where
the table is silent (the endpoint, the exporter's headers, the sampler, the service name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from lockgate.config.problems import Expect, Problems, check
from lockgate.config.tables import STRICT
from lockgate.models.trace import TracingConfig

__all__ = ["build_tracing"]

_DEFAULTS = TracingConfig()


class _TracingTable(BaseModel):
    model_config = STRICT

    enabled: bool = _DEFAULTS.enabled
    service_name: str | None = Field(default=None, min_length=1, max_length=200)
    exporter: Literal["otlp", "console", "none"] = _DEFAULTS.exporter
    # No user:password@ in the URL: a collector's credentials go in OTEL_EXPORTER_OTLP_HEADERS.
    endpoint: Annotated[
        str | None,
        Field(pattern=r"^https?://[^\s/@]+(/\S*)?$"),
        Expect("an http(s) URL without credentials, e.g. 'http://127.0.0.1:4318/v1/traces'"),
    ] = None
    sample_ratio: float | None = Field(default=None, ge=0, le=1)


def build_tracing(data: Mapping[str, Any], problems: Problems) -> TracingConfig:
    """The ``[tracing]`` table of a parsed file (the defaults when it has none or a value
    is bad; the problem is added)."""
    raw = data.get("tracing", {})
    table = check(_TracingTable, raw if isinstance(raw, Mapping) else {}, ("tracing",), problems)
    if table is None:
        return _DEFAULTS
    return TracingConfig(
        enabled=table.enabled,
        service_name=table.service_name,
        exporter=table.exporter,
        endpoint=table.endpoint,
        sample_ratio=table.sample_ratio,
    )
