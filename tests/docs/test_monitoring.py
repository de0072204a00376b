"""``docs/how-to/monitoring.md`` and the dashboard it ships, ``docs/dashboards/lockgate.json``:
the file is a Grafana dashboard (valid JSON, the shape Grafana imports, one data source
variable), and every metric that a panel's query, a template variable or an alert on the
page names is one that a real ``lockgate serve`` exports on ``/metrics``, once functions,
workflows, events and module calls have run (``examples/hello``, plus a failing and a slow
function)."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.docs.pages import ROOT, blocks
from tests.docs.support import PageRun
from tests.e2e.gateway_process import GatewayProcess

PAGE = "docs/how-to/monitoring.md"
DASHBOARD = ROOT / "docs" / "dashboards" / "lockgate.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# PromQL words that are not metric names: aggregations, functions are dropped by their "(".
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MODIFIER = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:])")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: strings, label matchers, range and
    subquery brackets, grouping clauses, functions and keywords removed."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # [5m], [$__rate_interval], subqueries
    text = _MODIFIER.sub(" ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables outside brackets
    names: set[str] = set()
    for match in _NAME.finditer(text):
        word = match.group()
        if text[match.start() - 1 : match.start()].isdigit():
            continue  # the "e" of 1e3, a unit of 5m
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation: sum(, rate(, histogram_quantile(
        if word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            "histogram_quantile(0.95, sum by (le, function) (rate(lockgate_invocation_duration"
            '_seconds_bucket{function=~"$function", le!="+Inf"}[$__rate_interval])))',
            {"lockgate_invocation_duration_seconds_bucket"},
        ),
        (
            'sum by (function) (rate(a_total{outcome!="success"}[5m])) / ignoring (outcome) '
            "sum without (x) (b_total offset 1h) > bool 0.05",
            {"a_total", "b_total"},
        ),
        (
            'max(c{state="open"}) == 1 and on (function) d:recorded unless e',
            {"c", "d:recorded", "e"},
        ),
        ("increase(f_total{outcome='dead'}[$__range]) > 1e3", {"f_total"}),
    ],
)
def test_metric_names_are_read_out_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # a collapsed row keeps its panels inside
    return found


def queries(board: dict[str, Any]) -> dict[str, str]:
    """Every PromQL expression of the dashboard, by where it is."""
    found = {
        f"panel {panel['title']!r} {target['refId']}": target["expr"]
        for panel in panels(board)
        for target in panel.get("targets", [])
    }
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["query"]["query"])
            assert match, f"variable {variable['name']}: expected label_values(metric, label)"
            found[f"variable {variable['name']}"] = match.group(1)
    return found


def alerts() -> dict[str, str]:
    """The ``expr`` of every alert rule the page suggests."""
    found: dict[str, str] = {}
    for block in blocks(PAGE):
        if block.language == "yaml" and "rules:" in block.text:
            for name, expr in re.findall(
                r"- alert: (\w+)\n\s+expr: (>\n(?:\s{10}.*\n)+|.*\n)", block.text
            ):
                found[f"alert {name}"] = " ".join(expr.removeprefix(">").split())
    assert found, "the page suggests no alert rules any more: update this test"
    return found


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    board = dashboard()
    assert board["uid"] == "lockgate-overview"
    assert board["title"] == "Lockgate"
    assert isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(board):
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert metric_names(target["expr"]), f"{panel['title']}: no metric in its query"
    # Every pillar has its row.
    rows = {panel["title"] for panel in board["panels"] if panel["type"] == "row"}
    assert rows == {"Functions", "Pools and queues", "Workflows", "Events and modules"}


EXTRA_FUNCTIONS = """
[functions.fails]
handler = "monitored:fails"

[functions.slow]
handler = "monitored:slow"
timeout = 1
"""

MONITORED = """\
import time


def fails(event, context):
    raise ValueError("fails on purpose")


def slow(event, context):
    time.sleep(30)
"""


def exercise(gateway: GatewayProcess) -> None:
    """Calls that make every family have samples: invocations that succeed, fail and time
    out, an Event invocation, workflow runs (one calls a module, which publishes an event)."""
    with httpx.Client(base_url=gateway.url, headers=gateway.admin_headers, timeout=60) as http:
        invoke = "/2015-03-31/functions/{}/invocations"
        assert http.post(invoke.format("echo"), json={"a": 1}).status_code == 200
        for name in ("fails", "slow"):
            answer = http.post(invoke.format(name), json={})
            assert answer.headers["x-amz-function-error"] == "Unhandled"
        queued = http.post(
            invoke.format("echo"), json={}, headers={"X-Amz-Invocation-Type": "Event"}
        )
        assert queued.status_code == 202
        users = [{"id": 1, "name": "ann", "status": "active"}]
        for workflow, parameters in (
            ("pipeline", {"users": users}),
            ("schedule_session", {"patient_id": 1, "therapist_id": 2}),
        ):
            run = http.post(f"/workflows/{workflow}/runs", json={"parameters": parameters})
            assert run.json()["status"] == "completed", run.text


def scrape(gateway: GatewayProcess) -> dict[str, set[str]]:
    """Every sample name ``/metrics`` has now, with the labels it carries."""
    text = httpx.get(f"{gateway.url}/metrics", headers=gateway.admin_headers, timeout=30).text
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


def test_every_query_names_a_metric_that_metrics_exports(tmp_path: Path) -> None:
    app = tmp_path / "hello"
    shutil.copytree(
        ROOT / "examples" / "hello", app, ignore=shutil.ignore_patterns("__pycache__", ".lockgate")
    )
    (app / "monitored.py").write_text(MONITORED)
    with (app / "lockgate.toml").open("a") as config:
        config.write(EXTRA_FUNCTIONS)
    expressions = {**queries(dashboard()), **alerts()}
    wanted = {name: where for where, expr in expressions.items() for name in metric_names(expr)}
    with GatewayProcess(app / "lockgate.toml") as gateway:
        exercise(gateway)
        # The Event invocation and the event's delivery finish in the background.
        guard = time.monotonic() + 60
        while missing := set(wanted) - set(samples := scrape(gateway)):
            assert time.monotonic() < guard, {name: wanted[name] for name in sorted(missing)}
            time.sleep(0.1)
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            metric, label = re.findall(r"\w+", variable["query"]["query"])[1:3]
            assert label in samples[metric], f"{metric} has no {label} label"
    for name in wanted:
        if name.endswith(("_bucket", "_sum", "_count")):
            assert f"{name.rsplit('_', 1)[0]}_bucket" in samples, f"{name}: not a histogram"
    assert "le" in samples["lockgate_invocation_duration_seconds_bucket"]


def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path) as page:
        assert page.blocks == []  # Prometheus and Grafana settings only: nothing to run here
        page.done()
