"""What a set of changed files means for a running gateway: which folders to watch, and
which functions and workflows (or the whole config) a change replaces."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lockgate.models.gateway_config import GatewayConfig, WorkflowDeclaration

__all__ = ["ReloadPlan", "plan_reload", "watch_roots"]


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """What to replace after some files changed.

    Attributes:
        config: The config file changed: re-read and apply it whole.
        functions: Function name -> the changed files in its ``code_dir``.
        workflows: Workflow name -> the changed Python files of its module's package.
        changed: Every changed file (to drop the modules loaded from them).
    """

    config: bool = False
    functions: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)
    workflows: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)
    changed: frozenset[Path] = frozenset()

    def __bool__(self) -> bool:
        return self.config or bool(self.functions) or bool(self.workflows)


def watch_roots(config: GatewayConfig, config_file: Path | None) -> tuple[Path, ...]:
    """The folders to watch (recursively): the config file's, each local function's
    ``code_dir`` and each workflow's; none inside another, none that does not exist."""
    folders = [config_file.parent] if config_file is not None else []
    folders += [f.code_dir for f in config.functions.values() if f.backend == "local"]
    folders += [w.code_dir for w in config.workflows.values()]
    resolved = sorted({folder.resolve() for folder in folders if folder.is_dir()})
    roots: list[Path] = []
    for folder in resolved:  # sorted: a folder comes after the ones that contain it
        if not any(folder.is_relative_to(root) for root in roots):
            roots.append(folder)
    return tuple(roots)


def plan_reload(
    config: GatewayConfig, config_file: Path | None, changed: Iterable[Path]
) -> ReloadPlan:
    """What the ``changed`` files replace under ``config`` (served from ``config_file``).

    A function is replaced when a file in its ``code_dir`` changed (any file: a handler
    may read its templates or data, and a ``provided`` runtime is not Python at all) but
    the config file and the workflows' builder modules; a workflow when a Python file of
    its module's package changed (its module, or any module in the package of a dotted
    one), since a workflow runs in the gateway's process.
    """
    files = frozenset(path.resolve() for path in changed)
    config_path = config_file.resolve() if config_file is not None else None
    # The config's own changes are applied whole; a workflow's builder module is the
    # workflow's (it runs in the gateway, not in a worker).
    code = files - {config_path} - {_module_file(w) for w in config.workflows.values()}
    functions = {
        function.name: hits
        for function in config.functions.values()
        if function.backend == "local" and (hits := _under(code, function.code_dir.resolve()))
    }
    workflows = {
        workflow.name: hits
        for workflow in config.workflows.values()
        if (hits := tuple(p for p in _python(files) if _of_workflow(p, workflow)))
    }
    return ReloadPlan(
        config=config_path in files, functions=functions, workflows=workflows, changed=files
    )


def _under(files: Iterable[Path], folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(path for path in files if path.is_relative_to(folder)))


def _python(files: Iterable[Path]) -> list[Path]:
    return sorted(path for path in files if path.suffix == ".py")


def _module_file(workflow: WorkflowDeclaration) -> Path:
    module = workflow.builder.partition(":")[0]
    return workflow.code_dir.resolve() / f"{module.replace('.', '/')}.py"


def _of_workflow(path: Path, workflow: WorkflowDeclaration) -> bool:
    """``path`` is the builder's top-level module, or inside its top-level package."""
    top = workflow.builder.partition(":")[0].partition(".")[0]
    folder = workflow.code_dir.resolve()
    return path == folder / f"{top}.py" or path.is_relative_to(folder / top)
