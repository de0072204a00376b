"""Custom runtimes as workers: ``awslambdaric`` and a shell ``bootstrap`` speak the Runtime API
to real worker processes, driven through the same pool, backend and invoker as native ones."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import uvloop

from lockgate.errors import FunctionInitError, InvocationTimeoutError, WorkerCrashedError
from lockgate.gateways.metrics.prometheus import PrometheusMetrics
from lockgate.gateways.workers.launcher import RuntimeWorkerLauncher
from lockgate.gateways.workers.process import ProcessWorkerLauncher
from lockgate.gateways.workers.runtime_api.worker import RuntimeApiWorkerLauncher
from lockgate.models.function import FunctionEntity, ScalingConfig
from lockgate.models.invocation import InvocationResult, WorkerInvocation
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.pool_backend import PoolInvocationBackend
from lockgate.use_cases.functions.pool_manager import PoolManager
from lockgate.use_cases.functions.registry import FunctionRegistry
from tests.e2e.gateway_process import alive
from tests.support import eventually

APP_DIR = Path(__file__).parent / "runtime_app"
NATIVE_APP_DIR = Path(__file__).parents[1] / "e2e" / "app"
NEXT = "/2018-06-01/runtime/invocation/next"


def ric(handler: str, **changes: Any) -> FunctionEntity:
    """A function run by the official Python runtime interface client."""
    values: dict[str, Any] = {
        "name": handler.rsplit(".", 1)[-1].replace("_", "-"),
        "runtime": "provided",
        "command": (sys.executable, "-m", "awslambdaric", handler),
        "handler": handler,
        "code_dir": APP_DIR,
        "timeout_seconds": 30,
        "scaling": ScalingConfig(max_capacity=2),
    }
    values.update(changes)
    return FunctionEntity(**values)


def shell(mode: str, **changes: Any) -> FunctionEntity:
    """A function run by the shell ``bootstrap``; ``mode`` is its handler."""
    values: dict[str, Any] = {
        "name": f"sh-{mode}",
        "runtime": "provided",
        "command": ("./bootstrap",),
        "handler": mode,
        "code_dir": APP_DIR,
        "timeout_seconds": 30,
        "scaling": ScalingConfig(max_capacity=2),
    }
    values.update(changes)
    return FunctionEntity(**values)


@dataclass
class Gateway:
    registry: FunctionRegistry
    manager: PoolManager
    invoker: LambdaInvoker

    async def invoke(self, function: FunctionEntity, event: Any, **kwargs: Any) -> InvocationResult:
        self.registry.register(function)
        return await self.invoker.invoke_function(
            function.name, json.dumps(event).encode(), **kwargs
        )


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    launcher = RuntimeWorkerLauncher(
        native=ProcessWorkerLauncher(), provided=RuntimeApiWorkerLauncher(init_timeout=0.5)
    )
    registry = FunctionRegistry()
    manager = PoolManager(launcher)
    invoker = LambdaInvoker(registry, PoolInvocationBackend(manager), PrometheusMetrics())
    try:
        yield Gateway(registry, manager, invoker)
    finally:
        await manager.close()


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode()


def payload(result: InvocationResult) -> Any:
    assert result.payload is not None, result
    return json.loads(result.payload)


# -- awslambdaric -----------------------------------------------------------------------------


async def test_awslambdaric_echoes_an_event_with_its_output_in_the_logs(gateway: Gateway) -> None:
    event = {"greeting": "hello", "items": [1, 2, 3], "nested": {"ok": True}}
    result = await gateway.invoke(ric("handlers.echo"), event)
    assert result.success, result
    assert payload(result) == event
    logs = result.logs.decode()
    assert "echo handler saw {'greeting': 'hello'" in logs
    assert logs.startswith("START RequestId: ")
    assert "\nREPORT RequestId: " in logs


async def test_a_warm_runtime_serves_invocation_after_invocation(gateway: Gateway) -> None:
    function = ric("handlers.pid")
    pids = [payload(await gateway.invoke(function, {}))["pid"] for _ in range(3)]
    assert len(set(pids)) == 1
    first = await gateway.invoke(function, {})
    assert first.cold_start is False


async def test_context_fields_reach_the_handler(gateway: Gateway) -> None:
    function = ric("handlers.context_fields", aliases=("live",), environment={"DECLARED": "yes"})
    client_context = base64.b64encode(
        json.dumps({"custom": {"tenant": "acme"}, "env": {"locale": "fr"}}).encode()
    ).decode()
    result = await gateway.invoke(
        function,
        {},
        request_id="req-context-1",
        client_context=client_context,
        qualifier="live",
    )
    fields = payload(result)
    assert fields["request_id"] == "req-context-1"
    assert 0 < fields["remaining_ms"] <= 30_000
    assert fields["arn"] == f"{function.arn}:live"
    assert fields["client_custom"] == {"tenant": "acme"}
    assert fields["client_env"] == {"locale": "fr"}
    assert fields["function_name"] == function.name
    assert fields["memory"] == "128"
    assert fields["handler_env"] == "handlers.context_fields"
    assert fields["execution_env"] is None  # as on Lambda's OS-only runtimes
    assert fields["task_root"] == str(APP_DIR)
    assert fields["declared"] == "yes"


@pytest.mark.parametrize(
    "client_context",
    [
        None,
        {"custom": {"tenant": "acme"}, "env": {"locale": "fr"}},
        {"client": {"app_title": "shop", "installation_id": "i-1"}, "custom": {"n": 1}},
    ],
    ids=["none", "no-client", "client"],
)
async def test_native_workers_give_the_context_and_environment_awslambdaric_gives(
    gateway: Gateway, client_context: dict[str, Any] | None
) -> None:
    """One handler, run by awslambdaric and by the native worker: the same types, values
    and environment (``memory_limit_in_mb`` a string, ``identity`` and ``client`` objects
    with every attribute, AWS's log stream names, ``LANG``, ``_HANDLER`` ...)."""
    encoded = (
        None
        if client_context is None
        else base64.b64encode(json.dumps(client_context).encode()).decode()
    )
    shapes = []
    for function in (
        ric("handlers.context_shape", name="shape-ric", memory_size_mb=256),
        replace(
            ric("handlers.context_shape", name="shape-native", memory_size_mb=256),
            runtime="python",
            command=(),
            handler="handlers:context_shape",
        ),
    ):
        shape = payload(await gateway.invoke(function, {}, client_context=encoded))
        # What differs by construction: the function's name and handler spelling.
        for key in ("_HANDLER", "AWS_LAMBDA_FUNCTION_NAME"):
            shape["env"].pop(key)
        shape["log_group"] = shape["log_group"].rsplit("/", 1)[0]
        shape["env"]["AWS_LAMBDA_LOG_GROUP_NAME"] = shape["log_group"]
        assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", shape["log_stream"])
        assert shape["env"].pop("AWS_LAMBDA_LOG_STREAM_NAME") == shape.pop("log_stream")
        shapes.append(shape)
    ric_shape, native_shape = shapes
    assert native_shape == ric_shape
    assert native_shape["memory"] == "256"
    assert native_shape["identity"] == [None, None]
    assert native_shape["env"]["LANG"] == "en_US.UTF-8"
    assert native_shape["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert native_shape["has_runtime_dir"]


async def test_a_failed_invocations_payload_is_awslambdarics_on_a_native_worker_too(
    gateway: Gateway,
) -> None:
    """``errorMessage``, ``errorType``, ``requestId`` (the invocation's), ``stackTrace``, in
    that order, whichever runtime ran the handler."""
    bodies = []
    for function in (
        ric("handlers.fail", name="fail-ric"),
        replace(
            ric("handlers.fail", name="fail-native"),
            runtime="python",
            command=(),
            handler="handlers:fail",
        ),
    ):
        result = await gateway.invoke(function, {"why": "x"}, request_id=f"req-{function.name}")
        assert result.function_error == "Unhandled"
        body = payload(result)
        assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
        assert body["requestId"] == f"req-{function.name}"
        assert (body["errorType"], body["errorMessage"]) == ("ValueError", "bad input: x")
        bodies.append(body)
    assert [len(b["stackTrace"]) for b in bodies] == [1, 1]  # the handler's frame alone


async def test_undecodable_client_context_is_dropped(gateway: Gateway) -> None:
    result = await gateway.invoke(
        ric("handlers.context_fields"), {}, client_context="not base64 json!"
    )
    assert payload(result)["client_custom"] is None


async def test_a_handler_exception_is_a_function_error(gateway: Gateway) -> None:
    result = await gateway.invoke(ric("handlers.fail"), {"why": "no name"})
    assert not result.success
    assert result.error is None
    assert result.function_error == "Unhandled"
    error = payload(result)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad input: no name"
    assert any("raise ValueError" in line for line in error["stackTrace"])
    assert "about to fail" in result.logs.decode()


async def test_a_missing_handler_module_is_an_init_error(gateway: Gateway) -> None:
    result = await gateway.invoke(ric("missing_module.handler", name="missing"), {})
    assert isinstance(result.error, FunctionInitError)
    assert result.error.error_type == "Runtime.ImportModuleError"
    assert result.status_code == 502
    assert "missing_module" in result.error.message


async def test_a_crash_mid_invoke_is_reported_and_the_worker_replaced(gateway: Gateway) -> None:
    crash = ric("handlers.crash", name="crasher")
    first = await gateway.invoke(crash, {})
    assert isinstance(first.error, WorkerCrashedError)
    assert first.error.reached_handler
    assert first.error.message.startswith("Runtime exited with error: exit status 9")
    assert first.status_code == 502
    second = await gateway.invoke(crash, {})  # a new worker, which crashes in turn
    assert isinstance(second.error, WorkerCrashedError)
    assert first.error.fields["worker"] != second.error.fields["worker"]


async def test_a_deadline_kills_the_runtime(gateway: Gateway, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    function = ric("handlers.hang", timeout_seconds=1, scaling=ScalingConfig(min_warm=1))
    # Warm first, so that the short deadline falls on the handler, not on a slow cold start.
    pool = gateway.manager.pool_for(function)
    pool.ensure_min_warm()
    await eventually(lambda: pool.stats().warm == 1)
    result = await gateway.invoke(function, {"pid_file": str(pid_file)})
    assert isinstance(result.error, InvocationTimeoutError)
    assert result.status_code == 504
    pid = int(pid_file.read_text())
    await eventually(lambda: not alive(pid))


async def test_concurrent_invocations_run_in_different_workers(
    gateway: Gateway, tmp_path: Path
) -> None:
    function = ric("handlers.rendezvous")
    event = {"folder": str(tmp_path), "count": 2}
    first, second = await asyncio.gather(
        gateway.invoke(function, event), gateway.invoke(function, event)
    )
    assert payload(first)["met"] == payload(second)["met"] == 2
    assert payload(first)["pid"] != payload(second)["pid"]


async def test_native_and_custom_runtimes_share_one_launcher(gateway: Gateway) -> None:
    native = FunctionEntity(name="native", handler="handlers:pid", code_dir=NATIVE_APP_DIR)
    custom = ric("handlers.pid")
    native_pid = payload(await gateway.invoke(native, {}))["pid"]
    custom_pid = payload(await gateway.invoke(custom, {}))["pid"]
    assert native_pid != custom_pid
    assert "awslambdaric" in command_line(custom_pid)
    assert "lockgate.worker" in command_line(native_pid)


# -- the shell bootstrap ----------------------------------------------------------------------


async def test_a_shell_bootstrap_loop_serves_events(gateway: Gateway) -> None:
    function = shell("echo")
    results = [await gateway.invoke(function, {"n": n}) for n in range(3)]
    assert [payload(r)["event"] for r in results] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert len({payload(r)["pid"] for r in results}) == 1
    assert "bootstrap: handling" in results[0].logs.decode()


async def test_a_custom_runtimes_output_is_handed_on_as_it_is_written(tmp_path: Path) -> None:
    """Whole lines go to the output listener while the invocation runs (START first); the
    reply's ``logs_live`` says how much of its logs went already, and its streams cover
    the rest: every line reaches the listener or the reply's rest, once."""
    seen: list[tuple[str, str, bytes, list[int]]] = []
    launcher = RuntimeWorkerLauncher(
        native=ProcessWorkerLauncher(),
        provided=RuntimeApiWorkerLauncher(
            output=lambda name, request_id, data, runs: seen.append(
                (name, request_id, data, list(runs))
            )
        ),
    )
    registry = FunctionRegistry()
    manager = PoolManager(launcher)
    invoker = LambdaInvoker(registry, PoolInvocationBackend(manager), PrometheusMetrics())
    go = tmp_path / "go"
    function = shell("slow", environment={"GO_FILE": str(go)})
    registry.register(function)
    try:
        call = asyncio.create_task(
            invoker.invoke_function(function.name, b"{}", request_id="req-live")
        )
        await eventually(lambda: any(b"step one" in data for *_, data, _ in seen))
        assert not call.done()
        assert seen[0][:2] == ("sh-slow", "req-live")
        assert seen[0][2].startswith(b"START RequestId: req-live")
        assert seen[0][3] == [0, len(seen[0][2])]  # Lambda's own line
        handed = b"".join(data for *_, data, _ in seen[1:])
        assert handed.endswith(b"step one, whole\n")
        assert [run[0] for *_, run in seen[1:]] == [1] * (len(seen) - 1)  # stdout
        go.touch()
        result = await call
    finally:
        await manager.close()
    assert result.success, result
    logs = result.logs
    assert logs.startswith(b"START RequestId: req-live")
    assert b"step two\n" in logs
    assert b"no newline at the end" in logs


async def test_a_custom_runtimes_reply_marks_what_went_live(gateway: Gateway) -> None:
    """The same through the worker directly: ``logs_live`` and the streams of the rest."""
    seen: list[bytes] = []
    launcher = RuntimeApiWorkerLauncher(output=lambda _n, _r, data, _s: seen.append(data))
    worker = await launcher.launch(shell("echo"))
    try:
        invocation = WorkerInvocation(
            request_id="req-1",
            payload=b'{"n": 1}',
            deadline_epoch_ms=int((time.time() + 30) * 1000),
            invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:sh-echo",
        )
        reply = await worker.invoke(invocation)
    finally:
        worker.kill()
        await worker.wait_closed()
    handed = b"".join(seen)
    assert reply.logs.startswith(handed)
    assert reply.logs_live == len(handed)
    assert handed.endswith(b"bootstrap: handling req-1\n")
    rest = reply.logs[reply.logs_live :]
    assert rest.startswith(b"END RequestId: req-1\nREPORT RequestId: req-1\t")
    assert list(reply.log_streams) == [0, len(rest)]


async def test_a_shell_bootstrap_posts_a_function_error(gateway: Gateway) -> None:
    result = await gateway.invoke(shell("error"), {})
    assert result.function_error == "Unhandled"
    assert payload(result) == {
        "errorMessage": "shell says no",
        "errorType": "ShellError",
        "stackTrace": ["bootstrap line 1"],
    }


async def test_a_post_to_an_unknown_request_id_is_rejected(gateway: Gateway) -> None:
    # The bootstrap first posts to a made-up id, then answers the real one with the status
    # that first post got.
    result = await gateway.invoke(shell("wrong-id"), {})
    assert result.success, result
    assert payload(result) == {"rejected_status": 400}


async def test_an_init_error_post_fails_the_start(gateway: Gateway) -> None:
    result = await gateway.invoke(shell("init-error"), {})
    assert isinstance(result.error, FunctionInitError)
    assert result.error.error_type == "Runtime.ConfigError"
    assert result.error.fields["error_message"] == "missing setting"
    assert "bootstrap: configuration is missing" in result.logs.decode()


async def test_a_shell_crash_is_reported_with_its_last_stderr_line(gateway: Gateway) -> None:
    function = shell("crash")
    before = payload(await gateway.invoke(function, {}))["pid"]
    crashed = await gateway.invoke(function, {"please": "crash"})
    assert isinstance(crashed.error, WorkerCrashedError)
    assert crashed.error.message == (
        "Runtime exited with error: exit status 7 (bootstrap: crashing on purpose)"
    )
    after = payload(await gateway.invoke(function, {}))["pid"]
    assert after != before
    assert not alive(before)


async def test_a_runtime_that_never_polls_times_out_and_is_reaped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    launcher = RuntimeApiWorkerLauncher(init_timeout=0.5)
    function = shell("never", timeout_seconds=0.5, environment={"PID_FILE": str(pid_file)})
    with pytest.raises(FunctionInitError) as caught:
        await launcher.launch(function)
    assert caught.value.error_type == "Runtime.InitTimeout"
    assert "did not finish initialising in time" in caught.value.message
    assert "(bootstrap: waiting forever)" in caught.value.message
    shell_pid, child_pid = (int(p) for p in pid_file.read_text().split())
    assert not alive(shell_pid)  # killed and reaped before launch() returned
    await eventually(lambda: not alive(child_pid))  # its whole process group went with it


async def test_an_init_timeout_is_reported_by_the_pool(gateway: Gateway, tmp_path: Path) -> None:
    function = shell("never", timeout_seconds=0.5, environment={"PID_FILE": str(tmp_path / "pids")})
    result = await gateway.invoke(function, {})
    assert result.error is not None
    pool = gateway.manager.pool_for(function)
    await eventually(lambda: pool.last_init_error is not None)
    assert "did not finish initialising in time" in str(pool.last_init_error)


async def test_a_command_that_does_not_exist_fails_to_start(gateway: Gateway) -> None:
    function = ric("handlers.echo", name="nothing", command=("./no-such-bootstrap",))
    result = await gateway.invoke(function, {})
    assert isinstance(result.error, WorkerCrashedError)
    assert "No such file or directory" in result.error.message


# -- the worker itself ------------------------------------------------------------------------


async def test_a_runtime_that_exits_before_taking_the_event_did_not_reach_the_handler(
    tmp_path: Path,
) -> None:
    # The runtime polls once, gives up on that poll (a client-side timeout) and goes quiet.
    # The abandoned poll must not swallow the event, so when the runtime then dies the
    # event provably never reached a handler: the caller may retry it elsewhere.
    marker = tmp_path / "gave-up"
    command = f'curl -s -m 0.2 "http://$AWS_LAMBDA_RUNTIME_API{NEXT}"; touch {marker}; sleep 600'
    function = shell("quiet", command=("sh", "-c", command))
    worker = await RuntimeApiWorkerLauncher().launch(function)
    try:
        await eventually(marker.exists)
        invocation = asyncio.ensure_future(worker.invoke(WorkerInvocation("r1", b"{}", 0, "arn")))
        await asyncio.sleep(0.05)  # let an (abandoned) poller see the event, as it would
        assert not invocation.done()
        os.killpg(worker.pid, signal.SIGKILL)
        with pytest.raises(WorkerCrashedError) as caught:
            await invocation
        assert caught.value.reached_handler is False
        assert "exited before it took the request: signal: killed" in caught.value.message
    finally:
        worker.kill()
        await worker.wait_closed()


async def test_the_runtime_dies_with_the_gateway(tmp_path: Path) -> None:
    # The runtime polls once, then ignores its API: only Linux's parent-death signal can
    # end it when the gateway is killed.
    pid_file = tmp_path / "pid"
    command = f'curl -s "http://$AWS_LAMBDA_RUNTIME_API{NEXT}"; sleep 600'
    script = textwrap.dedent(
        f"""
        import asyncio, pathlib
        from lockgate.gateways.workers.runtime_api.worker import RuntimeApiWorkerLauncher
        from lockgate.models.function import FunctionEntity

        async def main():
            function = FunctionEntity(
                name="orphan", runtime="provided", command=("sh", "-c", {command!r}),
                code_dir=pathlib.Path({str(APP_DIR)!r}),
            )
            worker = await RuntimeApiWorkerLauncher().launch(function)
            pathlib.Path({str(pid_file)!r}).write_text(f"{{worker.pid}}\\n")
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    gateway_process = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    runtime_pid = 0
    try:
        await eventually(lambda: pid_file.exists() and pid_file.read_text().endswith("\n"))
        runtime_pid = int(pid_file.read_text())
        assert alive(runtime_pid)
        gateway_process.kill()
        await gateway_process.wait()
        await eventually(lambda: not alive(runtime_pid))
    finally:
        if gateway_process.returncode is None:
            gateway_process.kill()
            await gateway_process.wait()
        if runtime_pid:  # the runtime's own children (the sleep) are not ours to leave behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(runtime_pid, signal.SIGKILL)


def test_a_custom_runtime_runs_on_uvloop() -> None:
    # The gateway serves on uvloop, whose subprocess transports are not asyncio's.
    async def scenario() -> tuple[InvocationResult, InvocationResult]:
        launcher = RuntimeApiWorkerLauncher()
        registry = FunctionRegistry([shell("echo"), ric("handlers.crash")])
        manager = PoolManager(launcher)
        invoker = LambdaInvoker(registry, PoolInvocationBackend(manager), PrometheusMetrics())
        try:
            return (
                await invoker.invoke_function("sh-echo", b'{"on": "uvloop"}'),
                await invoker.invoke_function("crash", b"{}"),
            )
        finally:
            await manager.close()

    echoed, crashed = uvloop.run(scenario())
    assert payload(echoed)["event"] == {"on": "uvloop"}
    assert isinstance(crashed.error, WorkerCrashedError)
    assert crashed.error.message.startswith("Runtime exited with error: exit status 9")
