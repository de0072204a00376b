"""Long-running jobs: what to run (a declared ``JobDefinition``), one run of it (``JobRun``)
and where that run stands (``JobStatusDetail``), whichever runner carries it out."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "JOB_NAME_PATTERN",
    "JOB_RUNNERS",
    "JobDefinition",
    "JobRun",
    "JobStatus",
    "JobStatusDetail",
]

JOB_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
JOB_RUNNERS = ("local", "aws-batch")
"""``local``: a process on this machine. ``aws-batch``: a job on an AWS Batch queue."""


class JobStatus(enum.StrEnum):
    QUEUED = "QUEUED"  # accepted, not yet running (Batch: SUBMITTED, PENDING, RUNNABLE, STARTING)
    RUNNING = "RUNNING"
    DONE = "DONE"  # finished successfully
    ERROR = "ERROR"  # failed, was cancelled, or could not be run

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.ERROR)


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """A job users may start by name (``[jobs.NAME]`` in ``lockgate.toml``).

    Attributes:
        name: Unique name.
        runner: ``local`` or ``aws-batch`` (see ``JOB_RUNNERS``).
        command: ``local``: the argv to run, in ``code_dir``. ``aws-batch``: overrides the
            job definition's command when given.
        code_dir: The local process's working directory.
        environment: Variables set for every run.
        timeout_seconds: Runs still going after this long are stopped (ERROR).
        job_queue: ``aws-batch``: the queue's name or ARN.
        job_definition: ``aws-batch``: the job definition's name, ``name:revision`` or ARN.
    """

    name: str
    runner: str = "local"
    command: tuple[str, ...] = ()
    code_dir: Path = field(default_factory=Path.cwd)
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3600.0
    job_queue: str | None = None
    job_definition: str | None = None

    def __post_init__(self) -> None:
        prefix = f"job {self.name!r}"
        if not JOB_NAME_PATTERN.match(self.name):
            raise ValueError(f"job name {self.name!r} must be 1-64 letters, digits, '-' or '_'")
        if self.runner not in JOB_RUNNERS:
            raise ValueError(f"{prefix}: runner must be one of {JOB_RUNNERS}, got {self.runner!r}")
        if not all(isinstance(part, str) and part for part in self.command):
            raise ValueError(f"{prefix}: command must be a list of non-empty strings")
        if self.runner == "local" and not self.command:
            raise ValueError(f"{prefix}: runner 'local' needs a command")
        if self.runner == "aws-batch" and not (self.job_queue and self.job_definition):
            raise ValueError(f"{prefix}: runner 'aws-batch' needs job_queue and job_definition")
        if not self.timeout_seconds > 0:
            raise ValueError(f"{prefix}: timeout must be more than 0 seconds")
        for key, value in self.environment.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(f"{prefix}: environment must map strings to strings ({key!r})")
        object.__setattr__(self, "command", tuple(self.command))
        object.__setattr__(self, "environment", MappingProxyType(dict(self.environment)))

    def check_new_run(self, run: JobRun, runner: str) -> None:
        """What a runner checks before submitting ``run``: it was not submitted yet, this
        job is for ``runner``, and ``run`` is a run of this job.

        Raises:
            ValueError: One of them is not so.
        """
        if run.external_id is not None:
            raise ValueError(
                f"run {run.run_id} was already submitted (external id {run.external_id})"
            )
        if self.runner != runner:
            raise ValueError(f"job {self.name!r} is for runner {self.runner!r}, not {runner!r}")
        if run.job != self.name:
            raise ValueError(f"run {run.run_id} is of job {run.job!r}, not {self.name!r}")


@dataclass(frozen=True, slots=True)
class JobStatusDetail:
    """Where a run stands, in Lockgate's words, and why (the runner's status reason)."""

    status: JobStatus
    message: str = ""
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a job.

    Attributes:
        run_id: Lockgate's id for the run.
        job: The definition's name.
        parameters: String parameters, given to the run as environment variables
            (``local``) or Batch parameters (``aws-batch``).
        created_at: Unix seconds when it was submitted.
        external_id: The runner's own id (a process id, an AWS Batch job id); None until
            ``submit_run`` set it.
        status: The last status known.
        message: The last status reason known.
        exit_code: The process's exit code, once known.
        finished_at: Unix seconds when it was seen finished.
    """

    run_id: str
    job: str
    parameters: Mapping[str, str]
    created_at: float
    external_id: str | None = None
    status: JobStatus = JobStatus.QUEUED
    message: str = ""
    exit_code: int | None = None
    finished_at: float | None = None

    def __post_init__(self) -> None:
        # Frozen like JobDefinition.environment: a run handed out by a store cannot be
        # changed behind the store's back, and every value reaches a process as a string.
        for key, value in self.parameters.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError(
                    f"job run {self.run_id!r}: parameters must map strings to strings "
                    f"({key!r} is {type(key).__name__}, its value {type(value).__name__})"
                )
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def natural_key(self) -> str:
        """A name the runner may show (an AWS Batch job name: letters, digits, - and _)."""
        return f"{self.job}-{self.run_id}"[:128]
