"""Loads the workflows ``lockgate.toml`` declares: imports each ``builder`` and calls it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from pathlib import Path

from lockgate.errors import ConfigError
from lockgate.models.gateway_config import WorkflowDeclaration
from lockgate.models.workflow import Workflow
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder

__all__ = ["forget_modules", "load_workflow"]


def load_workflow(declaration: WorkflowDeclaration) -> Workflow:
    """Import ``declaration.builder`` ("module:function") from its ``code_dir`` and build.

    The function may return the built ``Workflow`` or its ``AsyncWorkflowBuilder``.

    Raises:
        ConfigError: The module does not import, the function is missing, or what it
            returns is not a valid workflow; ``fields["key"]`` is ``workflows.NAME.builder``.

    Side Effects:
        Imports user code; puts ``code_dir`` on ``sys.path`` (so the module can import its
        siblings, as a handler can in its worker).
    """
    key = f"workflows.{declaration.name}.builder"
    module_name, _, attribute = declaration.builder.partition(":")
    folder = str(declaration.code_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
        build = getattr(module, attribute)
    except Exception as exc:
        raise ConfigError(
            f"{key}: cannot load {declaration.builder!r} from {folder}: "
            f"{type(exc).__name__}: {exc}",
            key=key,
        ) from exc
    try:
        built = build()
        if isinstance(built, AsyncWorkflowBuilder):
            built = built.build()
    except Exception as exc:
        raise ConfigError(f"{key}: {declaration.builder}() failed: {exc}", key=key) from exc
    if not isinstance(built, Workflow):
        raise ConfigError(
            f"{key}: {declaration.builder}() returned {type(built).__name__}, expected a "
            "workflow (AsyncWorkflowBuilder(...).build())",
            key=key,
        )
    return built


def forget_modules(
    declarations: Iterable[WorkflowDeclaration], changed: Iterable[Path] = ()
) -> list[str]:
    """Drop from ``sys.modules`` the package of each declaration's builder module and every
    module loaded from a ``changed`` file, so that ``load_workflow`` imports them afresh.

    Not ``importlib.reload``: it rewrites a module in place, under the step functions of
    the runs in flight; a fresh import leaves those runs the old module objects (their
    functions' globals), so they finish on the code they started with.

    Returns:
        The names of the modules dropped.

    Side Effects:
        Changes ``sys.modules``; calls ``importlib.invalidate_caches()`` so new files are
        found.
    """
    packages = {d.builder.partition(":")[0].partition(".")[0] for d in declarations}
    files = {path.resolve() for path in changed}
    dropped = [
        name
        for name, module in list(sys.modules.items())
        if name.partition(".")[0] in packages or (files and _file_of(module) in files)
    ]
    for name in dropped:
        del sys.modules[name]
    importlib.invalidate_caches()
    return dropped


def _file_of(module: object) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if isinstance(file, str) else None
