"""Workers as operating-system processes: ``python -m lockgate.worker`` over two pipes.

Each worker is its own process group (so killing it kills whatever the handler started) and
asks Linux to kill it if the gateway dies, so no worker outlives its gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

import lockgate
from lockgate.errors import FunctionInitError, WorkerCrashedError
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import HandlerError, WorkerInvocation, WorkerReply
from lockgate.worker.protocol import HEADER, MAX_FRAME_PART, pack_frame

__all__ = ["ProcessWorker", "ProcessWorkerLauncher", "lambda_environment"]

# Variables a worker inherits from the gateway; everything else it sees is declared.
# The host's locale is not inherited: Lambda sets LANG=en_US.UTF-8 alone (Python runs in
# UTF-8 mode where that locale is not installed).
_INHERITED = ("PATH", "HOME", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")
_NATIVE_RUNTIME_DIR = str(Path(lockgate.__file__).resolve().parent / "worker")
_EARLY_STDERR_LIMIT = 8192
# How long a worker's exit waits for its control pipe to be read to the end (its last frame,
# an init error, may still be in it): a process the handler started may hold the pipe open.
_EXIT_DRAIN_S = 0.5
_Frame = tuple[dict[str, Any], bytes, bytes]
OutputListener = Callable[[str, str, bytes, Sequence[int]], None]
"""Given a function's name, the request id, output and its runs (see ``output_lines``)."""
_ids = itertools.count(1)


class _WorkerGoneError(Exception):
    pass


class _WorkerProtocol(asyncio.SubprocessProtocol):
    """Parses frames off the worker's stdout and hands each to whoever waits for it."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[_Frame] | None = None
        self._early: _Frame | None = None  # a frame that came before anyone asked for it
        # Output of a long invocation, sent while it runs: given (runs, data).
        self.on_output: Callable[[list[int], bytes], None] | None = None
        self._early_stderr = bytearray()
        self.exited = asyncio.Event()
        self._stdout_closed = False
        self._gone: _WorkerGoneError | None = None  # set once no frame can come any more

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 2:  # only before the worker redirects fd 2 to its capture pipe
            self._early_stderr += data[: _EARLY_STDERR_LIMIT - len(self._early_stderr)]
            return
        if not self._buffer and len(data) >= HEADER.size:
            # The usual case: one whole frame in one read. Parse it without buffering.
            meta_len, body_len, logs_len = HEADER.unpack_from(data)
            if HEADER.size + meta_len + body_len + logs_len == len(data):
                self._deliver(data, meta_len, body_len)
                return
        self._buffer += data
        while len(self._buffer) >= HEADER.size:
            meta_len, body_len, logs_len = HEADER.unpack_from(self._buffer)
            if max(meta_len, body_len, logs_len) > MAX_FRAME_PART:
                self._fail(_WorkerGoneError("garbled frame: a part is over the size limit"))
                return
            end = HEADER.size + meta_len + body_len + logs_len
            if len(self._buffer) < end:
                return
            frame = bytes(self._buffer[:end])
            del self._buffer[:end]
            if not self._deliver(frame, meta_len, body_len):
                return

    def _deliver(self, frame: bytes, meta_len: int, body_len: int) -> bool:
        """Hand one whole frame to its waiter; False when the stream is unusable."""
        meta_end = HEADER.size + meta_len
        try:
            meta = orjson.loads(frame[HEADER.size : meta_end])
        except orjson.JSONDecodeError:
            self._fail(_WorkerGoneError("garbled frame metadata"))
            return False
        if meta.get("type") == "log":  # output while the handler runs; the reply comes later
            if self.on_output is not None:
                self.on_output(meta.get("streams") or [], frame[meta_end + body_len :])
            return True
        parts = (meta, frame[meta_end : meta_end + body_len], frame[meta_end + body_len :])
        waiter, self._waiter = self._waiter, None
        if waiter is None and self._early is None:
            # The worker's "ready" can arrive before the launcher, slowed down on a busy
            # machine, asks for it: kept for that first ``expect_frame``, not dropped.
            self._early = parts
            return True
        if waiter is None or waiter.done():
            self._fail(_WorkerGoneError("worker sent a frame nobody asked for"))
            return False
        waiter.set_result(parts)
        return True

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:  # noqa: ARG002
        if fd == 1:
            self._stdout_closed = True
            self._end(_WorkerGoneError("worker closed its control pipe"))

    def process_exited(self) -> None:
        self.exited.set()
        if self._stdout_closed:
            self._end(_WorkerGoneError("worker exited"))
            return
        # The exit can be seen before the pipe's last bytes are read (a busy loop sees
        # both at once): the frame in them, an init error say, is delivered first.
        asyncio.get_running_loop().call_later(
            _EXIT_DRAIN_S, self._end, _WorkerGoneError("worker exited")
        )

    def _end(self, exc: _WorkerGoneError) -> None:
        """No frame can come any more: the waiter, and every later one, gets ``exc``."""
        self._gone = self._gone or exc
        self._fail(exc)

    def _fail(self, exc: _WorkerGoneError) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def expect_frame(self) -> asyncio.Future[_Frame]:
        waiter: asyncio.Future[_Frame] = asyncio.get_running_loop().create_future()
        if self._early is not None:
            early, self._early = self._early, None
            waiter.set_result(early)
            return waiter
        if self._gone is not None:
            waiter.set_exception(self._gone)
            return waiter
        self._waiter = waiter
        return waiter

    @property
    def early_stderr(self) -> str:
        return self._early_stderr.decode(errors="replace").strip()


class ProcessWorker:
    """One worker process; see ``IWorker``."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _WorkerProtocol,
        function: FunctionEntity,
        output: OutputListener | None = None,
        log_limit: int = 64 * 1024,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._function = function
        self._output = output
        self._log_limit = log_limit
        self._request_id = ""
        self._live_logs = bytearray()  # what went live during the current invocation
        protocol.on_output = self._live_output
        self._pid: int = transport.get_pid()
        self._stdin = transport.get_pipe_transport(0)
        self._worker_id = f"{function.name}-{next(_ids)}"
        self._killed = False

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def alive(self) -> bool:
        return not self._killed and not self._protocol.exited.is_set()

    async def invoke(self, invocation: WorkerInvocation) -> WorkerReply:
        stdin = self._stdin
        if self._killed or self._protocol.exited.is_set() or stdin is None or stdin.is_closing():
            raise WorkerCrashedError(
                f"worker {self._worker_id} was gone before the request was sent",
                reached_handler=False,
                function=self._function.name,
            )
        reply = self._protocol.expect_frame()
        fields = {
            "type": "invoke",
            "request_id": invocation.request_id,
            "deadline_ms": invocation.deadline_epoch_ms,
            "arn": invocation.invoked_function_arn,
            "client_context": invocation.client_context,
        }
        if invocation.trace is not None:  # the worker spells it AWS's way too
            fields["traceparent"] = invocation.trace.traceparent
        meta = orjson.dumps(fields)
        self._request_id = invocation.request_id
        stdin.write(pack_frame(meta, invocation.payload))  # type: ignore[attr-defined]
        try:
            meta_in, body, logs = await reply
        except _WorkerGoneError as exc:
            # The exit status arrives just after the pipe closes; wait briefly so the
            # message can say how the worker ended, in Lambda's words.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await self._protocol.exited.wait()
            status = self._exit_status()
            self.kill()
            raise WorkerCrashedError(
                f"Runtime exited with error: {status}" if status else f"Runtime exited: {exc}",
                reached_handler=True,
                function=self._function.name,
                worker=self._worker_id,
            ) from None
        error = meta_in.get("error")
        live = len(self._live_logs)
        if live:  # the reply's logs are the rest: the whole tail is both, within the limit
            logs = bytes(self._live_logs) + logs
            self._live_logs.clear()
        return WorkerReply(
            payload=body,
            error=_handler_error(error) if error else None,
            logs=logs,
            logs_dropped=int(meta_in.get("logs_dropped", 0)),
            duration_ms=float(meta_in.get("duration_ms", 0.0)),
            log_streams=tuple(meta_in.get("streams") or ()),
            logs_live=live,
        )

    def _live_output(self, runs: list[int], data: bytes) -> None:
        if self._output is not None:
            self._output(self._function.name, self._request_id, data, runs)
        self._live_logs += data
        excess = len(self._live_logs) - self._log_limit
        if excess > 0:
            del self._live_logs[:excess]

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        if not self._protocol.exited.is_set():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)
        self._transport.close()

    async def wait_closed(self) -> None:
        await self._protocol.exited.wait()
        self._transport.close()

    def _exit_status(self) -> str:
        """``exit status 3`` or ``signal: killed``, as Lambda words it; empty if unknown."""
        code = self._transport.get_returncode()
        if code is None:
            return ""
        if code < 0:
            name = signal.Signals(-code).name.removeprefix("SIG").lower()
            return f"signal: {'killed' if name == 'kill' else name}"
        return f"exit status {code}"


async def _discard(worker: ProcessWorker) -> None:
    """Kill a worker that never became ready and reap it, even when the task doing so is
    being cancelled: an unreaped child outlives its transport (and warns) if the event loop
    closes first."""
    worker.kill()
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        async with asyncio.timeout(5.0):
            await asyncio.shield(worker.wait_closed())


def _handler_error(error: Mapping[str, Any]) -> HandlerError:
    return HandlerError.from_object(error, default_type="Error")


class ProcessWorkerLauncher:
    """Starts ``ProcessWorker``s; see ``IWorkerLauncher``.

    Args:
        log_capture_bytes: Output kept per invocation (its tail).
        init_timeout: Seconds the handler's import may take, at least.
        python: The interpreter workers run; the gateway's own by default.
        output: Given the output of a long invocation as it arrives (the rest comes with
            the reply).
    """

    def __init__(
        self,
        *,
        log_capture_bytes: int = 64 * 1024,
        init_timeout: float = 10.0,
        python: str = sys.executable,
        output: OutputListener | None = None,
    ) -> None:
        self._output = output
        self._log_capture_bytes = log_capture_bytes
        self._init_timeout = init_timeout
        self._python = python

    async def launch(self, function: FunctionEntity) -> ProcessWorker:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                _WorkerProtocol,
                self._python,
                "-m",
                "lockgate.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._environment(function),
                cwd=str(function.code_dir),
                start_new_session=True,
            )
        except OSError as exc:
            raise WorkerCrashedError(
                f"could not start a worker for function {function.name!r}: {exc.strerror}",
                reached_handler=False,
                function=function.name,
            ) from exc
        worker = ProcessWorker(transport, protocol, function, self._output, self._log_capture_bytes)
        try:
            async with asyncio.timeout(max(self._init_timeout, function.timeout_seconds)):
                meta, _, logs = await protocol.expect_frame()
        except TimeoutError:
            await _discard(worker)
            raise FunctionInitError(
                f"function {function.name!r} did not finish initialising in time",
                error_type="Runtime.InitTimeout",
                function=function.name,
            ) from None
        except _WorkerGoneError:
            await _discard(worker)
            detail = protocol.early_stderr.splitlines()[-1:] or ["no output"]
            raise WorkerCrashedError(
                f"worker for function {function.name!r} exited before it was ready: {detail[0]}",
                reached_handler=False,
                function=function.name,
            ) from None
        except BaseException:  # cancelled (the pool closed while it started): reap it too
            await _discard(worker)
            raise
        if meta.get("type") == "init_error":
            await _discard(worker)
            error = _handler_error(meta.get("error") or {})
            raise FunctionInitError(
                f"function {function.name!r} failed to initialise: "
                f"{error.error_type}: {error.error_message}",
                error_type=error.error_type,
                error_message=error.error_message,
                function=function.name,
                logs=logs.decode(errors="replace")[-4096:],
                stack_trace=error.stack_trace,
            )
        return worker

    def _environment(self, function: FunctionEntity) -> dict[str, str]:
        env = lambda_environment(function, execution_env="AWS_Lambda_python3.11")
        package_root = str(Path(lockgate.__file__).resolve().parent.parent)
        # Set last: the worker's own wiring is not something a function can override.
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(
                    p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p
                ),
                "LOCKGATE_HANDLER": function.handler,
                "LOCKGATE_CODE_DIR": str(function.code_dir),
                "LOCKGATE_LOG_LIMIT": str(self._log_capture_bytes),
                "LOCKGATE_PARENT_PID": str(os.getpid()),
            }
        )
        return env


def lambda_environment(function: FunctionEntity, *, execution_env: str | None) -> dict[str, str]:
    """The variables every worker process starts with, native or custom runtime: a few
    inherited from the gateway, the ones Lambda itself sets (its documented runtime
    environment), then the function's own. Each worker has a log stream of its own, named
    as Lambda names an execution environment's (``2026/12/08/[$LATEST]`` and 32 hex
    digits).

    ``execution_env`` is ``AWS_EXECUTION_ENV``; None leaves it unset, as Lambda does for
    its OS-only (``provided``) runtimes, whose ``LAMBDA_RUNTIME_DIR`` is their code's folder.
    """
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    day = time.strftime("%Y/%m/%d", time.gmtime())
    env.update(
        {
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(function.timeout_seconds)),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{day}/[$LATEST]{secrets.token_hex(16)}",
            "_HANDLER": function.handler,
            "LAMBDA_TASK_ROOT": str(function.code_dir),
            "LAMBDA_RUNTIME_DIR": (
                _NATIVE_RUNTIME_DIR if execution_env is not None else str(function.code_dir)
            ),
        }
    )
    if execution_env is not None:
        env["AWS_EXECUTION_ENV"] = execution_env
    env.update(function.environment)
    return env
