"""``[functions.NAME]``'s runtime, command, backend, arn and aliases, and ``[jobs.NAME]``:
what a valid table becomes, and a bad one's error naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.config.settings import load_config
from lockgate.models.function import FunctionEntity
from lockgate.models.job import JobDefinition
from tests.unit.config_files import config_error, write

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:thumbnails"


def test_a_custom_runtime_an_aws_function_and_aliases_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
[functions.ric]
runtime = "provided"
command = ["python", "-m", "awslambdaric", "handlers.echo"]
handler = "handlers.echo"
aliases = ["live", "v2-beta"]

[functions.thumbs]
backend = "aws-lambda"
arn = "{ARN}"
timeout = 60
""",
    )

    config, _ = load_config(path)

    ric = config.functions["ric"]
    assert (ric.runtime, ric.command, ric.handler) == (
        "provided",
        ("python", "-m", "awslambdaric", "handlers.echo"),
        "handlers.echo",
    )
    assert ric.aliases == ("live", "v2-beta")
    assert ric.accepts_qualifier("live")
    assert ric.accepts_qualifier("$LATEST")
    assert not ric.accepts_qualifier("7")
    thumbs = config.functions["thumbs"]
    assert (thumbs.backend, thumbs.arn) == ("aws-lambda", ARN)


@pytest.mark.parametrize(
    ("table", "key", "fragment"),
    [
        ('runtime = "provided"', "functions.f.command", "custom runtime's argv"),
        ('runtime = "provided"\ncommand = []', "functions.f.command", "a non-empty list"),
        ('runtime = "provided"\ncommand = [""]', "functions.f.command", "non-empty strings"),
        ('runtime = "node"', "functions.f.runtime", "one of 'python', 'provided'"),
        ('handler = "h:f"\ncommand = ["x"]', "functions.f.command", "unless runtime"),
        ("", "functions.f.handler", "missing"),
        ('handler = "h.f"', "functions.f.handler", "got 'h.f'"),
        ('backend = "aws-lambda"', "functions.f.arn", "the AWS function's ARN"),
        ('backend = "aws-lambda"\narn = "thumbs"', "functions.f.arn", "an AWS Lambda function ARN"),
        (f'handler = "h:f"\narn = "{ARN}"', "functions.f.arn", "unless backend"),
        ('backend = "gcp"', "functions.f.backend", "one of 'local', 'aws-lambda'"),
        ('handler = "h:f"\naliases = ["7"]', "functions.f.aliases[0]", "not all digits"),
        ('handler = "h:f"\naliases = ["$LATEST"]', "functions.f.aliases[0]", "an alias"),
    ],
)
def test_a_bad_function_table_names_its_key(
    tmp_path: Path, table: str, key: str, fragment: str
) -> None:
    error = config_error(tmp_path, f"[functions.f]\n{table}\n")

    assert f"{key}: " in error.message
    assert fragment in error.message


def test_the_model_refuses_what_the_table_would(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs command"):
        FunctionEntity(name="f", runtime="provided")
    with pytest.raises(ValueError, match="needs arn"):
        FunctionEntity(name="f", backend="aws-lambda", aws_arn="nope")
    with pytest.raises(ValueError, match="alias '12'"):
        FunctionEntity(name="f", handler="h:f", aliases=("12",))
    with pytest.raises(ValueError, match="arn is only for"):
        FunctionEntity(name="f", handler="h:f", aws_arn=ARN)


def test_the_aws_arn_is_the_functions_arn_and_changes_its_config_hash() -> None:
    local = FunctionEntity(name="thumbs", handler="h:f")
    remote = FunctionEntity(name="thumbs", backend="aws-lambda", aws_arn=ARN)

    assert local.arn == "arn:aws:lambda:us-east-1:000000000000:function:thumbs"
    assert remote.arn == ARN
    assert local.config_hash != remote.config_hash


def test_jobs_are_read(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    path = write(
        tmp_path,
        """
[jobs.nightly]
command = ["python", "etl.py"]
code_dir = "jobs"
environment = { MODE = "full" }
timeout = 600

[jobs.render]
runner = "aws-batch"
job_queue = "render-queue"
job_definition = "render:3"
""",
    )

    config, _ = load_config(path)

    assert config.jobs["nightly"] == JobDefinition(
        name="nightly",
        command=("python", "etl.py"),
        code_dir=(tmp_path / "jobs").resolve(),
        environment={"MODE": "full"},
        timeout_seconds=600,
    )
    render = config.jobs["render"]
    assert (render.runner, render.job_queue, render.job_definition) == (
        "aws-batch",
        "render-queue",
        "render:3",
    )


@pytest.mark.parametrize(
    ("table", "key", "fragment"),
    [
        ("", "jobs.j.command", "for runner 'local'"),
        ('runner = "aws-batch"', "jobs.j.job_queue", "for runner 'aws-batch'"),
        ('runner = "aws-batch"\njob_queue = "q"', "jobs.j.job_definition", "for runner"),
        ('runner = "k8s"', "jobs.j.runner", "one of 'local', 'aws-batch'"),
        ('command = ["x"]\ntimeout = 0', "jobs.j.timeout", "a number > 0"),
        ('command = ["x"]\ncode_dir = "missing"', "jobs.j.code_dir", "does not exist"),
        ('command = ["x"]\nenvironment = { A = 1 }', "jobs.j.environment.A", "a string"),
    ],
)
def test_a_bad_job_table_names_its_key(tmp_path: Path, table: str, key: str, fragment: str) -> None:
    error = config_error(tmp_path, f"[jobs.j]\n{table}\n")

    assert f"{key}: " in error.message
    assert fragment in error.message


def test_a_bad_job_name_is_named(tmp_path: Path) -> None:
    error = config_error(tmp_path, '[jobs."bad name"]\ncommand = ["x"]\n')
    assert "1-64 letters" in error.message
