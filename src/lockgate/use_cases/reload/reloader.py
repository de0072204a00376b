"""``CodeReloader``: ``lockgate serve --reload``. Watches the config file and the code it
names, and replaces what changed while the gateway keeps answering."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from lockgate.errors import LockgateError
from lockgate.gateways.interfaces import IFileWatcher
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from lockgate.use_cases.functions.pool_manager import PoolManager
from lockgate.use_cases.reload.plan import plan_reload, watch_roots
from lockgate.use_cases.workflows.loader import forget_modules, load_workflow
from lockgate.use_cases.workflows.service import WorkflowService

__all__ = ["CodeReloader"]

logger = logging.getLogger("lockgate.reload")


class CodeReloader:
    """Replaces what a batch of changed files touches, one log line for each thing replaced.

    * A function whose ``code_dir`` holds a changed file gets a new pool: calls in flight
      finish on the old workers (which then exit), new calls start workers on the new code.
    * A workflow whose module (or package) changed is imported afresh and registered as its
      next version: new runs use it, runs in flight finish on the code they started with.
    * The config file is re-read and applied whole, as on SIGHUP; a workflow whose
      declaration it changed is reloaded as above.

    A change that fails to load (a syntax error, a bad config) is logged and leaves the
    previous version serving; the next save tries again.

    Args:
        watcher: Reports changed files.
        config_file: The ``lockgate.toml`` served, if any.
        config: The configuration in force now (it changes on reload and SIGHUP).
        apply_file: Re-reads and applies ``config_file``; the configuration then in force,
            or None when the file was refused (it logs why).
        pools: Gives a function new workers.
        workflows: Where workflows are registered.
    """

    def __init__(
        self,
        watcher: IFileWatcher,
        *,
        config_file: Path | None,
        config: Callable[[], GatewayConfig],
        apply_file: Callable[[], GatewayConfig | None],
        pools: PoolManager,
        workflows: WorkflowService,
    ) -> None:
        self._watcher = watcher
        self._config_file = config_file
        self._config = config
        self._apply_file = apply_file
        self._pools = pools
        self._workflows = workflows
        # Python files changed since the last workflow reload: a helper a workflow imports
        # from outside its package is imported afresh when that workflow next reloads.
        self._stale: set[Path] = set()

    async def run(self) -> None:
        """Watch and reload until cancelled; the folders watched follow the config."""
        while True:
            roots = watch_roots(self._config(), self._config_file)
            if not roots:
                logger.warning("--reload: no config file or code folder to watch")
                return
            logger.info("watching %s for changes", ", ".join(map(str, roots)))
            try:
                async with contextlib.aclosing(self._watcher.changes(roots)) as batches:
                    async for changed in batches:
                        try:
                            self.reload(changed)
                        except Exception:  # a bug here must not end the watch
                            logger.exception("reload after %s changed failed", sorted(changed))
                        if watch_roots(self._config(), self._config_file) != roots:
                            break  # the config names other folders now: watch those
            except OSError as exc:
                logger.error("--reload stopped: cannot watch %s: %s", roots, exc)
                return

    def reload(self, changed: Iterable[Path]) -> None:
        """Replace what ``changed`` touches (see the class)."""
        before = self._config()
        plan = plan_reload(before, self._config_file, changed)
        after = before
        if plan.config:
            after = self._apply_file() or before
        for name, files in plan.functions.items():
            function = after.functions.get(name)
            # Gone, or the config changed it too and ``apply`` gave it a new pool already.
            if function is not None and function.config_hash == before.functions[name].config_hash:
                self._renew(function, files)
        reasons = {
            name: _changed(files, after.workflows[name].code_dir)
            for name, files in plan.workflows.items()
            if name in after.workflows
        }
        for name, declaration in after.workflows.items():
            if name in before.workflows and before.workflows[name] != declaration:
                reasons.setdefault(name, f"{_name(self._config_file)} changed")
        self._stale |= {path for path in plan.changed if path.suffix == ".py"}
        self._reload_workflows(after, reasons)

    def _renew(self, function: FunctionEntity, files: tuple[Path, ...]) -> None:
        self._pools.renew(function.name)
        self._pools.pool_for(function).ensure_min_warm()
        logger.info("reloaded function %s (%s)", function.name, _changed(files, function.code_dir))

    def _reload_workflows(self, config: GatewayConfig, reasons: Mapping[str, str]) -> None:
        declarations = [config.workflows[name] for name in reasons if name in self._workflows]
        if not declarations:
            return
        forget_modules(declarations, self._stale)
        self._stale.clear()
        for declaration in declarations:
            name = declaration.name
            try:
                registered = self._workflows.replace_workflow(
                    name,
                    load_workflow(declaration),
                    declaration.required_resources,
                    declaration.description,
                )
            except LockgateError as exc:
                version = self._workflows.get_workflow(name).version
                logger.error(
                    "reload of workflow %s refused (%s), still serving version %d: %s",
                    name,
                    reasons[name],
                    version,
                    exc.message,
                )
                continue
            logger.info(
                "reloaded workflow %s as version %d (%s)", name, registered.version, reasons[name]
            )


def _changed(files: Iterable[Path], folder: Path) -> str:
    """``handler.py changed``, ``a.py, b.py changed``, ``a.py, b.py and 3 more changed``."""
    root = folder.resolve()
    names = [str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in files]
    shown = ", ".join(names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"{shown}{more} changed"


def _name(path: Path | None) -> str:
    return path.name if path is not None else "the config"
