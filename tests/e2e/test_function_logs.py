"""Function output in the gateway's log and in ``lockgate logs``, through a real
``lockgate serve`` (``tests/e2e/logs_app``).

Every wait is for a condition with a generous guard, never for a time: the long handler
(``gated``) blocks on a file the test creates only after it has seen the first line, so a
line seen before then was, by construction, logged while the invocation ran.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from mypy_boto3_lambda import LambdaClient
from typer.testing import CliRunner, Result

from lockgate.controllers.cli.main import app
from tests.e2e.gateway_process import GatewayProcess
from tests.support import wait_for, wait_until

APP_DIR = Path(__file__).parent / "logs_app"
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>\S+) "
    r"\[(?P<request_id>[^\]]*)\](?P<stderr> stderr)?: (?P<message>.*)$"
)
runner = CliRunner()


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess(APP_DIR / "lockgate.toml", env={"LOCKGATE_LOG_LEVEL": "INFO"}) as running:
        yield running


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway with JSON logs, no access log and ten function lines a second."""
    folder = tmp_path_factory.mktemp("limited")
    config = folder / "lockgate.toml"
    config.write_text(
        "[gateway]\n"
        "access_log = false\n"
        "function_log_rate = 10\n"
        "function_log_lines = 1000\n"
        "shutdown_grace = 5\n"
        + "".join(
            f'[functions.{name}]\nhandler = "handlers:{name}"\ncode_dir = "{APP_DIR}"\n'
            for name in ("speak", "many")
        )
        + '[[routes]]\nmethod = "GET"\npath = "/speak"\nfunction = "speak"\n'
    )
    env = {"LOCKGATE_LOG_LEVEL": "INFO", "LOCKGATE_LOG_FORMAT": "json"}
    with GatewayProcess(config, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def lambda_client(gateway: GatewayProcess) -> Iterator[LambdaClient]:
    config = Config(retries={"total_max_attempts": 1}, read_timeout=120, connect_timeout=10)
    client: LambdaClient = boto3.client(
        "lambda",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    )
    yield client
    client.close()


def marker() -> str:
    return uuid.uuid4().hex[:12]


def text_lines(gateway: GatewayProcess) -> list[dict[str, str]]:
    """The gateway's log lines in the text format, parsed (other output left out)."""
    found = []
    for raw in gateway.read_output().decode(errors="replace").splitlines():
        if match := TEXT_LINE.match(raw):
            found.append({k: v or "" for k, v in match.groupdict().items()})
    return found


def wait_for_lines(
    gateway: GatewayProcess, keep: Callable[[dict[str, str]], bool], what: str, count: int = 1
) -> list[dict[str, str]]:
    return wait_for(
        lambda: [line for line in text_lines(gateway) if keep(line)],
        lambda lines: len(lines) >= count,
        guard=60,
        what=what,
    )


def of_request(request_id: str) -> Callable[[dict[str, str]], bool]:
    return lambda line: line["request_id"] == request_id and line["logger"].startswith("function.")


def lockgate(gateway: GatewayProcess, *args: str) -> Result:
    result = runner.invoke(app, [*args, "--url", gateway.url, "--token", gateway.admin_token])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"lockgate {' '.join(args)} raised") from result.exception
    return result


class Follower:
    """``lockgate logs [FUNCTION] --follow`` as a real process, its output read as it comes."""

    def __init__(self, gateway: GatewayProcess, *args: str) -> None:
        self.lines: list[str] = []
        self._process = subprocess.Popen(
            [sys.executable, "-m", "lockgate", "logs", *args, "--follow", "--url", gateway.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LOCKGATE_TOKEN": gateway.admin_token},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def wait_for(self, text: str) -> None:
        wait_until(
            lambda: any(text in line for line in self.lines),
            guard=60,
            what=f"{text!r} from lockgate logs --follow (got {self.lines!r}, "
            f"exit {self._process.poll()})",
        )

    def stop(self) -> int:
        """Ctrl-C it; its exit code."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._reader.join(10)
        assert self._process.stdout is not None
        self._process.stdout.close()
        return self._process.returncode


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    return tmp_path / "gate"


def test_stdout_and_stderr_lines_carry_the_function_and_the_responses_request_id(
    gateway: GatewayProcess,
) -> None:
    mark = marker()
    response = httpx.get(f"{gateway.url}/speak", params={"marker": mark}, timeout=60)
    assert response.status_code == 200
    request_id = response.headers["apigw-requestid"]
    assert response.json() == {"request_id": request_id}  # context.aws_request_id agrees
    lines = wait_for_lines(gateway, of_request(request_id), "the REPORT line", count=5)
    assert {line["logger"] for line in lines} == {"function.speak"}
    assert [(line["message"].split(" RequestId")[0], line["stderr"]) for line in lines] == [
        ("START", ""),
        (f"to stdout {mark}", ""),
        (f"to stderr {mark}", " stderr"),
        ("END", ""),
        ("REPORT", ""),
    ]
    assert lines[0]["message"] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[-1]["message"].startswith(f"REPORT RequestId: {request_id}\tDuration: ")


def test_the_invoke_apis_request_id_tags_the_lines(
    gateway: GatewayProcess, lambda_client: LambdaClient
) -> None:
    mark = marker()
    response = lambda_client.invoke(FunctionName="speak", Payload=json.dumps({"marker": mark}))
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert json.loads(response["Payload"].read()) == {"request_id": request_id}
    lines = wait_for_lines(gateway, of_request(request_id), "the REPORT line", count=5)
    assert f"to stdout {mark}" in [line["message"] for line in lines]


def test_a_raising_handler_logs_its_traceback_and_the_exception(gateway: GatewayProcess) -> None:
    mark = marker()
    response = httpx.get(f"{gateway.url}/fail", params={"marker": mark}, timeout=60)
    assert response.status_code == 502
    request_id = response.headers["apigw-requestid"]
    lines = wait_for_lines(gateway, of_request(request_id), "the REPORT line", count=5)
    messages = [line["message"] for line in lines]
    assert f"about to fail {mark}" in messages
    stderr = [line["message"] for line in lines if line["stderr"]]
    assert stderr[0] == "Traceback (most recent call last):"
    assert stderr[-1] == "ValueError: boom"
    assert any('raise ValueError("boom")' in text for text in stderr)
    [summary] = wait_for_lines(
        gateway,
        lambda line: line["request_id"] == request_id and line["level"] == "WARNING",
        "the 502 line",
    )
    assert summary["message"] == "function fail raised ValueError: boom; answering 502"


def test_a_long_invocations_first_line_is_logged_and_followed_before_it_ends(
    gateway: GatewayProcess, gate: Path
) -> None:
    follower = Follower(gateway, "gated")
    try:
        # The follower is listening once a line made after it started reaches it.
        ready = marker()
        httpx.get(f"{gateway.url}/gated", params={"marker": ready, "gate": "/"}, timeout=60)
        follower.wait_for(f"second line {ready}")
        mark = marker()
        with ThreadPoolExecutor(1) as pool:
            call: Future[httpx.Response] = pool.submit(
                httpx.get,
                f"{gateway.url}/gated",
                params={"marker": mark, "gate": str(gate)},
                timeout=120,
            )
            [first] = wait_for_lines(
                gateway, lambda line: line["message"] == f"first line {mark}", "the first line"
            )
            follower.wait_for(f"first line {mark}")
            # The handler cannot finish before the gate opens: all this happened while it ran.
            assert not call.done()
            request_id = first["request_id"]
            so_far = [
                line["message"] for line in text_lines(gateway) if of_request(request_id)(line)
            ]
            assert so_far[0].startswith(f"START RequestId: {request_id}")
            assert not any(text.startswith("END RequestId") for text in so_far)
            gate.touch()
            response = call.result(timeout=120)
        assert response.status_code == 200
        assert response.json() == {"gate": "opened"}
        assert response.headers["apigw-requestid"] == request_id
        lines = wait_for_lines(gateway, of_request(request_id), "the REPORT line", count=5)
        assert [line["message"].split(" RequestId")[0] for line in lines] == [
            "START",
            f"first line {mark}",
            f"second line {mark}",
            "END",
            "REPORT",
        ]
        follower.wait_for(f"REPORT RequestId: {request_id}")
        assert follower.stop() == 130  # Ctrl-C: interrupted, as shells report it
        followed = [line for line in follower.lines if request_id in line]
        assert [line.split(f"{request_id} ", 1)[1].split(" RequestId")[0] for line in followed] == [
            "START",
            f"first line {mark}",
            f"second line {mark}",
            "END",
            "REPORT",
        ]
    finally:
        follower.stop()


def test_log_type_tail_holds_the_whole_log_of_a_long_invocation(
    gateway: GatewayProcess, lambda_client: LambdaClient, gate: Path
) -> None:
    mark = marker()
    payload = json.dumps({"marker": mark, "gate": str(gate)})
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(
            lambda_client.invoke, FunctionName="gated", Payload=payload, LogType="Tail"
        )
        wait_for_lines(
            gateway, lambda line: line["message"] == f"first line {mark}", "the first line"
        )
        assert not call.done()
        gate.touch()
        response = call.result(timeout=120)
    assert json.loads(response["Payload"].read()) == {"gate": "opened"}
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    tail = base64.b64decode(response["LogResult"]).decode().splitlines()
    assert [line.split(" RequestId")[0] for line in tail] == [
        "START",
        f"first line {mark}",
        f"second line {mark}",
        "END",
        "REPORT",
    ]
    assert tail[0] == f"START RequestId: {request_id} Version: $LATEST"


def test_the_access_log_has_one_line_per_request_with_status_and_request_id(
    gateway: GatewayProcess,
) -> None:
    response = httpx.get(
        f"{gateway.url}/speak", params={"marker": "x", "api_key": "query-secret"}, timeout=60
    )
    request_id = response.headers["apigw-requestid"]
    [line] = wait_for_lines(
        gateway,
        lambda line: line["logger"] == "lockgate.access" and line["request_id"] == request_id,
        "the access line",
    )
    assert re.fullmatch(r"GET /speak 200 \d+\.\d\d ms \(gateway \d+(\.\d+)? ms\)", line["message"])
    assert "query-secret" not in gateway.read_output().decode()
    missing = httpx.get(f"{gateway.url}/nowhere", timeout=60)
    assert missing.status_code == 404
    wait_for_lines(
        gateway,
        lambda line: (
            line["logger"] == "lockgate.access" and line["message"].startswith("GET /nowhere 404 ")
        ),
        "the 404's access line",
    )


def test_a_line_break_in_the_path_cannot_forge_a_log_line(gateway: GatewayProcess) -> None:
    forged = f"forged-{marker()}"
    response = httpx.get(f"{gateway.url}/speak%0A{forged}%20INFO%20x%20[-]:%20hi", timeout=60)
    assert response.status_code == 404
    [line] = wait_for_lines(
        gateway,
        lambda line: line["logger"] == "lockgate.access" and forged in line["message"],
        "the access line",
    )
    assert line["message"].startswith("GET /speak\\n" + forged)
    assert not any(raw.startswith(forged) for raw in gateway.read_output().decode().splitlines())


def test_logs_cli_prints_a_functions_lines(gateway: GatewayProcess) -> None:
    mark = marker()
    request_id = httpx.get(f"{gateway.url}/speak", params={"marker": mark}, timeout=60).headers[
        "apigw-requestid"
    ]
    result = lockgate(gateway, "logs", "speak")
    assert result.exit_code == 0, result.output
    mine = [line for line in result.stdout.splitlines() if request_id in line]
    assert [line.split(f"{request_id} ", 1)[1].split(" RequestId")[0] for line in mine] == [
        "START",
        f"to stdout {mark}",
        f"to stderr {mark}",
        "END",
        "REPORT",
    ]
    # Every function's: each line names its function.
    every = lockgate(gateway, "logs")
    assert every.exit_code == 0, every.output
    assert f"speak {request_id} to stdout {mark}" in every.stdout


def test_logs_cli_request_id_json_and_since(gateway: GatewayProcess) -> None:
    marks = [marker(), marker()]
    ids = [
        httpx.get(f"{gateway.url}/speak", params={"marker": m}, timeout=60).headers[
            "apigw-requestid"
        ]
        for m in marks
    ]
    result = lockgate(gateway, "logs", "speak", "--request-id", ids[0], "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(text) for text in result.stdout.splitlines()]
    assert {line["request_id"] for line in lines} == {ids[0]}
    assert [(line["stream"], line["message"]) for line in lines[1:3]] == [
        ("stdout", f"to stdout {marks[0]}"),
        ("stderr", f"to stderr {marks[0]}"),
    ]
    assert {line["function"] for line in lines} == {"speak"}
    assert lines[0]["stream"] == lines[-1]["stream"] == "platform"
    # --since: a line's own time keeps it and everything after; a minute ago keeps all.
    start = next(line["time"] for line in lines)
    later = lockgate(gateway, "logs", "speak", "--since", str(start), "--json")
    seen = {json.loads(text)["request_id"] for text in later.stdout.splitlines()}
    assert set(ids) <= seen
    future = lockgate(gateway, "logs", "speak", "--since", "2999-01-01T00:00:00Z", "--json")
    assert future.exit_code == 0
    assert future.stdout == ""
    recent = lockgate(gateway, "logs", "speak", "--since", "10m", "--limit", "3", "--json")
    assert [
        json.loads(text)["message"].split(" RequestId")[0] for text in recent.stdout.splitlines()
    ] == [
        f"to stderr {marks[1]}",
        "END",
        "REPORT",
    ]


def test_logs_cli_refuses_an_unknown_function_and_a_bad_since(gateway: GatewayProcess) -> None:
    unknown = lockgate(gateway, "logs", "no-such-function")
    assert unknown.exit_code == 2
    assert "no-such-function" in unknown.output
    bad = lockgate(gateway, "logs", "speak", "--since", "last tuesday")
    assert bad.exit_code == 2
    assert "since" in bad.output


def test_the_logs_api_needs_an_operator(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.url}/functions/speak/logs", timeout=60).status_code == 401
    assert httpx.get(f"{gateway.url}/functions/logs", timeout=60).status_code == 401


def test_json_logs_parse_and_carry_the_function_fields(limited: GatewayProcess) -> None:
    response = httpx.get(f"{limited.url}/speak", params={"marker": "json"}, timeout=60)
    request_id = response.headers["apigw-requestid"]

    def entries() -> list[dict[str, Any]]:
        text = limited.read_output().decode()
        return [json.loads(raw) for raw in text.splitlines() if raw.strip()]

    mine = wait_for(
        lambda: [e for e in entries() if e.get("request_id") == request_id],
        lambda found: any(e["message"].startswith("REPORT") for e in found),
        guard=60,
        what="the REPORT line",
    )
    for entry in entries():  # every line of the gateway's output, not only these
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    stderr = next(e for e in mine if e["message"] == "to stderr json")
    assert stderr == {
        "time": stderr["time"],
        "level": "info",
        "logger": "function.speak",
        "message": "to stderr json",
        "function": "speak",
        "request_id": request_id,
        "stream": "stderr",
    }
    # access_log = false in [gateway]: the request left no access line.
    assert not [e for e in entries() if e["logger"] == "lockgate.access"]


def test_the_rate_limit_keeps_the_log_short_and_lockgate_logs_whole(
    limited: GatewayProcess,
) -> None:
    mark = marker()
    httpx.post(
        f"{limited.url}/2015-03-31/functions/many/invocations",
        json={"marker": mark},
        timeout=60,
    ).raise_for_status()

    def entries() -> list[dict[str, Any]]:
        text = limited.read_output().decode()
        return [json.loads(raw) for raw in text.splitlines() if raw.strip()]

    def many_lines() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        mine = [e for e in entries() if e["logger"] == "function.many"]
        logged = [e for e in mine if e["level"] == "info"]
        return logged, [e for e in mine if e["level"] == "warning"]

    # Each of the 103 lines (a hundred, START, END, REPORT) is logged or counted by a
    # warning (one, or more if the output came in pieces spread over a second).
    logged, warnings = wait_for(
        many_lines,
        lambda found: found[1] and len(found[0]) + sum(w["dropped"] for w in found[1]) == 103,
        guard=60,
        what="every line logged or counted as dropped",
    )
    assert 1 <= len(logged) <= 20
    for warning in warnings:
        assert re.fullmatch(
            r"\d+ lines dropped from the log \(over 10 lines/s\); "
            r"`lockgate logs many` shows the latest",
            warning["message"],
        )
    result = lockgate(limited, "logs", "many", "--json")
    assert result.exit_code == 0, result.output
    printed = [
        json.loads(text)["message"]
        for text in result.stdout.splitlines()
        if mark in json.loads(text)["message"]
    ]
    assert printed == [f"line {n} {mark}" for n in range(100)]
