"""``--reload`` without a process: which folders are watched, what a changed file replaces,
a fresh import that leaves runs in flight their old module, and the reloader replacing
pools and workflow versions (with an in-memory watcher)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockgate.errors import WorkflowNotFoundError
from lockgate.gateways.stores.runs.memory import InMemoryRunStore
from lockgate.gateways.watch.memory import InMemoryFileWatcher
from lockgate.gateways.workers.memory import InMemoryWorkerLauncher
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig, WorkflowDeclaration
from lockgate.use_cases.functions.pool_manager import PoolManager
from lockgate.use_cases.reload.plan import plan_reload, watch_roots
from lockgate.use_cases.reload.reloader import CodeReloader
from lockgate.use_cases.resources.registry import ResourceRegistry
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder
from lockgate.use_cases.workflows.executor import WorkflowExecutor
from lockgate.use_cases.workflows.loader import forget_modules, load_workflow
from lockgate.use_cases.workflows.service import WorkflowService
from tests.support import eventually

FLOW = """\
from lockgate import AsyncWorkflowBuilder
from {package}.steps import VERSION


async def answer() -> dict:
    return {{"version": VERSION}}


def build():
    return AsyncWorkflowBuilder("flow").add_step("answer", answer)
"""


async def no_functions(name: str, payload: Any) -> Any:
    raise AssertionError(f"no function step here ({name})")


def function(name: str, code_dir: Path, **fields: Any) -> FunctionEntity:
    return FunctionEntity(name=name, handler="handlers:handler", code_dir=code_dir, **fields)


@pytest.fixture
def project(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A project whose workflow package (unique per test: modules are process-wide) has a
    module that imports a sibling."""
    package = f"reload_{request.node.name[-40:].replace('-', '_')}_{id(tmp_path)}"
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "handlers.py").write_text("def handler(e, c): return 1\n")
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "flow.py").write_text(FLOW.format(package=package))
    (tmp_path / package / "steps.py").write_text('VERSION = "one"\n')
    (tmp_path / "lockgate.toml").write_text("")
    yield tmp_path
    forget_modules([WorkflowDeclaration("flow", f"{package}.flow:build", tmp_path)])
    sys.path[:] = [p for p in sys.path if p != str(tmp_path)]


def package_of(project: Path) -> str:
    return next(p.name for p in project.iterdir() if p.name.startswith("reload_"))


def config_of(project: Path, **functions: FunctionEntity) -> GatewayConfig:
    declaration = WorkflowDeclaration("flow", f"{package_of(project)}.flow:build", project)
    return GatewayConfig(
        functions={"hello": function("hello", project / "fn"), **functions},
        workflows={"flow": declaration},
    )


# -- what is watched, and what a change replaces ------------------------------------------------


def test_the_watched_folders_are_the_outermost_existing_ones(tmp_path: Path) -> None:
    (tmp_path / "app" / "fn").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    config = GatewayConfig(
        functions={
            "inner": function("inner", tmp_path / "app" / "fn"),
            "other": function("other", tmp_path / "other"),
            "gone": function("gone", tmp_path / "missing"),
            "remote": FunctionEntity(
                name="remote",
                backend="aws-lambda",
                aws_arn="arn:aws:lambda:us-east-1:123456789012:function:remote",
                code_dir=tmp_path / "elsewhere",
            ),
        }
    )
    roots = watch_roots(config, tmp_path / "app" / "lockgate.toml")
    assert roots == ((tmp_path / "app").resolve(), (tmp_path / "other").resolve())


def test_a_changed_file_replaces_the_function_whose_folder_holds_it(project: Path) -> None:
    plan = plan_reload(config_of(project), project / "lockgate.toml", [project / "fn/data.json"])
    assert plan.functions == {"hello": ((project / "fn/data.json").resolve(),)}
    assert not plan.config
    assert not plan.workflows


def test_the_config_file_is_applied_whole_not_taken_for_a_function_change(
    project: Path,
) -> None:
    config = config_of(project, root=function("root", project))
    plan = plan_reload(config, project / "lockgate.toml", [project / "lockgate.toml"])
    assert plan.config
    assert not plan.functions
    assert not plan.workflows


def test_a_workflows_builder_module_is_not_taken_for_a_function_change(project: Path) -> None:
    config = config_of(project, root=function("root", project))
    package = project / package_of(project)
    plan = plan_reload(config, None, [package / "flow.py", package / "steps.py"])
    assert plan.functions == {"root": ((package / "steps.py").resolve(),)}  # it may import it
    assert set(plan.workflows) == {"flow"}


def test_a_workflow_reloads_for_a_python_file_of_its_package(project: Path) -> None:
    package = project / package_of(project)
    config = config_of(project)
    for changed in ("flow.py", "steps.py"):
        plan = plan_reload(config, None, [package / changed])
        assert plan.workflows == {"flow": ((package / changed).resolve(),)}
    assert not plan_reload(config, None, [package / "notes.txt"])
    assert not plan_reload(config, None, [project / "elsewhere.py"])


# -- a fresh import ----------------------------------------------------------------------------


def test_a_fresh_import_leaves_the_old_module_to_what_holds_it(project: Path) -> None:
    declaration = config_of(project).workflows["flow"]
    old = load_workflow(declaration)
    (project / package_of(project) / "steps.py").write_text('VERSION = "two, edited"\n')
    dropped = forget_modules([declaration])
    assert f"{package_of(project)}.steps" in dropped
    new = load_workflow(declaration)
    old_answer = old.steps["answer"].call
    new_answer = new.steps["answer"].call
    assert old_answer is not None
    assert new_answer is not None
    assert old_answer.__globals__["VERSION"] == "one"
    assert new_answer.__globals__["VERSION"] == "two, edited"


# -- the reloader ------------------------------------------------------------------------------


class Gateway:
    """The parts a reloader drives, over in-memory workers, store and watcher."""

    def __init__(self, project: Path) -> None:
        self.config = config_of(project)
        self.config_file = project / "lockgate.toml"
        self.next_config: GatewayConfig | None = None
        self.pools = PoolManager(InMemoryWorkerLauncher(self._handler))
        self.workflows = WorkflowService(
            InMemoryRunStore(),
            WorkflowExecutor(InMemoryRunStore(), no_functions),
            ResourceRegistry(),
            node_id="test",
        )
        for declaration in self.config.workflows.values():
            self.workflows.register_workflow(declaration.name, load_workflow(declaration))
        self.watcher = InMemoryFileWatcher()
        self.reloader = CodeReloader(
            self.watcher,
            config_file=self.config_file,
            config=lambda: self.config,
            apply_file=self._apply,
            pools=self.pools,
            workflows=self.workflows,
        )

    @staticmethod
    async def _handler(event: Any) -> Any:
        return event

    def _apply(self) -> GatewayConfig | None:
        if self.next_config is not None:
            self.config = self.next_config
        return self.next_config


@pytest.fixture
async def gateway(project: Path) -> AsyncIterator[Gateway]:
    gateway = Gateway(project)
    yield gateway
    await gateway.pools.close()


async def test_a_code_change_gives_the_function_a_new_pool_and_says_so(
    project: Path, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    old = gateway.pools.pool_for(gateway.config.functions["hello"])
    with caplog.at_level(logging.INFO, "lockgate.reload"):
        gateway.reloader.reload([project / "fn" / "handlers.py"])
    new = gateway.pools.pool_for(gateway.config.functions["hello"])
    assert new is not old
    assert gateway.pools.pools() == [new]
    await eventually(lambda: old.stats().draining)
    assert "reloaded function hello (handlers.py changed)" in caplog.messages
    assert gateway.workflows.get_workflow("flow").version == 1  # not its code


async def test_a_module_change_registers_the_workflows_next_version(
    project: Path, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    steps = project / package_of(project) / "steps.py"
    steps.write_text('VERSION = "two, edited"\n')
    with caplog.at_level(logging.INFO, "lockgate.reload"):
        gateway.reloader.reload([steps])
    registered = gateway.workflows.get_workflow("flow")
    assert registered.version == 2
    answer = registered.workflow.steps["answer"].call
    assert answer is not None
    assert answer.__globals__["VERSION"] == "two, edited"
    changed = f"{package_of(project)}/steps.py changed"
    assert f"reloaded workflow flow as version 2 ({changed})" in caplog.messages


async def test_a_module_that_fails_to_load_keeps_the_version_serving(
    project: Path, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    flow = project / package_of(project) / "flow.py"
    flow.write_text("def build(:\n")
    gateway.reloader.reload([flow])
    assert gateway.workflows.get_workflow("flow").version == 1
    refusal = f"reload of workflow flow refused ({package_of(project)}/flow.py changed), still"
    assert any(f"{refusal} serving version 1" in m for m in caplog.messages)


async def test_a_config_change_is_applied_and_a_changed_declaration_reloads(
    project: Path, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    declaration = gateway.config.workflows["flow"]
    gateway.next_config = GatewayConfig(
        functions=gateway.config.functions,
        workflows={"flow": WorkflowDeclaration("flow", declaration.builder, project, "new")},
    )
    with caplog.at_level(logging.INFO, "lockgate.reload"):
        gateway.reloader.reload([project / "lockgate.toml"])
    assert gateway.workflows.get_workflow("flow").version == 2
    assert gateway.workflows.get_workflow("flow").description == "new"
    assert "reloaded workflow flow as version 2 (lockgate.toml changed)" in caplog.messages
    assert not any("reloaded function" in m for m in caplog.messages)


async def test_the_watch_follows_the_folders_the_config_names(
    project: Path, gateway: Gateway
) -> None:
    more = function("more", project.parent / f"{project.name}-more")
    roots = folders(project, more.code_dir)
    task = asyncio.create_task(gateway.reloader.run())
    try:
        await asyncio.wait_for(gateway.watcher.watching.wait(), 10)
        assert gateway.watcher.watched == roots[:1]
        gateway.next_config = config_of(project, more=more)
        gateway.watcher.report([project / "lockgate.toml"])
        await eventually(lambda: gateway.watcher.watched == roots)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def folders(*paths: Path) -> tuple[Path, ...]:
    """``paths``, made and resolved, as the watcher is given them."""
    for path in paths:
        path.mkdir(exist_ok=True)
    return tuple(path.resolve() for path in paths)


def test_a_new_version_keeps_the_metadata_and_an_unknown_workflow_is_named() -> None:
    service = WorkflowService(
        InMemoryRunStore(),
        WorkflowExecutor(InMemoryRunStore(), no_functions),
        ResourceRegistry(),
        node_id="test",
    )
    workflow = AsyncWorkflowBuilder("w").add_async_code("a", "result = 1").build()
    service.register_workflow("w", workflow, metadata={"debug": True})
    replaced = service.replace_workflow("w", workflow)
    assert (replaced.version, replaced.metadata) == (2, {"debug": True})
    assert service.get_workflow("w").describe()["version"] == 2
    with pytest.raises(WorkflowNotFoundError):
        service.replace_workflow("nope", workflow)
