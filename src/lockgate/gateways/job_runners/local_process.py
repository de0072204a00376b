"""``LocalProcessJobRunner``: job runs as processes on this machine (the default runner).

Each run is its own process group, so stopping it (cancelled, timed out, the gateway closing)
stops whatever it started too. The runner remembers only the runs it started: its
``external_id`` (``<node>:pid:<pid>:<start ns>``) means nothing to another gateway process;
a gateway that restarted says so rather than guess, and another node's runs are left to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import signal
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from lockgate.errors import JobRunnerError
from lockgate.models.job import JobDefinition, JobRun, JobStatus, JobStatusDetail

__all__ = ["LocalProcessJobRunner"]

logger = logging.getLogger(__name__)

JobOutput = Callable[[str, str, str, bytes], None]

# Variables a job inherits from the gateway; everything else it sees is declared.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_READ_CHUNK = 65536
_MESSAGE_LIMIT = 500
# Bounds the wait for output pipes after the group was killed, not a timing claim.
_DRAIN_BOUND = 5.0


class _Tail:
    """The last ``limit`` bytes of a stream."""

    __slots__ = ("data", "dropped", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess


@dataclasses.dataclass(slots=True, eq=False)
class _Process:
    """One started run: its process, its output tails and, once over, its outcome."""

    run_id: str
    job: str
    process: asyncio.subprocess.Process
    stdout: _Tail
    stderr: _Tail
    timeout: float
    stop_reason: str | None = None  # "cancelled: …" or "timed out after …", once asked
    stop_asked: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    signalled: bool = False  # stopped by us while it ran: ``stop_reason`` is its outcome
    detail: JobStatusDetail | None = None  # set when it finished
    watcher: asyncio.Task[None] | None = None


class LocalProcessJobRunner:
    """``IJobRunner`` running ``definition.command`` as a local process.

    A run sees the gateway's ``PATH``, ``HOME`` and locale, then ``definition.environment``,
    then (not overridable): ``LOCKGATE_JOB_NAME``, ``LOCKGATE_JOB_RUN_ID``,
    ``LOCKGATE_JOB_PARAMETERS`` (every parameter, as one JSON object) and
    ``LOCKGATE_JOB_PARAM_<name>`` for each parameter whose name is a valid variable name
    (case kept). Its stdin is empty; the tails of its stdout and stderr are kept.

    Args:
        output_tail_bytes: Bytes of stdout and of stderr kept per run (the last ones).
        kill_grace: Seconds between SIGTERM and SIGKILL when a run is stopped.
        keep_finished: Finished runs remembered for ``describe_run`` (the oldest go first).
        node_id: This gateway's node id, in every external id.
        output: Given ``(job, run_id, stream, data)`` as a run writes whole lines, for the
            gateway's log.

    Raises:
        ValueError: A limit is out of range.
    """

    def __init__(
        self,
        *,
        output_tail_bytes: int = 64 * 1024,
        kill_grace: float = 5.0,
        keep_finished: int = 1000,
        node_id: str = "local",
        output: JobOutput | None = None,
    ) -> None:
        self._output = output
        if output_tail_bytes < 1 or kill_grace < 0 or keep_finished < 1:
            raise ValueError(
                "output_tail_bytes and keep_finished must be at least 1 and kill_grace at "
                f"least 0, got {output_tail_bytes}, {keep_finished} and {kill_grace}"
            )
        self._tail_bytes = output_tail_bytes
        self._kill_grace = kill_grace
        self._keep_finished = keep_finished
        # Ids carry the node: gateways sharing a store must not judge each other's runs.
        self._prefix = f"{node_id}:pid:"
        self._runs: OrderedDict[str, _Process] = OrderedDict()
        self._closed = False

    async def submit_run(self, definition: JobDefinition, run: JobRun) -> JobRun:
        """Start ``definition.command`` in ``definition.code_dir`` for ``run``.

        Args:
            definition: A ``local`` job.
            run: A run not yet submitted.

        Returns:
            ``run`` with ``external_id`` = ``<node>:pid:<pid>:<start ns>`` and status ``RUNNING``.

        Raises:
            ValueError: ``run`` was already submitted or is of another job, or
                ``definition`` is not a ``local`` job.
            JobRunnerError: The runner is closed, or the command could not be started
                (not found, not executable, no such folder).

        Side Effects:
            Starts a process group; it is stopped after ``definition.timeout_seconds``.
        """
        definition.check_new_run(run, "local")
        if self._closed:
            raise JobRunnerError("the local job runner is closed", run_id=run.run_id)
        try:
            process = await asyncio.create_subprocess_exec(
                *definition.command,
                cwd=str(definition.code_dir),
                env=_environment(definition, run),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise JobRunnerError(
                f"could not start run {run.run_id} of job {definition.name!r}: "
                f"{exc.strerror or exc} ({definition.command[0]!r} in {definition.code_dir})",
                run_id=run.run_id,
                job=definition.name,
            ) from None
        external_id = f"{self._prefix}{process.pid}:{time.time_ns()}"
        record = _Process(
            run_id=run.run_id,
            job=definition.name,
            process=process,
            stdout=_Tail(self._tail_bytes),
            stderr=_Tail(self._tail_bytes),
            timeout=definition.timeout_seconds,
        )
        self._runs[external_id] = record
        record.watcher = asyncio.get_running_loop().create_task(
            self._watch(record), name=f"lockgate-job-{run.run_id}"
        )
        logger.info("run %s of job %s started as %s", run.run_id, definition.name, external_id)
        return dataclasses.replace(
            run, external_id=external_id, status=JobStatus.RUNNING, message=""
        )

    async def describe_run(self, run: JobRun) -> JobStatusDetail:
        """Where ``run``'s process stands: ``RUNNING`` until it exits, then ``DONE`` (exit
        0) or ``ERROR`` (``exit status N: <last stderr line>``, ``signal: …``,
        ``timed out after N s``, ``cancelled: <reason>``).

        Raises:
            ValueError: ``run.external_id`` is None.
            JobRunnerError: This runner did not start the run (another gateway process or
                one before a restart did), or has forgotten it (``keep_finished``).
        """
        if run.external_id is None:
            raise ValueError("Cannot describe run: external_id is None")
        record = self._record(run)
        if record.detail is not None:
            return record.detail
        return JobStatusDetail(status=JobStatus.RUNNING)

    async def cancel_run(self, run: JobRun, reason: str) -> None:
        """Stop ``run``'s process group (SIGTERM, then SIGKILL after ``kill_grace``) and
        wait until it is gone; a no-op once it finished.

        Raises:
            ValueError: ``run.external_id`` is None.
            JobRunnerError: This runner did not start the run.

        Side Effects:
            Kills the run's processes; the run ends ``ERROR`` with ``cancelled: <reason>``.
        """
        if run.external_id is None:
            raise ValueError("Cannot cancel run: external_id is None")
        record = self._record(run)
        if record.detail is None and record.stop_reason is None:
            record.stop_reason = f"cancelled: {reason.strip() or 'no reason given'}"
            record.stop_asked.set()
        if record.watcher is not None:
            await asyncio.shield(record.watcher)

    def output(self, run: JobRun) -> tuple[bytes, bytes]:
        """The kept tails of ``run``'s stdout and stderr (so far).

        Raises:
            ValueError: ``run.external_id`` is None.
            JobRunnerError: This runner did not start the run.
        """
        if run.external_id is None:
            raise ValueError("Cannot read output: external_id is None")
        record = self._record(run)
        return bytes(record.stdout.data), bytes(record.stderr.data)

    async def close(self) -> None:
        """Kill every run still going and wait until each is reaped. Idempotent.

        Side Effects:
            Those runs end ``ERROR`` with ``cancelled: the gateway is shutting down``.
        """
        self._closed = True
        watchers = []
        for record in self._runs.values():
            if record.detail is None:
                record.stop_reason = record.stop_reason or "cancelled: the gateway is shutting down"
                if record.process.returncode is None:
                    record.signalled = True
                    _signal_group(record.process.pid, signal.SIGKILL)
                record.stop_asked.set()
            if record.watcher is not None:
                watchers.append(record.watcher)
        if watchers:
            await asyncio.gather(*watchers, return_exceptions=True)

    def _record(self, run: JobRun) -> _Process:
        external_id = run.external_id or ""
        record = self._runs.get(external_id)
        if record is None and not external_id.startswith(self._prefix):
            node = external_id.partition(":pid:")[0]
            raise JobRunnerError(
                f"run {run.run_id} ({external_id}) runs on gateway node {node!r}; only that "
                "node can describe or cancel it",
                retryable=True,  # to this node: the run is not known to be lost
                run_id=run.run_id,
                external_id=run.external_id,
            )
        if record is None:
            raise JobRunnerError(
                f"run {run.run_id} ({run.external_id}) was not started by this gateway "
                "process (it was started before a restart, or by another gateway), or has "
                "been forgotten; its process is not tracked",
                run_id=run.run_id,
                external_id=run.external_id,
            )
        return record

    async def _watch(self, record: _Process) -> None:
        """Collect the output, enforce the timeout, stop the run when asked, record the
        outcome, and reap everything."""
        process = record.process
        readers = [
            asyncio.ensure_future(_pump(stream, tail, self._lines(record, name)))
            for name, stream, tail in (
                ("stdout", process.stdout, record.stdout),
                ("stderr", process.stderr, record.stderr),
            )
            if stream is not None
        ]
        exited = asyncio.ensure_future(process.wait())
        stop_asked = asyncio.ensure_future(record.stop_asked.wait())
        try:
            done, _ = await asyncio.wait(
                {exited, stop_asked}, timeout=record.timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                record.stop_reason = record.stop_reason or f"timed out after {record.timeout:g} s"
            if not exited.done():
                logger.info("stopping run %s: %s", record.run_id, record.stop_reason)
                record.signalled = True
                _signal_group(process.pid, signal.SIGTERM)
                await asyncio.wait({exited}, timeout=self._kill_grace)
        finally:
            stop_asked.cancel()
            # Whatever is left in the group goes too (it would hold the pipes open).
            _signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_DRAIN_BOUND):
                    await asyncio.gather(*readers, return_exceptions=True)
            for reader in readers:
                reader.cancel()
            await asyncio.shield(exited)  # reaped, even when this task is being cancelled
            record.detail = _outcome(record, process.returncode)
            logger.info("run %s ended %s", record.run_id, record.detail.status)
            self._forget_old()

    def _lines(self, record: _Process, stream: str) -> Callable[[bytes], None] | None:
        output = self._output
        if output is None:
            return None
        return lambda data: output(record.job, record.run_id, stream, data)

    def _forget_old(self) -> None:
        finished = [key for key, record in self._runs.items() if record.detail is not None]
        for key in finished[: max(0, len(finished) - self._keep_finished)]:
            del self._runs[key]


async def _pump(
    stream: asyncio.StreamReader, tail: _Tail, lines: Callable[[bytes], None] | None
) -> None:
    pending = b""  # a line not yet ended: held for its end, so the log gets whole lines
    while chunk := await stream.read(_READ_CHUNK):
        tail.add(chunk)
        if lines is None:
            continue
        pending += chunk
        end = pending.rfind(b"\n")
        if end >= 0:
            lines(pending[: end + 1])
            pending = pending[end + 1 :]
        elif len(pending) > _READ_CHUNK:
            lines(pending)
            pending = b""
    if lines is not None and pending:
        lines(pending)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The group outlives its leader while any member lives, so its id cannot be reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _environment(definition: JobDefinition, run: JobRun) -> dict[str, str]:
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env.update(definition.environment)
    env.update(_parameters(run.parameters))
    env.update(
        {
            "LOCKGATE_JOB_NAME": definition.name,
            "LOCKGATE_JOB_RUN_ID": run.run_id,
            "LOCKGATE_JOB_PARAMETERS": json.dumps(dict(run.parameters), ensure_ascii=False),
        }
    )
    return env


def _parameters(parameters: Mapping[str, str]) -> dict[str, str]:
    return {
        f"LOCKGATE_JOB_PARAM_{name}": value
        for name, value in parameters.items()
        if _PARAM_NAME.match(name)
    }


def _outcome(record: _Process, returncode: int | None) -> JobStatusDetail:
    exit_code = returncode if returncode is not None and returncode >= 0 else None
    if record.signalled and record.stop_reason is not None:
        return JobStatusDetail(JobStatus.ERROR, record.stop_reason, exit_code)
    if returncode == 0:
        return JobStatusDetail(status=JobStatus.DONE, exit_code=0)
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name.removeprefix("SIG").lower()
        status = f"signal: {'killed' if name == 'kill' else name}"
    else:
        status = f"exit status {returncode}"
    last = _last_line(bytes(record.stderr.data))
    message = f"{status}: {last}" if last else status
    return JobStatusDetail(JobStatus.ERROR, message, exit_code)


def _last_line(data: bytes) -> str:
    for line in reversed(data.decode(errors="replace").splitlines()):
        if line.strip():
            text = line.strip()
            return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"
    return ""
