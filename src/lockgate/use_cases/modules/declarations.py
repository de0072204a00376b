"""Checks on module declarations that need no code: the dependency graph's order (unknown
dependencies and cycles named), and the seed's ``AURA_MODULES`` dict read as declarations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lockgate.errors import ConfigError
from lockgate.models.module import ModuleDeclaration

__all__ = ["dependency_order", "modules_from_dict"]


def dependency_order(declarations: Mapping[str, ModuleDeclaration]) -> list[str]:
    """The module keys with every module after its dependencies (ties by declaration order).

    Raises:
        ConfigError: An unknown dependency or a cycle; names the module(s) at fault and,
            for a cycle, its path.
    """
    problems = [
        f"module {key!r} depends on {dep!r}, which is not declared "
        f"(modules: {', '.join(declarations)})"
        for key, declaration in declarations.items()
        for dep in declaration.dependencies
        if dep not in declarations
    ]
    problems += [
        f"module {key!r} lists itself among its dependencies"
        for key, declaration in declarations.items()
        if key in declaration.dependencies
    ]
    if problems:
        raise ConfigError("; ".join(problems), key="modules")
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(key: str, path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = [*path[path.index(key) :], key]
            raise ConfigError(
                f"modules depend on each other in a cycle: {' -> '.join(cycle)}",
                key=f"modules.{key}.dependencies",
            )
        state[key] = 1
        for dep in declarations[key].dependencies:
            visit(dep, [*path, key])
        state[key] = 2
        order.append(key)

    for key in declarations:
        visit(key, [])
    return order


def modules_from_dict(
    modules: Mapping[str, Any], *, code_dir: Any = None
) -> dict[str, ModuleDeclaration]:
    """The seed's ``AURA_MODULES`` dict as declarations.

    Raises:
        ConfigError: A module's entry is malformed; names the module and the key.
    """
    declarations: dict[str, ModuleDeclaration] = {}
    for key, entry in modules.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"module {key!r}: expected a dict (name, services_module, dependencies, "
                f"provides), got {type(entry).__name__}",
                key=f"modules.{key}",
            )
        if not isinstance(entry.get("services_module", ""), str):
            raise ConfigError(
                f"module {key!r}: services_module must be a dotted module path, got "
                f"{type(entry['services_module']).__name__}",
                key=f"modules.{key}.services_module",
            )
        unknown = sorted(set(entry) - {"name", "services_module", "dependencies", "provides"})
        if unknown or "services_module" not in entry:
            problem = f"unknown key(s) {unknown}" if unknown else "it needs 'services_module'"
            raise ConfigError(f"module {key!r}: {problem}", key=f"modules.{key}")
        try:
            declarations[key] = ModuleDeclaration(
                key=key,
                name=str(entry.get("name", key)),
                services_module=entry["services_module"],
                dependencies=tuple(_names(entry.get("dependencies", ()), key, "dependencies")),
                provides=tuple(_names(entry.get("provides", ()), key, "provides")),
                code_dir=code_dir,
            )
        except ValueError as exc:
            raise ConfigError(str(exc), key=f"modules.{key}") from None
    return declarations


def _names(value: Iterable[Any], key: str, field: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"module {key!r}: {field} must be a list of names", key=f"modules.{key}.{field}"
        )
    return list(value)
