"""The AWS gateways against AWS behaviour moto cannot produce (throttling, error shapes,
statuses it never holds still), with botocore's Stubber on real boto3 clients. Backoff is
made tiny through the gateways' own arguments."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import boto3
import pytest
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lockgate.errors import (
    InvocationTimeoutError,
    JobRunnerError,
    RemoteInvocationError,
    TooManyRequestsError,
)
from lockgate.gateways.aws.batch_job_runner import AWSBatchJobRunner
from lockgate.gateways.aws.lambda_backend import AWSLambdaInvocationBackend
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import HandlerError, WorkerInvocation
from lockgate.models.job import JobDefinition, JobRun, JobStatus, JobStatusDetail

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:remote"
G = TypeVar("G")


def client(service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


@contextmanager
def stubbed(service: str, gateway: Callable[..., G]) -> Iterator[tuple[G, Stubber]]:
    """``gateway`` on a stubbed client of ``service``, with tiny backoff; every stubbed
    answer must have been asked for."""
    aws = client(service)
    with Stubber(aws) as stubber:
        yield gateway(aws, max_attempts=3, backoff_initial=0.001, backoff_max=0.002), stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def lambda_stub() -> Iterator[tuple[AWSLambdaInvocationBackend, Stubber]]:
    with stubbed("lambda", AWSLambdaInvocationBackend) as stub:
        yield stub


@pytest.fixture
def batch_stub() -> Iterator[tuple[AWSBatchJobRunner, Stubber]]:
    with stubbed("batch", AWSBatchJobRunner) as stub:
        yield stub


# --- AWS Lambda -----------------------------------------------------------------------------

FUNCTION = FunctionEntity(
    name="remote", backend="aws-lambda", aws_arn=ARN, timeout_seconds=30, aliases=("prod",)
)


def invocation(qualifier: str | None = None, client_context: str | None = None) -> WorkerInvocation:
    return WorkerInvocation(
        request_id="req-1",
        payload=b'{"n": 1}',
        deadline_epoch_ms=int((time.time() + 30) * 1000),
        invoked_function_arn=f"{ARN}:{qualifier}" if qualifier else ARN,
        client_context=client_context,
    )


def invoke_response(
    payload: bytes, function_error: str | None = None, logs: bytes = b""
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "StatusCode": 200,
        "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
        "ExecutedVersion": "$LATEST",
    }
    if function_error:
        response["FunctionError"] = function_error
    if logs:
        response["LogResult"] = base64.b64encode(logs).decode()
    return response


def expected_invoke(target: str = ARN, **extra: Any) -> dict[str, Any]:
    return {
        "FunctionName": target,
        "InvocationType": "RequestResponse",
        "LogType": "Tail",
        "Payload": b'{"n": 1}',
        **extra,
    }


def aws_error(
    stubber: Stubber, method: str, code: str, status: int = 400, message: str = "", **kw: Any
) -> None:
    """AWS answering ``method`` with error ``code`` (HTTP ``status``)."""
    stubber.add_client_error(
        method, service_error_code=code, service_message=message, http_status_code=status, **kw
    )


def throttle(stubber: Stubber, method: str, **modeled: str) -> None:
    aws_error(
        stubber,
        method,
        "TooManyRequestsException",
        429,
        "Rate exceeded",
        modeled_fields=modeled or None,
    )


def deadline() -> float:
    return time.monotonic() + FUNCTION.timeout_seconds


async def test_throttling_is_retried_until_it_succeeds(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    backend, stubber = lambda_stub
    throttle(stubber, "invoke")
    throttle(stubber, "invoke")
    stubber.add_response("invoke", invoke_response(b'"ok"'), expected_invoke())
    reply, cold = await backend.invoke(FUNCTION, invocation(), deadline())
    assert (reply.payload, reply.error, cold) == (b'"ok"', None, False)


async def test_throttling_that_never_ends_is_a_clear_429(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    backend, stubber = lambda_stub
    for _ in range(3):
        throttle(
            stubber, "invoke", retryAfterSeconds="7", Reason="ConcurrentInvocationLimitExceeded"
        )
    with pytest.raises(TooManyRequestsError) as caught:
        await backend.invoke(FUNCTION, invocation(), deadline())
    assert caught.value.retry_after == 7
    assert "kept throttling after 3 attempts" in caught.value.message
    assert "did not run" in caught.value.message


async def test_a_deadline_passing_while_backing_off_is_throttling_not_a_timeout() -> None:
    # The wait after the first throttle outlasts the deadline: nothing is with AWS when
    # it passes, so the caller is shed (429), not timed out.
    lambda_client = client("lambda")
    backend = AWSLambdaInvocationBackend(
        lambda_client, max_attempts=2, backoff_initial=60, backoff_max=60
    )
    with Stubber(lambda_client) as stubber:
        throttle(stubber, "invoke")
        with pytest.raises(TooManyRequestsError, match="could not be sent to AWS Lambda"):
            await backend.invoke(FUNCTION, invocation(), time.monotonic() + 1.0)
        stubber.assert_no_pending_responses()


async def test_a_handler_error_is_the_reply_with_its_logs(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    backend, stubber = lambda_stub
    error = {"errorMessage": "bad input", "errorType": "ValueError", "stackTrace": ["  File x"]}
    logs = b"START RequestId: r1\nboom\nREPORT RequestId: r1\tDuration: 12.50 ms\tBilled ...\n"
    stubber.add_response(
        "invoke", invoke_response(json.dumps(error).encode(), "Unhandled", logs), expected_invoke()
    )
    reply, _ = await backend.invoke(FUNCTION, invocation(), deadline())
    assert reply.error == HandlerError("bad input", "ValueError", ("  File x",))
    assert reply.payload == b""
    assert reply.logs == logs
    assert reply.duration_ms == 12.5


async def test_a_handler_error_that_is_not_json_is_kept_as_text(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    backend, stubber = lambda_stub
    stubber.add_response("invoke", invoke_response(b"Segmentation fault", "Unhandled"))
    reply, _ = await backend.invoke(FUNCTION, invocation(), deadline())
    assert reply.error == HandlerError("Segmentation fault", "Unhandled")


async def test_lambda_timing_the_function_out_is_a_timeout(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    backend, stubber = lambda_stub
    error = {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: r1 Error: Task timed out after 3.00 seconds",
    }
    stubber.add_response("invoke", invoke_response(json.dumps(error).encode(), "Unhandled"))
    with pytest.raises(InvocationTimeoutError, match=r"^Task timed out after 3\.00 seconds$"):
        await backend.invoke(FUNCTION, invocation(), deadline())


async def test_the_callers_qualifier_and_client_context_are_sent(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    backend, stubber = lambda_stub
    context = base64.b64encode(b'{"custom": {"a": 1}}').decode()
    stubber.add_response(
        "invoke", invoke_response(b"1"), expected_invoke(f"{ARN}:prod", ClientContext=context)
    )
    await backend.invoke(FUNCTION, invocation("prod", context), deadline())


async def test_a_pinned_arn_is_invoked_as_declared(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    backend, stubber = lambda_stub
    pinned = FunctionEntity(name="remote", backend="aws-lambda", aws_arn=f"{ARN}:blue")
    stubber.add_response("invoke", invoke_response(b"1"), expected_invoke(f"{ARN}:blue"))
    call = invocation()._replace(invoked_function_arn=pinned.arn)
    await backend.invoke(pinned, call, deadline())


async def refused(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber], code: str, status: int, message: str
) -> RemoteInvocationError:
    """What invoking raises when AWS refuses with ``code``."""
    backend, stubber = lambda_stub
    aws_error(stubber, "invoke", code, status, message)
    with pytest.raises(RemoteInvocationError) as caught:
        await backend.invoke(FUNCTION, invocation(), deadline())
    return caught.value


async def test_an_unexpected_error_keeps_aws_code_and_is_not_retried(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    error = await refused(
        lambda_stub,
        "KMSAccessDeniedException",
        502,
        "Lambda was unable to decrypt the environment variables",
    )
    assert error.remote_code == "KMSAccessDeniedException"
    assert error.retryable is False
    assert "unable to decrypt" in error.message
    assert ARN in error.message


async def test_an_error_that_echoes_the_payload_does_not_repeat_it(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    error = await refused(
        lambda_stub,
        "InvalidRequestContentException",
        400,
        "Could not parse request body into json: Unrecognized token 'hunter2'",
    )
    assert error.remote_code == "InvalidRequestContentException"
    assert "hunter2" not in error.message


async def test_a_function_being_updated_is_retryable(
    lambda_stub: tuple[AWSLambdaInvocationBackend, Stubber],
) -> None:
    error = await refused(
        lambda_stub,
        "ResourceConflictException",
        409,
        "The operation cannot be performed at this time.",
    )
    assert error.retryable is True


# --- AWS Batch ------------------------------------------------------------------------------

DEFINITION = JobDefinition(
    name="nightly",
    runner="aws-batch",
    command=("run", "Ref::day"),
    environment={"MODE": "full"},
    timeout_seconds=30,
    job_queue="queue",
    job_definition="definition:3",
)
SUBMITTED = JobRun(
    run_id="r1", job="nightly", parameters={"day": "mon"}, created_at=0.0, external_id="job-1"
)
EXPECTED_SUBMIT = {
    "jobName": "nightly-r1",
    "jobQueue": "queue",
    "jobDefinition": "definition:3",
    "parameters": {"day": "mon"},
    "containerOverrides": {
        "environment": [
            {"name": "MODE", "value": "full"},
            {"name": "JOB_ID", "value": "nightly"},
            {"name": "RUN_ID", "value": "r1"},
            {"name": "LOCKGATE_JOB_RUN_ID", "value": "r1"},
        ],
        "command": ["run", "Ref::day"],
    },
    "timeout": {"attemptDurationSeconds": 60},
}


def job(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "jobs": [
            {
                "jobName": "nightly-r1",
                "jobId": "job-1",
                "jobQueue": "queue",
                "status": status,
                "startedAt": 1,
                "jobDefinition": "definition:3",
                **fields,
            }
        ]
    }


def fresh_run() -> JobRun:
    return JobRun(run_id="r1", job="nightly", parameters={"day": "mon"}, created_at=0.0)


async def described(
    batch_stub: tuple[AWSBatchJobRunner, Stubber], response: dict[str, Any]
) -> JobStatusDetail:
    """``describe_run`` of the submitted run, AWS answering ``response``."""
    runner, stubber = batch_stub
    stubber.add_response("describe_jobs", response, {"jobs": ["job-1"]})
    return await runner.describe_run(SUBMITTED)


async def test_a_submission_throttled_then_accepted(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    runner, stubber = batch_stub
    throttle(stubber, "submit_job")
    stubber.add_response("submit_job", {"jobName": "nightly-r1", "jobId": "job-1"}, EXPECTED_SUBMIT)
    submitted = await runner.submit_run(DEFINITION, fresh_run())
    assert (submitted.external_id, submitted.status) == ("job-1", JobStatus.QUEUED)


async def test_a_submission_throttled_for_good_is_a_clear_retryable_error(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    runner, stubber = batch_stub
    for code in ("ThrottlingException", "TooManyRequestsException"):
        aws_error(stubber, "submit_job", code)
    aws_error(stubber, "submit_job", "Odd", 429)
    with pytest.raises(JobRunnerError, match=r"kept throttling .* after 3 attempts") as caught:
        await runner.submit_run(DEFINITION, fresh_run())
    assert caught.value.retryable is True


async def test_a_server_error_on_submission_is_not_repeated(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    # AWS may have created the job: a second submission could run it twice.
    runner, stubber = batch_stub
    aws_error(stubber, "submit_job", "ServerException", 500)
    with pytest.raises(JobRunnerError) as caught:
        await runner.submit_run(DEFINITION, fresh_run())
    assert caught.value.fields["aws_code"] == "ServerException"


async def test_a_server_error_on_describe_is_retried(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    _, stubber = batch_stub
    aws_error(stubber, "describe_jobs", "ServerException", 500)
    assert (await described(batch_stub, job("RUNNING"))).status is JobStatus.RUNNING


@pytest.mark.parametrize(
    ("aws_status", "status"),
    [
        ("SUBMITTED", JobStatus.QUEUED),
        ("PENDING", JobStatus.QUEUED),
        ("RUNNABLE", JobStatus.QUEUED),
        ("STARTING", JobStatus.QUEUED),
        ("RUNNING", JobStatus.RUNNING),
        ("SUCCEEDED", JobStatus.DONE),
    ],
)
async def test_batch_statuses_in_lockgate_words(
    batch_stub: tuple[AWSBatchJobRunner, Stubber], aws_status: str, status: JobStatus
) -> None:
    detail = await described(batch_stub, job(aws_status))
    assert (detail.status, detail.message) == (status, "")


async def test_a_failed_job_says_why_with_the_exit_code(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    failed = job(
        "FAILED",
        statusReason="Essential container in task exited",
        container={"exitCode": 137, "reason": "OutOfMemoryError: Container killed"},
    )
    detail = await described(batch_stub, failed)
    assert detail.status is JobStatus.ERROR
    assert detail.exit_code == 137
    assert detail.message == (
        "Essential container in task exited; container: OutOfMemoryError: Container killed; "
        "exit code 137"
    )


async def test_the_exit_code_of_the_last_attempt(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    failed = job(
        "FAILED",
        statusReason="Essential container in task exited",
        attempts=[{"container": {"exitCode": 1}}, {"container": {"exitCode": 2}}],
    )
    detail = await described(batch_stub, failed)
    assert (detail.exit_code, detail.message) == (
        2,
        "Essential container in task exited; exit code 2",
    )


async def test_an_unknown_batch_status_is_an_error_not_a_guess(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    with pytest.raises(JobRunnerError, match="HIBERNATING"):
        await described(batch_stub, job("HIBERNATING"))


async def test_an_unexpected_client_error_is_a_job_runner_error(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    runner, stubber = batch_stub
    aws_error(
        stubber,
        "terminate_job",
        "ClientException",
        message="Job job-1 belongs to another account",
        expected_params={"jobId": "job-1", "reason": "stop"},
    )
    with pytest.raises(JobRunnerError, match="belongs to another account") as caught:
        await runner.cancel_run(SUBMITTED, "stop")
    assert caught.value.retryable is False
    assert caught.value.fields["aws_code"] == "ClientException"


async def test_cancel_terminates_with_the_reason(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    runner, stubber = batch_stub
    stubber.add_response("terminate_job", {}, {"jobId": "job-1", "reason": "not needed"})
    await runner.cancel_run(SUBMITTED, "not needed")


async def test_describe_without_an_external_id_is_a_value_error(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    runner, _ = batch_stub
    with pytest.raises(ValueError, match=r"^Cannot describe run: external_id is None$"):
        await runner.describe_run(fresh_run())
    with pytest.raises(ValueError, match="external_id is None"):
        await runner.cancel_run(fresh_run(), "stop")


async def test_submissions_the_runner_must_refuse(
    batch_stub: tuple[AWSBatchJobRunner, Stubber],
) -> None:
    runner, _ = batch_stub
    with pytest.raises(ValueError, match="already submitted"):
        await runner.submit_run(DEFINITION, SUBMITTED)
    local = JobDefinition(name="nightly", command=("true",))
    with pytest.raises(ValueError, match="not 'aws-batch'"):
        await runner.submit_run(local, fresh_run())
    other = JobRun(run_id="r2", job="weekly", parameters={}, created_at=0.0)
    with pytest.raises(ValueError, match="of job 'weekly'"):
        await runner.submit_run(DEFINITION, other)
