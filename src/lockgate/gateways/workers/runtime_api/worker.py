"""Workers that are Lambda custom runtimes: any ``command`` that speaks the Runtime API.

Each worker is the runtime's process (its own process group, killed as a whole) and a
``RuntimeApiServer`` on a loopback port that only this process is told about. The worker is
ready at the runtime's first poll for an event. Everything the process writes to stdout and
stderr is read off two pipes; each invocation's reply carries the tail of what was written
while it ran, framed by Lambda's START/END/REPORT lines as the native worker frames it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import math
import os
import signal
import sys
from collections.abc import Callable
from typing import cast

from lockgate.errors import FunctionInitError, WorkerCrashedError
from lockgate.gateways.workers.process import OutputListener, lambda_environment
from lockgate.gateways.workers.runtime_api.output import OutputTail, runs_after
from lockgate.gateways.workers.runtime_api.server import (
    MAX_BODY_BYTES,
    RuntimeApiServer,
    RuntimeGoneError,
)
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation, WorkerReply

__all__ = ["RuntimeApiWorker", "RuntimeApiWorkerLauncher"]

_ids = itertools.count(1)
_INIT_LOG_CHARS = 4096


class _RuntimeProcess(asyncio.SubprocessProtocol):
    """Learns when the runtime process exits, and tells the Runtime API server."""

    def __init__(self, on_exit: Callable[[], None]) -> None:
        self._on_exit = on_exit
        self._transport: asyncio.SubprocessTransport | None = None
        self.exited = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's subprocess transports do not subclass asyncio's; both have get_pid().
        self._transport = cast(asyncio.SubprocessTransport, transport)

    def process_exited(self) -> None:
        assert self._transport is not None
        # Whatever the runtime started dies with it, as in a Lambda sandbox. Done at once:
        # the group's id cannot be reused while any member lives, and none can be new yet.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._transport.get_pid(), signal.SIGKILL)
        # Closed only now that the exit status is known: closing a transport whose child
        # may still run makes asyncio poll() it, reaping it behind the child watcher's back.
        self._transport.close()
        self.exited.set()
        self._on_exit()


class RuntimeApiWorker:
    """One custom-runtime process and its Runtime API; see ``IWorker``."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        process: _RuntimeProcess,
        server: RuntimeApiServer,
        output: OutputTail,
        function: FunctionEntity,
        *,
        listener: OutputListener | None = None,
    ) -> None:
        self._transport = transport
        self._process = process
        self._server = server
        self._output = output
        self._function = function
        self._listener = listener
        self._pid: int = transport.get_pid()
        self._worker_id = f"{function.name}-rt{next(_ids)}"
        self._killed = False

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def alive(self) -> bool:
        return not self._killed and not self._process.exited.is_set()

    async def invoke(self, invocation: WorkerInvocation) -> WorkerReply:
        """Offer the event to the runtime's poll and wait for what it posts back; a runtime
        that exits first is a ``WorkerCrashedError`` that says whether it had the event."""
        if not self.alive:
            raise WorkerCrashedError(
                f"worker {self._worker_id} was gone before the request was sent",
                reached_handler=False,
                function=self._function.name,
            )
        request_id = invocation.request_id
        start = f"START RequestId: {request_id} Version: $LATEST\n".encode()
        listener = self._listener
        if listener is not None:  # the output goes on as it is written, START first
            name = self._function.name
            listener(name, request_id, start, (0, len(start)))
            self._output.arm(lambda runs, data: listener(name, request_id, data, runs))
        try:
            reply = await self._server.submit(invocation)
        except RuntimeGoneError:
            raise self._crashed() from None
        finally:
            self._output.arm(None)
        output, runs, dropped, live = self._output.take_runs()
        end = (
            f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t"
            f"Duration: {reply.duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(reply.duration_ms)} ms\t"
            f"Memory Size: {self._function.memory_size_mb} MB\t"
            f"Max Memory Used: {_peak_memory_mb(self._pid)} MB\n"
        ).encode()
        if listener is None:
            logs_live, streams = 0, (0, len(start), *runs, 0, len(end))
        else:  # the streams are over what did not go on already
            logs_live, streams = len(start) + live, (*runs_after(runs, live), 0, len(end))
        return WorkerReply(
            payload=reply.payload,
            error=reply.error,
            logs=b"".join((start, output, end)),
            logs_dropped=dropped,
            duration_ms=reply.duration_ms,
            log_streams=streams,
            logs_live=logs_live,
        )

    def _crashed(self) -> WorkerCrashedError:
        """The runtime exited during ``invoke``; did it have the event by then?"""
        output, _ = self._output.take()
        last_line = self._output.last_stderr_line
        self.kill()
        status = self.exit_status or "unknown status"
        detail = f" ({last_line})" if last_line else ""
        if not self._server.handed_out:  # it never polled for this event: safe to retry
            return WorkerCrashedError(
                f"worker {self._worker_id} exited before it took the request: {status}{detail}",
                reached_handler=False,
                function=self._function.name,
                worker=self._worker_id,
            )
        return WorkerCrashedError(
            f"Runtime exited with error: {status}{detail}",
            reached_handler=True,
            function=self._function.name,
            worker=self._worker_id,
            logs=output.decode(errors="replace")[-_INIT_LOG_CHARS:],
        )

    def kill(self) -> None:
        """SIGKILL the runtime's process group and close its API and pipes. Idempotent."""
        if self._killed:
            return
        self._killed = True
        if not self._process.exited.is_set():  # its exit closes the transport
            # The group takes whatever the runtime started; the pid itself, a runtime that
            # moved to a group of its own. Unreaped, the pid cannot belong to anyone else.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self._pid, signal.SIGKILL)
        self._server.close()
        self._output.close()

    async def wait_closed(self) -> None:
        """Wait until the runtime has exited and its API has let go of every connection."""
        await self._process.exited.wait()
        await self._server.wait_closed()

    @property
    def exit_status(self) -> str:
        """``exit status 3`` or ``signal: killed``, as Lambda words it; empty if unknown."""
        code = self._transport.get_returncode()
        if code is None:
            return ""
        if code < 0:
            name = signal.Signals(-code).name.removeprefix("SIG").lower()
            return f"signal: {'killed' if name == 'kill' else name}"
        return f"exit status {code}"


class RuntimeApiWorkerLauncher:
    """Starts ``RuntimeApiWorker``s for ``runtime = "provided"`` functions; see
    ``IWorkerLauncher``.

    Args:
        log_capture_bytes: Output kept per invocation (its tail).
        init_timeout: Seconds the runtime may take to poll for its first event, at least
            (the function's own timeout when that is longer, as for native workers).
        max_body_bytes: Largest body the runtime may post (a result or an error).
        output: Given each invocation's output as it is written (the rest comes with the
            reply), as ``ProcessWorkerLauncher``'s.
    """

    def __init__(
        self,
        *,
        log_capture_bytes: int = 64 * 1024,
        init_timeout: float = 10.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        output: OutputListener | None = None,
    ) -> None:
        self._output = output
        self._log_capture_bytes = log_capture_bytes
        self._init_timeout = init_timeout
        self._max_body_bytes = max_body_bytes

    async def launch(self, function: FunctionEntity) -> RuntimeApiWorker:
        """Start ``function.command`` and wait for its first poll (see ``IWorkerLauncher``).

        Raises:
            FunctionInitError: The runtime posted ``/init/error`` (its ``errorType``), or
                did not poll in time (``Runtime.InitTimeout``).
            WorkerCrashedError: The command could not be started, or exited before it
                polled (``reached_handler`` is False).
        """
        output = OutputTail(self._log_capture_bytes)
        server = RuntimeApiServer(max_body_bytes=self._max_body_bytes, on_handout=output.clear)
        worker = await self._spawn(function, output, server)
        name = function.name
        init_timeout = max(self._init_timeout, function.timeout_seconds)
        try:
            async with asyncio.timeout(init_timeout):
                init_error = await server.started
        except TimeoutError:
            await _discard(worker)
            raise FunctionInitError(
                f"function {name!r} did not finish initialising in time: its runtime did not "
                f"poll /runtime/invocation/next within {init_timeout:g} s"
                + _detail(output.last_stderr_line),
                error_type="Runtime.InitTimeout",
                function=name,
                logs=_init_logs(output),
            ) from None
        except RuntimeGoneError:
            await _discard(worker)
            raise WorkerCrashedError(
                f"worker for function {name!r} exited before it was ready: "
                f"{worker.exit_status or 'unknown status'}"
                + _detail(output.last_stderr_line or "no output"),
                reached_handler=False,
                function=name,
                logs=_init_logs(output),
            ) from None
        except BaseException:  # cancelled (the pool closed while it started): reap it too
            await _discard(worker)
            raise
        if init_error is not None:
            logs = _init_logs(output)
            await _discard(worker)
            raise FunctionInitError(
                f"function {name!r} failed to initialise: "
                f"{init_error.error_type}: {init_error.error_message}",
                error_type=init_error.error_type,
                error_message=init_error.error_message,
                function=name,
                logs=logs,
                stack_trace=init_error.stack_trace,
            )
        output.clear()  # what initialisation wrote belongs to no invocation
        return worker

    async def _spawn(
        self, function: FunctionEntity, output: OutputTail, server: RuntimeApiServer
    ) -> RuntimeApiWorker:
        loop = asyncio.get_running_loop()
        try:
            address = await server.start()
            transport, process = await loop.subprocess_exec(
                lambda: _RuntimeProcess(server.abort),
                *function.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output.stdout_fd,
                stderr=output.stderr_fd,
                env=self._environment(function, address),
                cwd=str(function.code_dir),
                start_new_session=True,
                preexec_fn=_death_pact(),
            )
        except BaseException as exc:
            output.close()
            server.close()
            await server.wait_closed()
            if isinstance(exc, OSError):
                raise WorkerCrashedError(
                    f"could not start the runtime of function {function.name!r} "
                    f"({function.command[0]!r}): {exc.strerror}",
                    reached_handler=False,
                    function=function.name,
                ) from exc
            raise
        output.attach()
        return RuntimeApiWorker(transport, process, server, output, function, listener=self._output)

    @staticmethod
    def _environment(function: FunctionEntity, address: str) -> dict[str, str]:
        env = lambda_environment(function, execution_env=None)
        # Set last: how the runtime reaches its API is not something a function overrides.
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": address,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "_HANDLER": function.handler,
                "LAMBDA_TASK_ROOT": str(function.code_dir),
            }
        )
        return env


async def _discard(worker: RuntimeApiWorker) -> None:
    """Kill a worker that never became ready and reap it, even when the task doing so is
    being cancelled (see ``workers.process._discard``)."""
    worker.kill()
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        async with asyncio.timeout(5.0):
            await asyncio.shield(worker.wait_closed())


def _detail(line: str) -> str:
    return f" ({line})" if line else ""


def _init_logs(output: OutputTail) -> str:
    data, _ = output.take()
    return data.decode(errors="replace")[-_INIT_LOG_CHARS:]


def _peak_memory_mb(pid: int) -> int:
    """The runtime process's peak resident memory, as Lambda's REPORT line gives it."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return math.ceil(int(line.split()[1]) / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return 0


_prctl: Callable[[int, int], int] | None = None


def _death_pact() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks Linux to SIGKILL the runtime when the gateway dies.

    The native worker does this itself on start; an arbitrary command cannot, so it is done
    between fork and exec (the setting survives exec). The child does as little as it can:
    ``prctl`` is looked up here, in the parent.
    """
    global _prctl  # noqa: PLW0603 - looked up once per process, on first use
    if not sys.platform.startswith("linux"):
        return None
    if _prctl is None:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl = _prctl
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def arm() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        # The gateway may have died before prctl ran; then nobody would ever kill us.
        if os.getppid() != parent:
            os._exit(1)

    return arm
