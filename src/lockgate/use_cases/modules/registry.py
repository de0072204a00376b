"""``ModuleRegistry``: the modules of a modular monolith, their services, and the calls
between them.

Start-up (``load`` then ``initialise``) validates the declarations (unknown dependencies,
cycles, services promised but not made, services modules that fail to import), naming the
module at fault, and makes every service in dependency order. A service whose constructor
raises leaves its module unhealthy with that message; the others keep working.

``get_module_service`` returns the one cached instance (thread- and task-safe construction)
or None, as the seed's callers expect. ``inter_module_call`` refuses a call to a module the
caller did not declare among its ``dependencies`` (an empty list means no module at all).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lockgate.errors import (
    ConfigError,
    ModuleCallError,
    ModuleDependencyError,
    ServiceUnavailableError,
)
from lockgate.models.module import ModuleDeclaration
from lockgate.use_cases.modules.declarations import dependency_order

__all__ = ["ModuleRegistry", "ServicesImporter"]

logger = logging.getLogger(__name__)

ServicesImporter = Callable[[ModuleDeclaration], Mapping[str, Any]]
"""Imports a module's ``services_module`` and returns what its ``get_services()`` returns."""

# A failed construction is tried again on a later request, but not more often than this.
_RETRY_AFTER = 1.0
# The services each thread is making, innermost last: a constructor asking for one of them
# is a cycle, reported instead of waiting forever on its own lock.
_making = threading.local()
_CYCLE = "its construction asks for itself"


class _Module:
    """One loaded module: its declaration, its factories, its made services."""

    def __init__(self, declaration: ModuleDeclaration, factories: Mapping[str, Any]) -> None:
        self.declaration = declaration
        self.factories = dict(factories)
        self.allowed = frozenset(declaration.dependencies)
        self.instances: dict[str, Any] = {}
        self.failures: dict[str, tuple[float, str]] = {}
        self.locks = {name: threading.Lock() for name in factories}


class ModuleRegistry:
    """Modules by key, their services, and guarded calls between them.

    Args:
        declarations: The modules, by key.
        importer: Loads a module's services (``get_services()`` of its services module).
        clock: Monotonic seconds (for retrying failed constructions).
    """

    def __init__(
        self,
        declarations: Mapping[str, ModuleDeclaration],
        importer: ServicesImporter,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._declarations = dict(declarations)
        self._importer = importer
        self._clock = clock
        self._modules: dict[str, _Module] = {}
        self._calls: dict[tuple[str, str], int] = {}
        self.order: list[str] = dependency_order(self._declarations)

    # -- start-up --------------------------------------------------------------------------

    def load(self) -> None:
        """Import every module's services and check each promised one is made.

        Raises:
            ConfigError: Every problem at once, each naming its module: a services module
                that fails to import, ``get_services`` missing or returning something other
                than a mapping, or a service in ``provides`` it does not return.
        """
        problems: list[str] = []
        modules: dict[str, _Module] = {}
        for key in self.order:
            declaration = self._declarations[key]
            try:
                factories = self._importer(declaration)
            except Exception as exc:  # user code: whatever it raises is the message
                problems.append(
                    f"module {key!r}: cannot load its services from "
                    f"{declaration.services_module!r}: {type(exc).__name__}: {exc}"
                )
                continue
            missing = [name for name in declaration.provides if name not in factories]
            if missing:
                problems.append(
                    f"module {key!r} provides {', '.join(map(repr, missing))}, but "
                    f"{declaration.services_module}.get_services() does not return "
                    f"{'it' if len(missing) == 1 else 'them'} (it returns: "
                    f"{', '.join(sorted(factories)) or 'nothing'})"
                )
                continue
            modules[key] = _Module(declaration, factories)
        if problems:
            raise ConfigError("; ".join(problems), key="modules")
        self._modules = modules

    def initialise(self) -> None:
        """Make every service, module by module in dependency order. A constructor that
        raises is remembered as its module's health message, not raised."""
        for key in self.order:
            module = self._modules.get(key)
            if module is None:
                continue
            for name in module.factories:
                self._make(module, name)

    # -- discovery -------------------------------------------------------------------------

    def get_module_service(self, module: str, service: str) -> Any | None:
        """The cached instance of ``service`` from ``module`` (the same object on every
        call), or None when the module or service does not exist or could not be made."""
        loaded = self._modules.get(module)
        if loaded is None:
            return None
        instance = loaded.instances.get(service)
        if instance is not None or service not in loaded.factories:
            return instance
        return self._make(loaded, service)

    def require_service(self, module: str, service: str) -> Any:
        """``get_module_service``, raising instead of returning None.

        Raises:
            ModuleCallError: No such module or service.
            ServiceUnavailableError: It exists but could not be made; says why.
        """
        loaded = self._checked_module(module)
        if service not in loaded.factories:
            raise ModuleCallError(
                f"module {module!r} has no service {service!r} (it has: "
                f"{', '.join(sorted(loaded.factories)) or 'none'})",
                module=module,
                service=service,
            )
        instance = self.get_module_service(module, service)
        if instance is None:
            _, reason = loaded.failures.get(service, (0.0, "it could not be made"))
            raise ServiceUnavailableError(
                f"service {module}.{service} is unavailable: {reason}",
                module=module,
                service=service,
            )
        return instance

    def inter_module_call(
        self,
        source_module: str,
        target_module: str,
        service: str,
        method: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Call ``target_module``'s ``service.method(*args, **kwargs)`` on behalf of
        ``source_module``. An async method's coroutine is returned for the caller to await.

        Raises:
            ModuleDependencyError: ``target_module`` is not among ``source_module``'s
                declared dependencies; names both and the allowed list.
            ModuleCallError: An unknown module, service or method.
            ServiceUnavailableError: The service could not be made.
        """
        source = self._checked_module(source_module, role="source")
        if target_module not in source.allowed:
            allowed = ", ".join(sorted(source.allowed)) or "none"
            raise ModuleDependencyError(
                f"module {source_module!r} may not call {target_module!r}: it is not among "
                f"{source_module!r}'s declared dependencies (allowed: {allowed})",
                source=source_module,
                target=target_module,
                allowed=sorted(source.allowed),
            )
        self._checked_module(target_module, role="target")
        instance = self.require_service(target_module, service)
        function = getattr(instance, method, None)
        if method.startswith("_") or not callable(function):
            raise ModuleCallError(
                f"service {target_module}.{service} has no method {method!r}",
                module=target_module,
                service=service,
                method=method,
            )
        pair = (source_module, target_module)
        self._calls[pair] = self._calls.get(pair, 0) + 1  # read by the metrics at scrape time
        return function(*args, **kwargs)

    def call_counts(self) -> dict[tuple[str, str], int]:
        """Allowed calls made so far, by (source, target)."""
        return dict(self._calls)

    # -- health ----------------------------------------------------------------------------

    def get_module_health(self, name: str) -> dict[str, Any]:
        """``{"status": "healthy"|"unhealthy", "name", "services": [...], "dependencies",
        "message"}`` from each service's own ``health()``/``ping()`` where it has a
        synchronous one, and from construction otherwise.

        Raises:
            ModuleCallError: No such module.
        """
        module = self._checked_module(name)
        problems: list[str] = []
        for service in module.factories:
            instance = self.get_module_service(name, service)
            if instance is None:
                _, reason = module.failures.get(service, (0.0, "it could not be made"))
                problems.append(f"{service}: {reason}")
                continue
            problem = _own_check(instance)
            if problem is not None:
                problems.append(f"{service}: {problem}")
        return self._report(name, sorted(module.factories), "; ".join(problems))

    def list_modules(self) -> dict[str, dict[str, Any]]:
        """Every module's health, by key, in dependency order."""
        return {key: self.get_module_health(key) for key in self.order if key in self._modules}

    async def check_module_health(self, name: str, check_timeout: float = 5.0) -> dict[str, Any]:
        """``get_module_health``, run on a thread (a slow synchronous ``health()`` must not
        stall the event loop) within ``check_timeout`` seconds, with the services'
        asynchronous ``health()``/``ping()`` awaited too, concurrently, each within it.

        Raises:
            ModuleCallError: No such module.
        """
        module = self._checked_module(name)
        try:
            async with asyncio.timeout(check_timeout):
                report = await asyncio.to_thread(self.get_module_health, name)
        except TimeoutError:
            report = self._report(
                name,
                sorted(module.factories),
                f"its services' health checks gave no answer within {check_timeout:g} s",
            )
        checks = {
            service: check
            for service, instance in module.instances.items()
            if (check := _async_check(instance)) is not None
        }
        if not checks:
            return report
        results = await asyncio.gather(
            *(_awaited(check, check_timeout) for check in checks.values())
        )
        problems = [f"{s}: {p}" for s, p in zip(checks, results, strict=True) if p is not None]
        if problems:
            earlier = report["message"] if report["status"] != "healthy" else ""
            report["status"] = "unhealthy"
            report["message"] = "; ".join(filter(None, [earlier, *problems]))
        return report

    async def check_modules(self, check_timeout: float = 5.0) -> dict[str, dict[str, Any]]:
        """``list_modules`` with asynchronous checks awaited (see ``check_module_health``)."""
        keys = [key for key in self.order if key in self._modules]
        reports = await asyncio.gather(
            *(self.check_module_health(key, check_timeout) for key in keys)
        )
        return dict(zip(keys, reports, strict=True))

    def modules(self) -> list[ModuleDeclaration]:
        return [self._declarations[key] for key in self.order]

    # -- helpers ---------------------------------------------------------------------------

    def _report(self, name: str, services: list[str], problem: str) -> dict[str, Any]:
        declaration = self._declarations[name]
        return {
            "status": "unhealthy" if problem else "healthy",
            "name": declaration.name,
            "services": services,
            "dependencies": list(declaration.dependencies),
            "message": problem or f"{len(services)} service(s) available",
        }

    def _checked_module(self, name: str, *, role: str = "") -> _Module:
        module = self._modules.get(name)
        if module is None:
            known = ", ".join(self.order) or "none"
            what = f"{role} module" if role else "module"
            raise ModuleCallError(f"unknown {what} {name!r} (modules: {known})", module=name)
        return module

    def _make(self, module: _Module, service: str) -> Any | None:
        key = (module.declaration.key, service)
        making: list[tuple[str, str]] = _making.__dict__.setdefault("stack", [])
        if key in making:  # a constructor asked, directly or not, for what it is making
            cycle = " -> ".join(f"{m}.{s}" for m, s in [*making[making.index(key) :], key])
            self._failed(module, service, f"{_CYCLE}: {cycle}")
            return None
        if self._failed_lately(module, service):
            return None
        with module.locks[service]:  # one construction, however many threads ask
            instance = module.instances.get(service)
            if instance is None and not self._failed_lately(module, service):
                making.append(key)
                try:
                    instance = module.factories[service]()
                    if instance is None:
                        raise TypeError("its factory returned None")
                except Exception as exc:  # the module's own code: reported, never raised
                    self._failed(module, service, f"{type(exc).__name__}: {exc}")
                    instance = None
                finally:
                    making.pop()
                if instance is not None and self._failed_lately(module, service, cycle=True):
                    instance = None  # made with a None for the service that asked for it
                if instance is not None:
                    module.failures.pop(service, None)
                    module.instances[service] = instance
            return instance

    def _failed(self, module: _Module, service: str, reason: str) -> None:
        module.failures[service] = (self._clock(), reason)
        logger.error(
            "module %r: service %r could not be made: %s", module.declaration.key, service, reason
        )

    def _failed_lately(self, module: _Module, service: str, *, cycle: bool = False) -> bool:
        """Whether making ``service`` failed less than ``_RETRY_AFTER`` ago (with ``cycle``:
        failed because its construction asked for itself)."""
        failed = module.failures.get(service)
        if failed is None or self._clock() - failed[0] >= _RETRY_AFTER:
            return False
        return not cycle or failed[1].startswith(_CYCLE)


def _own_check(instance: Any) -> str | None:
    """A service's own ``health()`` or ``ping()``: None when fine, else what is wrong."""
    for name in ("health", "ping"):
        check = getattr(instance, name, None)
        if not callable(check):
            continue
        if inspect.iscoroutinefunction(check):
            return None  # asynchronous checks run in check_health, not here
        try:
            result = check()
        except Exception as exc:  # a failing check is what it reports
            return f"{name}() raised {type(exc).__name__}: {exc}"
        if result is False:
            return f"{name}() returned False"
        if isinstance(result, Mapping) and result.get("status") not in (None, "healthy", "ok"):
            return str(result.get("message") or f"{name}() reported {result.get('status')}")
        return None
    return None


def _async_check(instance: Any) -> Callable[[], Awaitable[Any]] | None:
    for name in ("health", "ping"):
        check = getattr(instance, name, None)
        if callable(check):
            return check if inspect.iscoroutinefunction(check) else None
    return None


async def _awaited(check: Callable[[], Awaitable[Any]], limit: float) -> str | None:
    """What is wrong according to an asynchronous check, or None."""
    try:
        async with asyncio.timeout(limit):
            result = await check()
    except TimeoutError:
        return f"its health check gave no answer within {limit:g} s"
    except Exception as exc:  # a failing check is what it reports
        return f"its health check raised {type(exc).__name__}: {exc}"
    if result is False:
        return "its health check returned False"
    if isinstance(result, Mapping) and result.get("status") not in (None, "healthy", "ok"):
        return str(result.get("message") or f"its health check reported {result.get('status')}")
    return None
