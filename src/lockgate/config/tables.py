"""The ``[functions.NAME]`` and ``[jobs.NAME]`` tables of ``lockgate.toml``: their shapes,
checked key by key, and the domain objects built from them.

The tables mirror the domain models' checks so that a bad value is reported with its dotted
key and the expected range; the models' ``__post_init__`` stays the last line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lockgate.config.problems import Expect, Loc, Problems, check
from lockgate.models.function import (
    ALIAS_PATTERN,
    FUNCTION_NAME_PATTERN,
    LAMBDA_ARN_PATTERN,
    FunctionEntity,
    ScalingConfig,
)
from lockgate.models.job import JOB_NAME_PATTERN, JobDefinition

__all__ = ["STRICT", "build_function", "build_jobs", "code_dir"]

# The file's tables are strict: TOML has real types, so a quoted number is a mistake to report,
# not to coerce (unlike environment variables, which are always strings).
STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)
_SCALING_DEFAULTS = ScalingConfig()
_ENTITY_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclass_fields(FunctionEntity)}
_JOB_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclass_fields(JobDefinition)}
_PYTHON_HANDLER = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"
_NAME = "a name of 1-64 letters, digits, '-' or '_'"


def _alias(value: str) -> str:
    if not ALIAS_PATTERN.match(value):
        raise ValueError("")  # empty: the field's Expect already says it all
    return value


class _ScalingTable(BaseModel):
    model_config = STRICT

    min_warm: int = Field(default=_SCALING_DEFAULTS.min_warm, ge=0)
    max_capacity: int = Field(default=_SCALING_DEFAULTS.max_capacity, ge=1)
    max_queue: int = Field(default=_SCALING_DEFAULTS.max_queue, ge=0)
    idle_ttl: float = Field(default=_SCALING_DEFAULTS.idle_ttl, gt=0)


def _argv(value: list[str]) -> list[str]:
    if not value or not all(value):
        raise ValueError("")  # empty: the field's Expect already says it all
    return value


_Argv = Annotated[
    list[str],
    AfterValidator(_argv),
    Expect("a non-empty list of non-empty strings (e.g. ['python', 'etl.py'])"),
]


class _FunctionTable(BaseModel):
    model_config = STRICT

    handler: str | None = None
    timeout: float = Field(default=_ENTITY_DEFAULTS["timeout_seconds"], gt=0, le=900)
    memory_size: int = Field(default=_ENTITY_DEFAULTS["memory_size_mb"], ge=128, le=10240)
    environment: dict[str, str] = Field(default_factory=dict)
    code_dir: str | None = None
    scaling: _ScalingTable = _ScalingTable()  # frozen, so sharing the default is safe
    runtime: Literal["python", "provided"] = "python"
    command: _Argv | None = None
    backend: Literal["local", "aws-lambda"] = "local"
    arn: Annotated[
        str | None,
        Field(pattern=LAMBDA_ARN_PATTERN.pattern),
        Expect("an AWS Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"),
    ] = None
    image: Annotated[
        str | None, Field(min_length=1), Expect("a container image reference (recorded, not run)")
    ] = None
    aliases: list[
        Annotated[
            str,
            AfterValidator(_alias),
            Expect("an alias of 1-128 letters, digits, '-' or '_', not all digits"),
        ]
    ] = Field(default_factory=list)

    def problems(self) -> list[tuple[str, str]]:
        """Keys that do not fit together, as (key, message)."""
        found: list[tuple[str, str]] = []
        if self.backend == "aws-lambda":
            if self.arn is None:
                found.append(("arn", "expected the AWS function's ARN for backend 'aws-lambda'"))
            return found
        if self.arn is not None:
            found.append(("arn", "expected no arn unless backend = 'aws-lambda'"))
        if self.runtime == "provided":
            if self.command is None:
                found.append(
                    (
                        "command",
                        "expected the custom runtime's argv for runtime 'provided' "
                        "(e.g. ['python', '-m', 'awslambdaric', 'handlers.echo'])",
                    )
                )
            return found
        if self.command is not None:
            found.append(("command", "expected no command unless runtime = 'provided'"))
        handler = self.handler
        if handler is None:
            packaged = (
                " (an image is recorded, not run: workers are processes, so the handler says "
                "what runs)"
                if self.image
                else ""
            )
            found.append(
                (
                    "handler",
                    f"missing: expected 'module:attribute' (e.g. 'handlers:echo'){packaged}",
                )
            )
        elif not re.match(_PYTHON_HANDLER, handler):
            found.append(
                ("handler", f"expected 'module:attribute' (e.g. 'handlers:echo'), got {handler!r}")
            )
        return found


class _JobTable(BaseModel):
    model_config = STRICT

    runner: Literal["local", "aws-batch"] = "local"
    command: _Argv | None = None
    code_dir: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=_JOB_DEFAULTS["timeout_seconds"], gt=0)
    job_queue: Annotated[str | None, Field(min_length=1)] = None
    job_definition: Annotated[str | None, Field(min_length=1)] = None


def code_dir(base: Path, given: str | None, prefix: Loc, problems: Problems) -> Path:
    """``given`` resolved from ``base`` (``base`` itself when None); a problem when it is
    not an existing folder."""
    if given is None:
        return base
    resolved = (base / Path(given).expanduser()).resolve()
    if not resolved.is_dir():
        state = "is not a folder" if resolved.exists() else "does not exist"
        problems.add(
            (*prefix, "code_dir"),
            f"expected an existing folder, got {given!r} ({resolved} {state})",
        )
    return resolved


def build_function(
    name: str, raw: Mapping[str, Any], base: Path, problems: Problems
) -> FunctionEntity | None:
    """The function ``[functions.NAME]`` declares, or None with its problems added."""
    prefix: Loc = ("functions", name)
    before = len(problems)
    if not FUNCTION_NAME_PATTERN.match(name):
        problems.add(prefix, f"expected {_NAME}, got {name!r}")
    table = check(_FunctionTable, raw, prefix, problems)
    if table is None:
        return None
    for key, message in table.problems():
        problems.add((*prefix, key), message)
    scaling = table.scaling
    if scaling.min_warm > scaling.max_capacity:
        problems.add(
            (*prefix, "scaling", "min_warm"),
            f"expected an integer ≤ max_capacity ({scaling.max_capacity}), got {scaling.min_warm}",
        )
    folder = code_dir(base, table.code_dir, prefix, problems)
    if len(problems) > before:
        return None
    try:
        return FunctionEntity(
            name=name,
            handler=table.handler or "",
            code_dir=folder,
            timeout_seconds=table.timeout,
            memory_size_mb=table.memory_size,
            environment=table.environment,
            scaling=ScalingConfig(**scaling.model_dump()),
            runtime=table.runtime,
            command=tuple(table.command or ()),
            aliases=tuple(table.aliases),
            backend=table.backend,
            aws_arn=table.arn,
            image=table.image,
        )
    except ValueError as exc:  # a domain rule the table above does not mirror yet
        problems.add(prefix, str(exc))
        return None


def build_jobs(raw: Mapping[str, Any], base: Path, problems: Problems) -> dict[str, JobDefinition]:
    """The jobs ``[jobs.NAME]`` tables declare; problems added for the others."""
    jobs: dict[str, JobDefinition] = {}
    for name, item in raw.items():
        prefix: Loc = ("jobs", name)
        if not JOB_NAME_PATTERN.match(name):
            problems.add(prefix, f"expected {_NAME}, got {name!r}")
            continue
        table = check(_JobTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:
            continue
        if table.runner == "local" and table.command is None:
            problems.add((*prefix, "command"), "expected the argv to run for runner 'local'")
            continue
        if table.runner == "aws-batch":
            missing = [k for k in ("job_queue", "job_definition") if getattr(table, k) is None]
            for key in missing:
                problems.add((*prefix, key), "expected a value for runner 'aws-batch'")
            if missing:
                continue
        try:
            jobs[name] = JobDefinition(
                name=name,
                runner=table.runner,
                command=tuple(table.command or ()),
                code_dir=code_dir(base, table.code_dir, prefix, problems),
                environment=table.environment,
                timeout_seconds=table.timeout,
                job_queue=table.job_queue,
                job_definition=table.job_definition,
            )
        except ValueError as exc:
            problems.add(prefix, str(exc))
    return jobs
