"""``AWSBatchJobRunner`` against moto's Batch, a real HTTP server on loopback.

moto's simple Batch backend (``use_docker: false``) is used throughout: it finishes a job as
it is submitted, SUCCEEDED, or FAILED (with no reason) while ``MOTO_SIMPLE_BATCH_FAIL_AFTER``
is set; ``terminate_job`` then sets the job's status reason. The Docker backend would walk a
job through SUBMITTED/PENDING/RUNNABLE/STARTING/RUNNING on a thread, then fail it (no Docker
daemon here), but in this process it leaks a ``curl`` pipe and a Docker socket per job (it
believes it runs in a container), which fail the tests as unraisable ResourceWarnings. The
states moto cannot hold still (RUNNABLE, STARTING, a container's exit code and reason) are
covered with botocore's Stubber in ``tests/unit/test_aws_gateways_stubbed.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from lockgate.errors import JobRunnerError
from lockgate.gateways.aws.batch_job_runner import AWSBatchJobRunner
from lockgate.gateways.interfaces import IJobRunner
from lockgate.models.job import JobDefinition, JobRun, JobStatus
from tests.moto_server import MotoServer, moto_server
from tests.servers import free_port

__all__ = ["moto_server"]

_names = itertools.count(1)


@pytest.fixture
def batch_definition(moto_server: MotoServer) -> JobDefinition:
    queue, job_definition = moto_server.create_batch_queue(f"lockgate{next(_names)}")
    return JobDefinition(
        name="nightly",
        runner="aws-batch",
        command=("echo", "Ref::day"),
        environment={"MODE": "full"},
        timeout_seconds=90,
        job_queue=queue,
        job_definition=job_definition,
    )


@pytest.fixture
async def runner(moto_server: MotoServer) -> AsyncIterator[AWSBatchJobRunner]:
    gateway = AWSBatchJobRunner(
        moto_server.client("batch"), backoff_initial=0.001, backoff_max=0.002
    )
    yield gateway
    await gateway.close()


def new_run(run_id: str = "0001", **parameters: str) -> JobRun:
    return JobRun(run_id=run_id, job="nightly", parameters=parameters, created_at=0.0)


@pytest.fixture
def failing_jobs(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_server.configure(batch={"use_docker": False})
    # Read by the simple backend (in this process) on each submission: fail at once.
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")


async def test_a_job_is_submitted_as_declared_and_succeeds(
    moto_server: MotoServer, runner: AWSBatchJobRunner, batch_definition: JobDefinition
) -> None:
    assert isinstance(runner, IJobRunner)
    moto_server.configure(batch={"use_docker": False})
    run = new_run("0190aa.bb", day="monday")
    submitted = await runner.submit_run(batch_definition, run)
    assert submitted.external_id is not None
    assert submitted.status is JobStatus.QUEUED
    assert (submitted.run_id, submitted.parameters) == (run.run_id, run.parameters)

    job = moto_server.client("batch").describe_jobs(jobs=[submitted.external_id])["jobs"][0]
    assert job["jobName"] == "nightly-0190aa_bb"  # '.' is not allowed in a Batch job name
    assert job["parameters"]["day"] == "monday"
    assert job["container"]["command"] == ["echo", "Ref::day"]
    environment = {item["name"]: item["value"] for item in job["container"]["environment"]}
    assert environment["MODE"] == "full"
    assert environment["JOB_ID"] == "nightly"
    assert environment["RUN_ID"] == environment["LOCKGATE_JOB_RUN_ID"] == "0190aa.bb"
    assert job["timeout"] == {"attemptDurationSeconds": 90}

    detail = await runner.describe_run(submitted)
    assert detail.status is JobStatus.DONE


@pytest.mark.usefixtures("failing_jobs")
async def test_a_job_that_fails_is_an_error(
    runner: AWSBatchJobRunner, batch_definition: JobDefinition
) -> None:
    submitted = await runner.submit_run(batch_definition, new_run("0002"))
    detail = await runner.describe_run(submitted)
    assert detail.status is JobStatus.ERROR
    assert detail.message == "AWS Batch reported FAILED without a reason"


@pytest.mark.usefixtures("failing_jobs")
async def test_a_terminated_job_is_an_error_with_the_reason(
    runner: AWSBatchJobRunner, batch_definition: JobDefinition
) -> None:
    submitted = await runner.submit_run(batch_definition, new_run())
    await runner.cancel_run(submitted, "the operator stopped it")
    detail = await runner.describe_run(submitted)
    assert detail.status is JobStatus.ERROR
    assert detail.message == "the operator stopped it"


async def test_a_job_aws_does_not_know(runner: AWSBatchJobRunner) -> None:
    run = JobRun(
        run_id="0003", job="nightly", parameters={}, created_at=0.0, external_id="no-such-job"
    )
    with pytest.raises(JobRunnerError, match="does not know job no-such-job"):
        await runner.describe_run(run)


async def test_an_unknown_queue_is_refused_with_aws_reason(
    runner: AWSBatchJobRunner, batch_definition: JobDefinition
) -> None:
    definition = JobDefinition(
        name="nightly",
        runner="aws-batch",
        job_queue="no-such-queue",
        job_definition=batch_definition.job_definition,
    )
    with pytest.raises(JobRunnerError, match="no-such-queue") as caught:
        await runner.submit_run(definition, new_run())
    assert caught.value.retryable is False
    assert caught.value.fields["aws_code"] == "ClientException"


async def test_a_client_made_from_settings(
    moto_server: MotoServer, batch_definition: JobDefinition
) -> None:
    moto_server.configure(batch={"use_docker": False})
    gateway = AWSBatchJobRunner(
        session=moto_server.session(), region="us-east-1", endpoint_url=moto_server.url
    )
    try:
        submitted = await gateway.submit_run(batch_definition, new_run())
        assert (await gateway.describe_run(submitted)).status is JobStatus.DONE
    finally:
        await gateway.close()


async def test_an_endpoint_nobody_listens_on_is_retryable(
    moto_server: MotoServer, batch_definition: JobDefinition
) -> None:
    gateway = AWSBatchJobRunner(
        session=moto_server.session(),
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        max_attempts=2,
        backoff_initial=0.001,
        backoff_max=0.002,
    )
    with pytest.raises(JobRunnerError, match="could not reach AWS Batch") as caught:
        await gateway.submit_run(batch_definition, new_run())
    await gateway.close()
    assert caught.value.retryable is True
