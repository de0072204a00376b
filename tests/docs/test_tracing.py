"""``docs/how-to/tracing.md`` runs as written: the handler that makes its own span, the
traced gateway (its endpoint pointed at a collector on loopback), and the request whose
trace the handler joins; the collector gets the spans the page draws."""

from __future__ import annotations

import json
from pathlib import Path

from tests.docs.support import PageRun
from tests.otlp_receiver import OtlpReceiver

PAGE = "docs/how-to/tracing.md"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with OtlpReceiver() as collector, PageRun(PAGE, tmp_path) as page:
        page.save("handlers.py")
        config = page.toml()
        # The page's collector is on the usual port; the test's on a free one.
        text = config.read_text()
        assert "http://127.0.0.1:4318/v1/traces" in text
        config.write_text(text.replace("http://127.0.0.1:4318/v1/traces", collector.endpoint))
        page.sh()  # lockgate serve
        answer = json.loads(page.sh().stdout)
        page.done()
        assert page.gateway is not None
        page.gateway.stop()  # stopping flushes the spans
        spans = {span.name: span for span in collector.spans()}

    assert answer["message"] == "hello ada"
    assert answer["trace_id"] == TRACE
    server, invoke = spans["GET /hello/{name}"], spans["invoke hello"]
    assert server.service == "edge-gateway"
    assert server.trace_id == invoke.trace_id == TRACE
    assert invoke.parent_span_id == server.span_id
    assert answer["_X_AMZN_TRACE_ID"] == (
        f"Root=1-{TRACE[:8]}-{TRACE[8:]};Parent={invoke.span_id};Sampled=1"
    )
    assert answer["traceparent"] == f"00-{TRACE}-{server.span_id}-01"
    assert server.attributes["http.route"] == "/hello/{name}"
    assert invoke.attributes["faas.trigger"] == "http"
