"""``LocalProcessJobRunner`` with real processes: success, failure with its exit code and
stderr, timeout, cancel (its whole process group), parameters, bounded output, restarts."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lockgate.errors import JobRunnerError
from lockgate.gateways.interfaces import IJobRunner
from lockgate.gateways.job_runners.local_process import LocalProcessJobRunner
from lockgate.models.job import JobDefinition, JobRun, JobStatus, JobStatusDetail
from tests.support import eventually

SLEEPER = "import time; print('started', flush=True); time.sleep(600)"


@pytest.fixture
async def runner() -> AsyncIterator[LocalProcessJobRunner]:
    gateway = LocalProcessJobRunner(kill_grace=0.2)
    yield gateway
    await gateway.close()


def python_job(code: str, tmp_path: Path, **options: object) -> JobDefinition:
    return JobDefinition(
        name="job",
        command=(sys.executable, "-c", code),
        code_dir=tmp_path,
        **options,  # type: ignore[arg-type]
    )


def new_run(**parameters: str) -> JobRun:
    return JobRun(run_id="run-1", job="job", parameters=parameters, created_at=0.0)


async def finished(runner: LocalProcessJobRunner, run: JobRun) -> JobStatusDetail:
    async with asyncio.timeout(30):  # a guard against a hang, not a timing claim
        while not (detail := await runner.describe_run(run)).status.finished:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return detail


def gone(pid: int) -> bool:
    """No such process, or only its zombie (dead; whether init reaps it is not ours)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def test_a_run_that_exits_zero_is_done(runner: LocalProcessJobRunner, tmp_path: Path) -> None:
    assert isinstance(runner, IJobRunner)
    code = "import os; print('working in', os.getcwd())"
    submitted = await runner.submit_run(python_job(code, tmp_path), new_run())
    assert submitted.status is JobStatus.RUNNING
    assert submitted.external_id is not None
    assert submitted.external_id.startswith("local:pid:")
    assert await finished(runner, submitted) == JobStatusDetail(JobStatus.DONE, "", 0)
    stdout, _ = runner.output(submitted)
    assert stdout.decode().strip() == f"working in {tmp_path}"


async def test_a_failing_run_reports_its_exit_status_and_last_stderr_line(
    runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    code = "import sys; print('loading', file=sys.stderr); sys.exit('bad input: no rows')"
    submitted = await runner.submit_run(python_job(code, tmp_path), new_run())
    detail = await finished(runner, submitted)
    assert detail == JobStatusDetail(JobStatus.ERROR, "exit status 1: bad input: no rows", 1)


async def test_a_run_killed_by_a_signal_says_so(
    runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    submitted = await runner.submit_run(python_job(code, tmp_path), new_run())
    assert await finished(runner, submitted) == JobStatusDetail(JobStatus.ERROR, "signal: killed")


async def test_a_run_past_its_timeout_is_stopped(
    runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    definition = python_job(SLEEPER, tmp_path, timeout_seconds=0.5)
    submitted = await runner.submit_run(definition, new_run())
    detail = await finished(runner, submitted)
    assert (detail.status, detail.message) == (JobStatus.ERROR, "timed out after 0.5 s")


async def test_cancel_stops_the_whole_process_group(
    runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    # The run starts a child that ignores SIGTERM and writes its pid; both must go.
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    submitted = await runner.submit_run(python_job(code, tmp_path), new_run())
    pid_file = tmp_path / "child.pid"
    await eventually(lambda: pid_file.exists() and pid_file.read_text() != "")
    child = int(pid_file.read_text())
    await runner.cancel_run(submitted, "not needed any more")
    detail = await runner.describe_run(submitted)
    assert (detail.status, detail.message) == (JobStatus.ERROR, "cancelled: not needed any more")
    await eventually(lambda: gone(child))


async def test_a_run_that_ignores_sigterm_is_killed_after_the_grace(
    runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    submitted = await runner.submit_run(python_job(code, tmp_path), new_run())
    await eventually(lambda: runner.output(submitted)[0] == b"ready\n")
    await runner.cancel_run(submitted, "stop")
    detail = await runner.describe_run(submitted)
    assert (detail.status, detail.message) == (JobStatus.ERROR, "cancelled: stop")


async def test_cancel_after_the_run_finished_changes_nothing(
    runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    submitted = await runner.submit_run(python_job("pass", tmp_path), new_run())
    await finished(runner, submitted)
    await runner.cancel_run(submitted, "too late")
    assert (await runner.describe_run(submitted)).status is JobStatus.DONE


async def test_parameters_and_the_run_id_reach_the_process(
    runner: LocalProcessJobRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_TEST_GATEWAY_ONLY", "not for jobs")
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    definition = python_job(code, tmp_path, environment={"MODE": "full"})
    run = new_run(day="monday", **{"output-dir": "/tmp/out"})
    submitted = await runner.submit_run(definition, run)
    await finished(runner, submitted)
    environment = json.loads(runner.output(submitted)[0])
    assert environment["MODE"] == "full"
    assert environment["LOCKGATE_JOB_RUN_ID"] == "run-1"
    assert environment["LOCKGATE_JOB_NAME"] == "job"
    assert environment["LOCKGATE_JOB_PARAM_day"] == "monday"
    assert json.loads(environment["LOCKGATE_JOB_PARAMETERS"]) == {
        "day": "monday",
        "output-dir": "/tmp/out",
    }
    assert not any(
        "output" in name for name in environment if name.startswith("LOCKGATE_JOB_PARAM_")
    )
    assert "LOCKGATE_TEST_GATEWAY_ONLY" not in environment


async def test_output_is_kept_to_its_tail(tmp_path: Path) -> None:
    gateway = LocalProcessJobRunner(output_tail_bytes=1000)
    code = "import sys; sys.stdout.write('x' * 100000 + 'END')"
    try:
        submitted = await gateway.submit_run(python_job(code, tmp_path), new_run())
        await finished(gateway, submitted)
        stdout, _ = gateway.output(submitted)
    finally:
        await gateway.close()
    assert len(stdout) == 1000
    assert stdout.endswith(b"xEND")


async def test_a_run_this_gateway_did_not_start_is_unknown(
    runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    submitted = await runner.submit_run(python_job(SLEEPER, tmp_path), new_run())
    restarted = LocalProcessJobRunner()  # a gateway after a restart knows nothing
    with pytest.raises(JobRunnerError, match="not started by this gateway process"):
        await restarted.describe_run(submitted)
    with pytest.raises(JobRunnerError, match="not started by this gateway process"):
        await restarted.cancel_run(submitted, "stop")


async def test_runs_without_an_external_id_are_refused(runner: LocalProcessJobRunner) -> None:
    with pytest.raises(ValueError, match=r"^Cannot describe run: external_id is None$"):
        await runner.describe_run(new_run())
    with pytest.raises(ValueError, match="external_id is None"):
        await runner.cancel_run(new_run(), "stop")


async def test_submissions_the_runner_must_refuse(
    runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    definition = python_job("pass", tmp_path)
    submitted = await runner.submit_run(definition, new_run())
    with pytest.raises(ValueError, match="already submitted"):
        await runner.submit_run(definition, submitted)
    batch = JobDefinition(name="job", runner="aws-batch", job_queue="q", job_definition="d")
    with pytest.raises(ValueError, match="not 'local'"):
        await runner.submit_run(batch, new_run())
    missing = JobDefinition(name="job", command=("no-such-command-xyz",), code_dir=tmp_path)
    with pytest.raises(JobRunnerError, match="could not start run run-1"):
        await runner.submit_run(missing, new_run())


async def test_close_kills_what_is_still_running(tmp_path: Path) -> None:
    gateway = LocalProcessJobRunner()
    submitted = await gateway.submit_run(python_job(SLEEPER, tmp_path), new_run())
    assert submitted.external_id is not None
    pid = int(submitted.external_id.split(":")[2])
    await gateway.close()
    detail = await gateway.describe_run(submitted)
    assert (detail.status, detail.message) == (
        JobStatus.ERROR,
        "cancelled: the gateway is shutting down",
    )
    assert gone(pid)
    with pytest.raises(JobRunnerError, match="closed"):
        await gateway.submit_run(python_job("pass", tmp_path), new_run())


async def test_another_nodes_run_is_not_called_lost() -> None:
    """Gateways sharing a store: node b cannot see node a's processes, and must not mark
    them ERROR; it says the run is another node's, as a retryable error."""
    runner = LocalProcessJobRunner(node_id="b")
    run = JobRun(run_id="r1", job="j", parameters={}, created_at=1.0, external_id="a:pid:123:456")
    try:
        with pytest.raises(JobRunnerError) as caught:
            await runner.describe_run(run)
    finally:
        await runner.close()
    assert caught.value.retryable
    assert "gateway node 'a'" in caught.value.message
