"""``AWSBatchJobRunner``: job runs as AWS Batch jobs (``submit_job``, ``describe_jobs``,
``terminate_job``), their statuses in Lockgate's words.

Throttling is retried with backoff on every call; other transient failures (AWS's 5xx, a lost
connection) only on the calls that are safe to repeat (describing, terminating), and on a
submission only when the request never left this machine, since AWS would start a second job.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from lockgate.errors import JobRunnerError
from lockgate.gateways.aws.support import (
    NEVER_SENT,
    AWSRetry,
    BlockingCalls,
    LazyClient,
    client_config,
    error_code,
    error_message,
    is_throttling,
    status_code,
)
from lockgate.models.job import JobDefinition, JobRun, JobStatus, JobStatusDetail

if TYPE_CHECKING:
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_batch.type_defs import JobDetailTypeDef

__all__ = ["AWSBatchJobRunner", "batch_job_name"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

_STATUSES = {
    "SUBMITTED": JobStatus.QUEUED,
    "PENDING": JobStatus.QUEUED,
    "RUNNABLE": JobStatus.QUEUED,
    "STARTING": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "SUCCEEDED": JobStatus.DONE,
    "FAILED": JobStatus.ERROR,
}
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")
_BATCH_MIN_TIMEOUT = 60  # AWS Batch refuses an attempt duration under 60 seconds


def batch_job_name(run: JobRun) -> str:
    """``run.natural_key()`` as AWS Batch accepts it: 1-128 letters, digits, ``-`` and
    ``_``, starting with a letter or digit."""
    name = _NOT_NAME.sub("_", run.natural_key())
    if not name[:1].isalnum():
        name = "j" + name
    return name[:128]


def _transient(exc: Exception) -> bool:
    """Throttling, AWS's own failures (5xx) and lost connections: safe to repeat for calls
    that change nothing twice."""
    if isinstance(exc, ClientError):
        return is_throttling(exc) or status_code(exc) >= 500
    return isinstance(exc, BotoConnectionError | HTTPClientError)


def _never_sent(exc: Exception) -> bool:
    """Throttling, or a connection that was never made: AWS did not take the request."""
    return is_throttling(exc) or isinstance(exc, NEVER_SENT)


class AWSBatchJobRunner:
    """``IJobRunner`` on AWS Batch: each run is one job on the definition's queue.

    Args:
        batch_client: A boto3 Batch client; made from the arguments below at first use
            when None. An injected client should have botocore's retries off
            (``total_max_attempts=1``), or its retries multiply with this runner's.
        session: The boto3 session the client is made from; a new default session (the
            default credential chain) when None.
        region: The AWS region; boto3's own configuration decides when None.
        endpoint_url: Sends calls to this URL instead (LocalStack, moto).
        max_attempts: Calls at most while AWS throttles or fails transiently.
        backoff_initial: Seconds before the first retry; each further one waits twice as
            long (plus jitter), at most ``backoff_max``.
        backoff_max: The longest wait between retries.
        max_concurrency: Batch calls in flight at once.
        connect_timeout: Seconds to open a connection to AWS.
        read_timeout: Seconds to wait for AWS's answer.

    Raises:
        ValueError: A limit is out of range.

    Note:
        Calls ``batch.submit_job``, ``batch.describe_jobs`` and ``batch.terminate_job``.
        AWS Batch forgets a job some days after it finished; describing it then raises
        ``JobRunnerError``.
    """

    def __init__(
        self,
        batch_client: BatchClient | None = None,
        *,
        session: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        max_concurrency: int = 10,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        self._retry = AWSRetry(max_attempts, backoff_initial, backoff_max)
        self._calls = BlockingCalls(max_concurrency, "lockgate-aws-batch")
        self._client = LazyClient(
            "batch",
            batch_client,
            session=session,
            region=region,
            endpoint_url=endpoint_url,
            config=client_config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_pool_connections=max_concurrency,
            ),
        )

    async def submit_run(self, definition: JobDefinition, run: JobRun) -> JobRun:
        """Submit ``run`` as a job on ``definition``'s queue.

        Args:
            definition: An ``aws-batch`` job: its queue, its Batch job definition, an
                optional command, environment variables and timeout.
            run: A run not yet submitted; its parameters become the job's Batch
                ``parameters`` (``Ref::name`` in the job definition's command).

        Returns:
            ``run`` with ``external_id`` = the Batch job id and status ``QUEUED``.

        Raises:
            ValueError: ``run`` was already submitted, belongs to another job, or
                ``definition`` is not an ``aws-batch`` job.
            JobRunnerError: AWS refused the job (an unknown queue or definition: the
                message is AWS's) or kept throttling (``retryable``).

        Side Effects:
            Creates a job on AWS Batch. The container gets ``JOB_ID`` (the job's name),
            ``RUN_ID`` and ``LOCKGATE_JOB_RUN_ID`` besides ``definition.environment``,
            and ``definition.timeout_seconds`` (at least 60) as its attempt duration.

        Note:
            Calls ``batch.submit_job``; retries only failures that AWS never received.
        """
        definition.check_new_run(run, "aws-batch")
        environment = dict(definition.environment)
        environment.update(
            {"JOB_ID": run.job, "RUN_ID": run.run_id, "LOCKGATE_JOB_RUN_ID": run.run_id}
        )
        overrides: dict[str, Any] = {
            "environment": [{"name": name, "value": value} for name, value in environment.items()]
        }
        if definition.command:
            overrides["command"] = list(definition.command)
        request: dict[str, Any] = {
            "jobName": batch_job_name(run),
            "jobQueue": definition.job_queue,
            "jobDefinition": definition.job_definition,
            "parameters": dict(run.parameters),
            "containerOverrides": overrides,
            "timeout": {
                "attemptDurationSeconds": max(
                    _BATCH_MIN_TIMEOUT, math.ceil(definition.timeout_seconds)
                )
            },
        }
        what = f"submitting run {run.run_id} of job {run.job!r}"
        response = await self._call(what, _never_sent, lambda client: client.submit_job(**request))
        job_id = response["jobId"]
        logger.info("run %s of job %s is AWS Batch job %s", run.run_id, run.job, job_id)
        return dataclasses.replace(run, external_id=job_id, status=JobStatus.QUEUED, message="")

    async def describe_run(self, run: JobRun) -> JobStatusDetail:
        """Where ``run``'s Batch job stands.

        Args:
            run: A submitted run (``external_id`` is its Batch job id).

        Returns:
            ``SUBMITTED``/``PENDING``/``RUNNABLE``/``STARTING`` as ``QUEUED``, ``RUNNING``,
            ``SUCCEEDED`` as ``DONE``, ``FAILED`` as ``ERROR``; the message is AWS's status
            reason with the container's reason and exit code when it gave them.

        Raises:
            ValueError: ``run.external_id`` is None.
            JobRunnerError: AWS does not know the job (never submitted here, or forgotten
                since), reported a status Lockgate does not know, or could not be asked.

        Note:
            Calls ``batch.describe_jobs``; retries throttling and transient failures.
        """
        if run.external_id is None:
            raise ValueError("Cannot describe run: external_id is None")
        job_id = run.external_id
        what = f"describing run {run.run_id} (AWS Batch job {job_id})"
        response = await self._call(
            what, _transient, lambda client: client.describe_jobs(jobs=[job_id])
        )
        jobs = response.get("jobs") or []
        if not jobs:
            raise JobRunnerError(
                f"AWS Batch does not know job {job_id} of run {run.run_id}: it was never "
                "submitted to this account and region, or finished long enough ago to be "
                "forgotten",
                run_id=run.run_id,
                external_id=job_id,
            )
        return _detail(jobs[0], run)

    async def cancel_run(self, run: JobRun, reason: str) -> None:
        """Terminate ``run``'s Batch job, whatever its state (a no-op once it finished).

        Args:
            run: A submitted run.
            reason: Shown as the job's status reason (and so in ``describe_run``).

        Raises:
            ValueError: ``run.external_id`` is None.
            JobRunnerError: AWS refused or could not be asked.

        Side Effects:
            The job goes to ``FAILED`` with ``reason``; a running container is stopped.

        Note:
            Calls ``batch.terminate_job``, which covers every state (``cancel_job`` would
            leave a started job running); retries throttling and transient failures.
        """
        if run.external_id is None:
            raise ValueError("Cannot cancel run: external_id is None")
        job_id = run.external_id
        text = reason.strip() or "cancelled"
        what = f"cancelling run {run.run_id} (AWS Batch job {job_id})"
        await self._call(
            what, _transient, lambda client: client.terminate_job(jobId=job_id, reason=text)
        )
        logger.info("run %s (AWS Batch job %s) terminated", run.run_id, job_id)

    async def close(self) -> None:
        """Close the client this runner made (an injected one is the caller's to close); a
        later call makes a new one."""
        self._client.close()

    async def _call(
        self, what: str, retry_on: Callable[[Exception], bool], call: Callable[[BatchClient], T]
    ) -> T:
        """``call(client)`` on a thread, retried while ``retry_on`` allows; AWS's errors
        translated."""
        try:
            async for attempt in self._retry.attempts(retry_on):
                with attempt:
                    result = await self._calls.run(lambda: call(self._client.get()))
        except ClientError as exc:
            raise self._refused(what, exc) from None
        except BotoCoreError as exc:
            logger.warning("%s: AWS Batch unreachable: %s", what, type(exc).__name__)
            raise JobRunnerError(
                f"{what}: could not reach AWS Batch: {exc}",
                retryable=isinstance(exc, NEVER_SENT),
                aws_code=type(exc).__name__,
            ) from None
        return result

    def _refused(self, what: str, exc: ClientError) -> JobRunnerError:
        code = error_code(exc)
        if is_throttling(exc):
            logger.warning("%s: AWS Batch throttled %d attempts", what, self._retry.max_attempts)
            return JobRunnerError(
                f"{what}: AWS Batch kept throttling ({code}) after "
                f"{self._retry.max_attempts} attempts; nothing was changed, try again later",
                retryable=True,
                aws_code=code,
            )
        logger.warning("%s: AWS Batch refused: %s", what, code)
        return JobRunnerError(
            f"{what}: AWS Batch refused: {code}: {error_message(exc)}",
            retryable=status_code(exc) >= 500,
            aws_code=code,
        )


def _detail(job: JobDetailTypeDef, run: JobRun) -> JobStatusDetail:
    """One ``describe_jobs`` entry in Lockgate's words."""
    aws_status = job.get("status", "")
    status = _STATUSES.get(aws_status)
    if status is None:
        raise JobRunnerError(
            f"AWS Batch reported status {aws_status!r} for run {run.run_id}, which Lockgate "
            "does not know",
            run_id=run.run_id,
            external_id=run.external_id,
        )
    container: Any = job.get("container") or {}
    attempts = job.get("attempts") or []
    if "exitCode" not in container and attempts:
        container = attempts[-1].get("container") or container
    exit_code = container.get("exitCode")
    parts = [job.get("statusReason") or ""]
    if container.get("reason"):
        parts.append(f"container: {container['reason']}")
    if exit_code is not None and status is JobStatus.ERROR:
        parts.append(f"exit code {exit_code}")
    message = "; ".join(part for part in parts if part)
    if not message and status is JobStatus.ERROR:
        message = "AWS Batch reported FAILED without a reason"
    return JobStatusDetail(status=status, message=message, exit_code=exit_code)
