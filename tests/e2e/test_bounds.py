"""Nothing grows without bound by default: a function's queue of ``Event`` invocations is
capped (``async_max_queued``; boto3 then raises ``TooManyRequestsException``), and finished
runs are kept 7 days unless told otherwise."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lockgate.config.settings import Settings
from tests.e2e.access_support import config
from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.lambda_support import lambda_client_for

SLOW = """
[functions.slow]
handler = "handlers:sleeps"
timeout = 60
code_dir = {code}
[functions.slow.scaling]
max_capacity = 1
"""


def test_a_full_event_queue_answers_too_many_requests(tmp_path: Path) -> None:
    from tests.e2e.gateway_process import APP_DIR  # noqa: PLC0415

    path = config(tmp_path, SLOW.format(code=json.dumps(str(APP_DIR))))
    env = {"LOCKGATE_ASYNC_MAX_QUEUED": "2"}
    with GatewayProcess(path, env=env) as gateway, closing(lambda_client_for(gateway.url)) as lam:
        payload = json.dumps({"seconds": 30}).encode()
        for _ in range(2):  # one running, one waiting: both still queued
            accepted = lam.invoke(FunctionName="slow", InvocationType="Event", Payload=payload)
            assert accepted["StatusCode"] == 202
        # Only the parsed answer is kept: the exception's frames would hold the connection.
        error: dict[str, Any] = {}
        try:
            lam.invoke(FunctionName="slow", InvocationType="Event", Payload=payload)
        except ClientError as exc:
            error = dict(exc.response)
        assert error["Error"]["Code"] == "TooManyRequestsException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert "async_max_queued" in error["Error"]["Message"]
        assert error["Reason"] == "EventQueueFull"
        assert error["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
        # Another function's queue is its own.
        other = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")
        assert other["StatusCode"] == 202


def test_finished_runs_are_kept_seven_days_by_default() -> None:
    assert Settings().run_retention == 7 * 24 * 3600
    assert Settings().async_max_queued == 100_000
