"""Traces through a real gateway (the composition root, real worker processes), recorded by
the OpenTelemetry SDK's in-memory exporter: each request's server span, the invocation,
workflow run, step and resource acquisition spans beneath it, and the parent a handler's
(or a step's) own spans get, read the way AWS's own propagator reads it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.propagators.aws.aws_xray_propagator import AwsXRayPropagator
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, get_current_span

from lockgate.bootstrap import Application, build
from lockgate.config.settings import load_settings
from lockgate.controllers.http.app import create_app
from lockgate.gateways.stores.events.sqlite import SQLiteEventStore
from lockgate.gateways.tracing.otel import OpenTelemetryTracer
from lockgate.use_cases.events.bus import EventBus
from tests.support import eventually

APP = Path(__file__).parent / "tracing_app" / "lockgate.toml"
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _tracer(exporter: InMemorySpanExporter) -> OpenTelemetryTracer:
    return OpenTelemetryTracer(SimpleSpanProcessor(exporter))


@pytest.fixture
async def client(exporter: InMemorySpanExporter) -> AsyncIterator[httpx.AsyncClient]:
    """The traced gateway of ``tracing_app``, served in-process with its lifespan."""
    settings, config = load_settings(APP, run_store="memory://")
    application = build(settings, config, tracer=_tracer(exporter))
    async with (
        application,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(create_app(application)),
            base_url="http://127.0.0.1:8000",
            timeout=30,
        ) as http,
    ):
        yield http


def ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def parent_id(span: ReadableSpan) -> str | None:
    return f"{span.parent.span_id:016x}" if span.parent is not None else None


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def xray_parent(header: str) -> tuple[str, str, bool]:
    """What AWS's own X-Ray propagator reads from an ``X-Amzn-Trace-Id`` value."""
    context = AwsXRayPropagator().extract({"X-Amzn-Trace-Id": header})
    found = get_current_span(context).get_span_context()
    return f"{found.trace_id:032x}", f"{found.span_id:016x}", found.trace_flags.sampled


async def test_a_route_continues_the_callers_trace_down_to_the_handler(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    answer = await client.get("/trace/ada", headers={"traceparent": TRACEPARENT})

    assert answer.status_code == 200, answer.text
    spans = by_name(exporter)
    server, invoke = spans["GET /trace/{name}"], spans["invoke trace_ids"]
    assert server.kind is SpanKind.SERVER
    assert ids(server)[0] == CALLER_TRACE
    assert parent_id(server) == CALLER_SPAN
    assert dict(server.attributes or {}) | {"client.address": "?"} == {
        "http.request.method": "GET",
        "url.path": "/trace/ada",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "client.address": "?",
        "user_agent.original": client.headers["user-agent"],
        "http.route": "/trace/{name}",
        "http.response.status_code": 200,
    }
    assert invoke.kind is SpanKind.CLIENT
    assert parent_id(invoke) == ids(server)[1]
    attributes = dict(invoke.attributes or {})
    assert attributes["faas.invoked_name"] == "trace_ids"
    assert attributes["faas.trigger"] == "http"
    assert attributes["faas.coldstart"] is True
    assert attributes["faas.invocation_id"] == answer.headers["apigw-requestid"]
    assert [event.name for event in invoke.events] == ["worker acquired"]
    # The handler's environment names the invocation's span, as Lambda's does...
    seen = answer.json()
    trace_id, invoke_span = ids(invoke)
    assert xray_parent(seen["amzn_trace_id"]) == (trace_id, invoke_span, True)
    assert seen["traceparent"] == f"00-{trace_id}-{invoke_span}-01"
    # ...and the event's headers the request's, as API Gateway's name its own segment.
    assert seen["headers"]["traceparent"] == f"00-{trace_id}-{ids(server)[1]}-01"
    assert xray_parent(seen["headers"]["x-amzn-trace-id"]) == (trace_id, ids(server)[1], True)


async def test_the_invoke_api_hands_its_span_to_a_handler_that_makes_its_own(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    answer = await client.post("/2015-03-31/functions/joined/invocations", content=b"{}")

    assert answer.status_code == 200, answer.text
    spans = by_name(exporter)
    server = spans["POST /2015-03-31/functions/{FunctionName}/invocations"]
    invoke = spans["invoke joined"]
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/2015-03-31/functions/{FunctionName}/invocations"
    assert parent_id(invoke) == ids(server)[1]
    trace_id, span_id = ids(invoke)
    # The parent the handler's own spans get, by AWS's propagator from _X_AMZN_TRACE_ID.
    assert answer.json() == {"trace_id": trace_id, "span_id": span_id, "sampled": True}


async def test_an_event_invocations_attempt_joins_the_trace_it_was_accepted_in(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    """The invocation is stored with the request's span; its attempt, run later by the
    queue (no span current), is that span's child, in the caller's trace."""
    answer = await client.post(
        "/2015-03-31/functions/joined/invocations",
        content=b"{}",
        headers={"traceparent": TRACEPARENT, "x-amz-invocation-type": "Event"},
    )
    assert answer.status_code == 202, answer.text

    await eventually(lambda: "invoke joined" in by_name(exporter))
    spans = by_name(exporter)
    server = spans["POST /2015-03-31/functions/{FunctionName}/invocations"]
    invoke = spans["invoke joined"]
    assert ids(server)[0] == CALLER_TRACE
    assert ids(invoke)[0] == CALLER_TRACE
    assert parent_id(invoke) == ids(server)[1]


async def test_a_run_its_steps_resources_and_function_calls_share_the_requests_trace(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    answer = await client.post(
        "/workflows/traced/runs",
        json={"resources": {"scratch": "@scratch"}},
        headers={"traceparent": TRACEPARENT},
    )

    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["status"] == "completed", run
    spans = by_name(exporter)
    server = spans["POST /workflows/{workflow_id}/runs"]
    root, inside, call = spans["run traced"], spans["step inside"], spans["step call"]
    acquire, invoke = spans["acquire resource scratch"], spans["invoke joined"]
    assert {ids(span)[0] for span in spans.values()} == {CALLER_TRACE}
    assert parent_id(root) == ids(server)[1]
    assert parent_id(inside) == parent_id(call) == ids(root)[1]
    assert parent_id(acquire) == ids(inside)[1]
    assert parent_id(invoke) == ids(call)[1]
    assert root.attributes is not None
    assert root.attributes["lockgate.run_id"] == run["run_id"]
    assert root.attributes["lockgate.run_status"] == "completed"
    # The step is handed its own span, which is the current one its own spans join.
    step_span = ids(inside)[1]
    assert run["result"]["inside"] == {
        "traceparent": f"00-{CALLER_TRACE}-{step_span}-01",
        "current_span_id": step_span,
    }
    # The function a step calls joins beneath the step's invocation span.
    assert run["result"]["call"] == {
        "trace_id": CALLER_TRACE,
        "span_id": ids(invoke)[1],
        "sampled": True,
    }


async def test_a_failed_invocation_marks_its_span(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    answer = await client.post("/2015-03-31/functions/missing/invocations", content=b"{}")

    assert answer.status_code == 404
    (server,) = exporter.get_finished_spans()
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 404
    assert server.status.status_code is StatusCode.UNSET  # a 4xx is the client's error


async def test_event_deliveries_are_children_of_the_span_that_published(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = _tracer(exporter)
    bus = EventBus(tracer=tracer)
    got: list[Any] = []
    delivered = asyncio.Event()

    async def handler(data: Any) -> None:
        got.append((data, get_current_span().get_span_context().span_id))
        delivered.set()

    bus.subscribe("order.placed", handler, "billing")
    await bus.start()
    try:
        with tracer.span("publish it") as publisher:
            bus.publish("order.placed", {"id": 7}, "orders")
        await asyncio.wait_for(delivered.wait(), 10)
    finally:
        await bus.stop()

    spans = by_name(exporter)
    deliver = spans["deliver order.placed"]
    assert deliver.kind is SpanKind.CONSUMER
    context = publisher.context()
    assert context is not None
    assert parent_id(deliver) == context.span_id
    assert deliver.attributes is not None
    assert deliver.attributes["messaging.destination.name"] == "order.placed"
    assert got == [({"id": 7}, deliver.context.span_id if deliver.context else 0)]


async def test_a_stored_events_deliveries_join_the_trace_it_was_published_in(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    """Delivered from the store by the outbox (no span current there), a durable event's
    delivery is still the publisher's child: its traceparent is stored with the event."""
    tracer = _tracer(exporter)
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    await store.open()
    bus = EventBus(store, tracer=tracer)
    delivered = asyncio.Event()

    async def handler(_: Any) -> None:
        delivered.set()

    bus.subscribe("order.placed", handler, "billing")
    await bus.start()
    try:
        with tracer.span("publish it") as publisher:
            await bus.publish("order.placed", {"id": 7}, "orders")
        await asyncio.wait_for(delivered.wait(), 10)
    finally:
        await bus.stop()
        await store.close()

    deliver = by_name(exporter)["deliver order.placed"]
    context = publisher.context()
    assert context is not None
    assert ids(deliver)[0] == context.trace_id
    assert parent_id(deliver) == context.span_id


@pytest.fixture
def untraced() -> Application:
    settings, config = load_settings(APP, run_store="memory://")
    return build(settings, config)


async def test_with_tracing_off_a_callers_traceparent_still_reaches_the_handler(
    untraced: Application,
) -> None:
    async with (
        untraced,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(create_app(untraced)),
            base_url="http://127.0.0.1:8000",
            timeout=30,
        ) as http,
    ):
        routed = await http.get("/trace/ada", headers={"traceparent": TRACEPARENT})
        invoked = await http.post(
            "/2015-03-31/functions/trace_ids/invocations",
            content=b"{}",
            headers={"traceparent": TRACEPARENT},
        )
        plain = await http.get("/trace/ada")

    for answer in (routed, invoked):
        assert answer.status_code == 200, answer.text
        seen = answer.json()
        assert xray_parent(seen["amzn_trace_id"]) == (CALLER_TRACE, CALLER_SPAN, True)
        assert seen["traceparent"] == TRACEPARENT
    assert routed.json()["headers"]["traceparent"] == TRACEPARENT
    assert xray_parent(routed.json()["headers"]["x-amzn-trace-id"]) == (
        CALLER_TRACE,
        CALLER_SPAN,
        True,
    )
    # An untraced invocation after a traced one on the same worker sees no stale trace:
    # a fresh, unsampled root of its own, as on Lambda, and no TRACEPARENT.
    root, _, sampled = xray_parent(plain.json()["amzn_trace_id"])
    assert (root != CALLER_TRACE, sampled) == (True, False)
    assert plain.json()["traceparent"] is None
    assert "x-amzn-trace-id" not in plain.json()["headers"]


def test_a_gateway_with_tracing_off_never_imports_opentelemetry() -> None:
    # The end-to-end tests' app: this one's workflow imports OpenTelemetry itself.
    app = Path(__file__).parents[1] / "e2e" / "app" / "lockgate.toml"
    script = (
        "import sys, json\n"
        "from lockgate.bootstrap import build\n"
        "from lockgate.config.settings import load_settings\n"
        "from lockgate.controllers.http.app import create_app\n"
        f"settings, config = load_settings({str(app)!r}, run_store='memory://')\n"
        "create_app(build(settings, config))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    imported = json.loads(done.stdout)
    # redis-py imports OpenTelemetry's metrics API when it is installed (its own, off by
    # default); the tracing SDK, its exporters and our adapter must stay out.
    assert [m for m in imported if m.startswith(("lockgate.gateways.tracing.otel",))] == []
    assert [
        m for m in imported if m.startswith(("opentelemetry.sdk.trace", "opentelemetry.exporter"))
    ] == []
