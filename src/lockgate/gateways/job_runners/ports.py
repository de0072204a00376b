"""``IJobRunner``: carries out job runs somewhere: local processes, AWS Batch."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lockgate.models.job import JobDefinition, JobRun, JobStatusDetail

__all__ = ["IJobRunner"]


@runtime_checkable
class IJobRunner(Protocol):
    """Carries out long-running job runs somewhere: local processes, AWS Batch."""

    async def submit_run(self, definition: JobDefinition, run: JobRun) -> JobRun:
        """Start ``run`` of ``definition``.

        Args:
            definition: What to run.
            run: The run to start; ``external_id`` must be None.

        Returns:
            ``run`` with ``external_id`` set to the runner's own id and its status.

        Raises:
            ValueError: ``run`` was already submitted, or ``definition`` is not for this
                runner.
            JobRunnerError: The runner refused or failed to start it (after retrying
                throttling); the message says why.

        Side Effects:
            Starts the run (a process, a Batch job).

        Note:
            The local runner calls ``asyncio.create_subprocess_exec``; the AWS one calls
            ``batch.submit_job`` (retrying only what AWS never received).
        """
        ...

    async def describe_run(self, run: JobRun) -> JobStatusDetail:
        """Where ``run`` stands now.

        Args:
            run: A submitted run (``external_id`` set).

        Returns:
            Its status (``QUEUED``, ``RUNNING``, ``DONE``, ``ERROR``) and the runner's reason.

        Raises:
            ValueError: ``run.external_id`` is None (it was never submitted).
            JobRunnerError: The runner failed to answer, or does not know the run: then
                ``fields["external_id"]`` is ``run.external_id`` and ``retryable`` is False
                (the run is lost, e.g. a local process from before a restart).

        Side Effects:
            None.

        Note:
            The local runner reads its process's exit status; the AWS one calls
            ``batch.describe_jobs``.
        """
        ...

    async def cancel_run(self, run: JobRun, reason: str) -> None:
        """Stop ``run`` (a no-op when it already finished).

        Args:
            run: A submitted run.
            reason: Why, kept as the run's message (and Batch's ``reason``).

        Raises:
            ValueError: ``run.external_id`` is None.
            JobRunnerError: The runner failed to stop it.

        Side Effects:
            Kills the process or terminates the Batch job.

        Note:
            The local runner calls ``os.killpg``; the AWS one calls ``batch.terminate_job``.
        """
        ...

    async def close(self) -> None:
        """Release what the runner holds. Idempotent.

        Raises:
            Nothing.

        Side Effects:
            The local runner kills its runs still going (they end ``ERROR``, cancelled);
            the AWS one closes the client it made (Batch jobs go on running).

        Note:
            The AWS runner calls the boto3 client's ``close()``; the local one
            ``os.killpg`` for each process still running.
        """
        ...
