"""``lockgate serve`` with ``[tracing]`` exporting over OTLP/HTTP to a receiver on loopback:
the spans arrive as protobuf, under the configured service name, one trace from the caller's
``traceparent`` down to the invocation."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.gateway_process import GatewayProcess
from tests.otlp_receiver import OtlpReceiver

APP = Path(__file__).parents[1] / "integration" / "tracing_app"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_a_served_gateway_exports_its_spans_to_an_otlp_collector(tmp_path: Path) -> None:
    with OtlpReceiver() as collector:
        config = tmp_path / "lockgate.toml"
        config.write_text(
            (APP / "lockgate.toml").read_text()
            + f'\n[tracing]\nenabled = true\nservice_name = "edge-gateway"\n'
            f'endpoint = "{collector.endpoint}"\n'
        )
        for name in ("handlers.py", "traced_workflows.py"):
            (tmp_path / name).write_text((APP / name).read_text())
        with GatewayProcess(config) as gateway:
            answer = httpx.post(
                f"{gateway.url}/2015-03-31/functions/joined/invocations",
                content=b"{}",
                headers={"traceparent": f"00-{TRACE}-{CALLER_SPAN}-01"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
        # Stopping flushed the batch: every span is in by now.
        spans = {span.name: span for span in collector.spans()}

    assert collector.requests
    assert {path for path, _ in collector.requests} == {"/v1/traces"}
    assert {kind for _, kind in collector.requests} == {"application/x-protobuf"}
    server = spans["POST /2015-03-31/functions/{FunctionName}/invocations"]
    invoke = spans["invoke joined"]
    assert server.service == invoke.service == "edge-gateway"
    assert server.trace_id == invoke.trace_id == TRACE
    assert server.parent_span_id == CALLER_SPAN
    assert invoke.parent_span_id == server.span_id
    assert server.attributes["http.response.status_code"] == 200
    assert invoke.attributes["faas.invoked_name"] == "joined"
    # The handler's own spans would be children of the exported invocation span.
    assert answer.json() == {"trace_id": TRACE, "span_id": invoke.span_id, "sampled": True}
