"""The worker's loop: import the handler, then read an invocation, run it, reply, repeat."""

from __future__ import annotations

import importlib
import math
import os
import resource
import signal
import sys
import threading
import time

from lockgate.worker import fastjson
from lockgate.worker.capture import PLATFORM, OutputCapture
from lockgate.worker.context import ClientContext, LambdaContext
from lockgate.worker.protocol import FrameReader, encode_frame

# typing costs a worker ~15 ms to import; type checkers still read this block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeAlias

    Handler: TypeAlias = Callable[[Any, LambdaContext], Any]

__all__ = ["serve"]


def serve(control_in: int, control_out: int, env: Mapping[str, str]) -> int:
    _die_with_parent(env.get("LOCKGATE_PARENT_PID"))
    runtime = _Runtime(control_out, env)
    capture = runtime.capture
    try:
        handler = _load_handler(env["LOCKGATE_HANDLER"], env.get("LOCKGATE_CODE_DIR", "."))
    except BaseException as exc:
        logs, _, _, _ = capture.collect()
        runtime.send({"type": "init_error", "error": _init_error_dict(exc)}, logs=logs)
        return 1
    runtime.send({"type": "ready"})
    fastjson.upgrade_in_background()
    frames = FrameReader(control_in)
    while (frame := frames.read()) is not None:  # None: the gateway closed the pipe
        if runtime.invoke(handler, *frame):
            return 0
    return 0


class _Runtime:
    def __init__(self, control_out: int, env: Mapping[str, str]) -> None:
        self._out = control_out
        # The capture's drain thread sends output frames of long invocations while the main
        # thread may send a result: one frame at a time goes down the pipe.
        self._send_lock = threading.Lock()
        self.capture = OutputCapture(int(env.get("LOCKGATE_LOG_LIMIT", "65536")), self._live)
        self._loop: Any = None  # an asyncio loop, made on the first async handler call
        self._peak_memory = _PeakMemory()
        self._function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self._version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self._memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")  # a string, as on AWS
        self._log_group = env.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{self._function_name}")
        self._log_stream = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "lockgate")

    def send(self, meta: dict[str, Any], body: bytes = b"", logs: bytes = b"") -> None:
        frame = memoryview(encode_frame(meta, body, logs))
        with self._send_lock:
            while frame:
                written = os.write(self._out, frame)
                frame = frame[written:]

    def _live(self, output: bytes, runs: list[int]) -> None:
        self.send({"type": "log", "streams": runs}, logs=output)

    def invoke(self, handler: Handler, meta: dict[str, Any], body: bytes) -> bool:
        """Run one invocation and reply; True when the worker must exit afterwards."""
        request_id = str(meta["request_id"])
        _set_trace(meta.get("traceparent"))
        context = LambdaContext(
            aws_request_id=request_id,
            function_name=self._function_name,
            function_version=self._version,
            memory_limit_in_mb=self._memory,
            invoked_function_arn=str(meta["arn"]),
            log_group_name=self._log_group,
            log_stream_name=self._log_stream,
            deadline_ms=int(meta["deadline_ms"]),
            client_context=ClientContext.decode(meta.get("client_context")),
        )
        # Lambda's START/END/REPORT lines, added here rather than written to the pipe: two
        # fewer pipe writes and drain-thread wake-ups per invocation.
        start = f"START RequestId: {request_id} Version: {self._version}\n".encode()
        capture = self.capture
        capture.begin(start)
        payload, error, must_exit, duration_ms = self._run(handler, body, context)
        max_rss_mb = self._peak_memory.megabytes()
        output, runs, dropped, went_live = capture.collect()
        end = (
            f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t"
            f"Duration: {duration_ms:.2f} ms\tBilled Duration: {math.ceil(duration_ms)} ms\t"
            f"Memory Size: {self._memory} MB\t"
            f"Max Memory Used: {max_rss_mb} MB\n"
        ).encode()
        if went_live:  # the START line went first, with the output of a long invocation
            logs = output + end
            runs = [*runs, PLATFORM, len(end)]
        else:
            logs = b"".join((start, output, end))
            runs = [PLATFORM, len(start), *runs, PLATFORM, len(end)]
        self.send(
            {
                "type": "result",
                "error": error,
                "duration_ms": duration_ms,
                "logs_dropped": dropped,
                "streams": runs,
            },
            body=payload,
            logs=logs,
        )
        return must_exit

    def _run(
        self, handler: Handler, body: bytes, context: LambdaContext
    ) -> tuple[bytes, dict[str, Any] | None, bool, float]:
        """The JSON result or error, whether to exit, and the handler's own milliseconds."""
        request_id = context.aws_request_id
        try:
            event = fastjson.loads(body) if body else {}
        except ValueError as exc:
            error = _error_dict(exc, "Runtime.UnmarshalError", request_id=request_id)
            return b"", error, False, 0.0
        # Only the handler is timed: decoding and encoding count as the gateway's overhead.
        started = time.perf_counter()
        try:
            result = handler(event, context)
            if hasattr(type(result), "__await__"):  # inspect is too heavy to import here
                result = self._event_loop().run_until_complete(_await(result))
        except SystemExit as exc:
            # sys.exit() in a handler ends the worker, as it ends a Lambda sandbox.
            error = _error_dict(exc, "Runtime.ExitError", request_id=request_id)
            return b"", error, True, _since(started)
        except Exception as exc:
            duration_ms = _since(started)
            import traceback  # noqa: PLC0415 - loaded on the first error, not at start-up

            # Printed as Lambda prints it, without this runtime's own frame.
            traceback.print_exception(
                type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None
            )
            error = _error_dict(exc, type(exc).__name__, 1, request_id)
            return b"", error, False, duration_ms
        duration_ms = _since(started)
        try:
            encoded = fastjson.dumps_result(result, _json_default)
            return encoded, None, False, duration_ms
        except (TypeError, ValueError) as exc:
            marshal = TypeError(f"Unable to marshal response: {exc}")
            error = _error_dict(marshal, "Runtime.MarshalError", request_id=request_id)
            return b"", error, False, duration_ms

    def _event_loop(self) -> Any:
        # One loop for the worker's life, so async handlers can keep clients across calls.
        # asyncio is imported only here: sync-only workers stay a few MB smaller.
        if self._loop is None:
            import asyncio  # noqa: PLC0415

            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
        return self._loop


class _PeakMemory:
    """The worker's peak resident memory, for REPORT's "Max Memory Used".

    Not ``ru_maxrss``: it survives exec, so a worker spawned by vfork would report the
    gateway's peak. The resident size in /proc/self/statm is this program's alone; it is read
    after each invocation (one ``pread`` of a file kept open, far cheaper than
    /proc/self/status) and the largest reading kept, as Lambda samples its own figure.
    """

    def __init__(self) -> None:
        self._peak_pages = 0
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
        try:
            self._fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self._fd = None

    def megabytes(self) -> int:
        if self._fd is None:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        resident = int(os.pread(self._fd, 128, 0).split()[1])
        self._peak_pages = max(self._peak_pages, resident)
        return round(self._peak_pages * self._page_mb)


def _set_trace(traceparent: Any) -> None:
    """Lambda sets ``_X_AMZN_TRACE_ID`` for every invocation (X-Ray's SDK, Powertools and
    AWS's OpenTelemetry propagator read it); ``TRACEPARENT`` is OpenTelemetry's own
    environment carrier for the same span. The gateway sends the W3C spelling alone (one
    field less on its side of every traced call); AWS's is made here from it: the same ids,
    the X-Ray root being ``1-`` + the trace id's first 8 hex digits + ``-`` + its other 24.
    An untraced invocation gets a fresh, unsampled root of its own, as on Lambda, and no
    ``TRACEPARENT``: it must not see the last invocation's."""
    environ = os.environ
    if traceparent:
        traceparent = str(traceparent)
        _, trace_id, span_id, flags = traceparent.split("-", 3)
        sampled = int(flags[:2], 16) & 1
        environ["_X_AMZN_TRACE_ID"] = (
            f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={span_id};Sampled={sampled}"
        )
        environ["TRACEPARENT"] = traceparent
        return
    environ["_X_AMZN_TRACE_ID"] = (
        f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};"
        f"Parent={os.urandom(8).hex()};Sampled=0"
    )
    environ.pop("TRACEPARENT", None)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _json_default(value: object) -> object:
    import decimal  # noqa: PLC0415 - only a handler returning a non-JSON type pays for it

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _load_handler(spec: str, code_dir: str) -> Handler:
    """The handler ``module:attribute`` names, imported from ``code_dir``; ``lockgate check``
    and ``lockgate serve`` start a worker to run this too, so they and a call agree."""
    module_name, _, attribute = spec.partition(":")
    sys.path.insert(0, os.path.abspath(code_dir))
    try:
        module = importlib.import_module(module_name)
    except (ImportError, SyntaxError) as exc:
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name == module_name.partition(".")[0]:
            hint = _did_you_mean(exc.name, _top_level_modules(code_dir))
        # Lambda's wording, which users grep their logs for.
        raise _ImportModuleError(f"Unable to import module '{module_name}': {exc}{hint}") from exc
    try:
        handler = getattr(module, attribute)
    except AttributeError:
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise _HandlerNotFoundError(
            f"Handler '{attribute}' missing on module '{module_name}'"
            f"{_did_you_mean(attribute, names)}"
        ) from None
    if not callable(handler):
        raise _HandlerNotFoundError(
            f"Handler '{attribute}' on module '{module_name}' is not callable"
        )
    return handler  # type: ignore[no-any-return]


def _top_level_modules(code_dir: str) -> list[str]:
    """The modules and packages directly in ``code_dir`` (only asked after an import failed)."""
    try:
        entries = os.listdir(code_dir)
    except OSError:
        return []
    return [
        name.removesuffix(".py")
        for name in entries
        if name.endswith(".py") or os.path.isfile(os.path.join(code_dir, name, "__init__.py"))
    ]


def _did_you_mean(name: str, choices: list[str]) -> str:
    import difflib  # noqa: PLC0415 - only a handler that fails to load pays for it

    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class _HandlerNotFoundError(Exception):
    pass


class _ImportModuleError(Exception):
    pass


def _init_error_type(exc: BaseException) -> str:
    if isinstance(exc, _HandlerNotFoundError):
        return "Runtime.HandlerNotFound"
    if isinstance(exc, _ImportModuleError):
        return "Runtime.ImportModuleError"
    return "Runtime.InitError"


def _error_dict(
    exc: BaseException, error_type: str, skip_frames: int = 0, request_id: str = ""
) -> dict[str, Any]:
    """Lambda's error object, as its Python runtime makes it: ``requestId`` is the
    invocation's (empty for an init error)."""
    import traceback  # noqa: PLC0415 - loaded on the first error, not at start-up

    frames = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    return {
        "errorMessage": str(exc),
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def _init_error_dict(exc: BaseException) -> dict[str, Any]:
    """Lambda's error object for a failed init; its stack trace is the handler module's own
    (the cause of our re-raise), without the import machinery's frames."""
    import traceback  # noqa: PLC0415 - loaded on the first error, not at start-up

    error = _error_dict(exc, _init_error_type(exc))
    origin = exc.__cause__ or exc
    machinery = (__file__, importlib.__file__)
    frames = [
        frame
        for frame in traceback.extract_tb(origin.__traceback__)
        if frame.filename not in machinery and not frame.filename.startswith("<frozen importlib")
    ]
    if origin is not exc:
        error["stackTrace"] = traceback.format_list(frames)
    return error


def _die_with_parent(parent_pid: str | None) -> None:
    """Ask Linux to SIGKILL this worker when the gateway dies, however it dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # noqa: PLC0415 - only needed on Linux, and only once

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    # The parent may have died before prctl ran; then nobody would ever kill us.
    if parent_pid is not None and os.getppid() != int(parent_pid):
        os._exit(1)
