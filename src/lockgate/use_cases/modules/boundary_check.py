"""``lockgate check``'s rules: which module's code may import which, read from the source.

The static twin of ``inter_module_call``'s runtime guard: a call that the gateway would refuse
at run time is usually an ``import`` that someone wrote first, and reading the imports finds it
before anything runs. Every ``.py`` file of each module's package (``code_package`` under its
``code_dir``) is parsed with :mod:`ast`, never imported, so a module's import-time side effects
cannot hide or fake anything. Every import counts: module level, inside functions, under
``try``, and under ``if TYPE_CHECKING:`` (reported too, marked, because a type-only import is
still a dependency the declarations should admit).

A file may import from another declared module only when that module is among its
``dependencies`` (an empty list admits none), and then only the module's ``services_module``
(and what lies under it), never its other internals. Imports of anything that is not a
declared module's package (the standard library, third-party packages, lockgate) are ignored.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lockgate.errors import ConfigError
from lockgate.models.module import ModuleDeclaration

__all__ = ["ImportedName", "Reader", "Violation", "check_boundaries", "imported_names"]

Reader = Callable[[Path], bytes]
"""Reads a source file's bytes (``Path.read_bytes`` unless a test gives another)."""

_TYPE_CHECKING_MARK = " (in an `if TYPE_CHECKING:` block)"


@dataclass(frozen=True, slots=True, order=True)
class Violation:
    """One import that crosses a boundary, or one file that could not be read.

    Attributes:
        file: The importing file (under its module's ``code_dir``).
        line: The import's line (a syntax error's line for a file that does not parse).
        source_module: The key of the module the file belongs to.
        target_module: The key of the module imported from ("" when the file did not parse).
        imported: The absolute dotted name imported (relative imports resolved).
        reason: What is wrong and what is allowed instead.
        type_checking: The import is under ``if TYPE_CHECKING:`` (only type checkers run it).
    """

    file: Path
    line: int
    source_module: str
    target_module: str
    imported: str
    reason: str
    type_checking: bool = False


@dataclass(frozen=True, slots=True)
class ImportedName:
    """One name an import statement brings in: ``import a.b`` gives ``a.b``, ``from a.b
    import c`` gives ``a.b.c`` (a submodule or an attribute: either way it comes from
    ``a.b``), ``from a.b import *`` gives ``a.b``."""

    line: int
    name: str
    type_checking: bool


def check_boundaries(
    modules: Iterable[ModuleDeclaration],
    *,
    root: Path | None = None,
    read: Reader = Path.read_bytes,
) -> list[Violation]:
    """Every boundary violation in the declared modules' code.

    Args:
        modules: The declarations (``GatewayConfig.modules.values()``).
        root: Where the packages of modules without a ``code_dir`` are (default: the
            current folder).
        read: Reads a source file.

    Returns:
        The violations sorted by file and line: imports of undeclared modules, imports of a
        dependency's internals, and files that cannot be read or parsed.

    Raises:
        ConfigError: A module's package is neither a folder nor a ``.py`` file under its
            ``code_dir`` (every such module is named).
    """
    declared = list(modules)
    base = root if root is not None else Path.cwd()
    locations = _locate(declared, base)
    violations: list[Violation] = []
    for module in declared:
        for file, dotted in _source_files(module, locations):
            violations.extend(_check_file(module, file, dotted, declared, read))
    return sorted(violations)


def imported_names(tree: ast.Module, package: str) -> list[ImportedName]:
    """Every name ``tree`` imports, anywhere in it, relative imports resolved against
    ``package`` (the file's package: itself for an ``__init__.py``); a relative import that
    climbs past the top-level package is left out (Python refuses it anyway)."""
    found: list[ImportedName] = []
    for node, type_checking in _import_nodes(tree):
        if isinstance(node, ast.Import):
            found.extend(
                ImportedName(node.lineno, alias.name, type_checking) for alias in node.names
            )
            continue
        origin = _absolute(node.module, node.level, package)
        if origin is None:
            continue
        for alias in node.names:
            name = origin if alias.name == "*" else f"{origin}.{alias.name}"
            found.append(ImportedName(node.lineno, name, type_checking))
    return found


# -- finding the files -----------------------------------------------------------------------


def _locate(modules: list[ModuleDeclaration], root: Path) -> dict[str, Path]:
    """Each module's package: its folder, or its ``.py`` file for a single-file package."""
    found: dict[str, Path] = {}
    missing: dict[str, str] = {}
    for module in modules:
        code_dir = module.code_dir if module.code_dir is not None else root
        stem = code_dir.joinpath(*module.code_package.split("."))
        if stem.is_dir():
            found[module.key] = stem
        elif (single := stem.with_name(stem.name + ".py")).is_file():
            found[module.key] = single
        else:
            missing[module.key] = (
                f"module {module.key!r}: package {module.code_package!r} not found "
                f"(expected the folder {stem} or the file {stem}.py)"
            )
    if missing:
        keys = [f"modules.{key}.package" for key in missing]
        raise ConfigError("; ".join(missing.values()), key=keys[0], keys=keys)
    return found


def _source_files(
    module: ModuleDeclaration, locations: dict[str, Path]
) -> Iterator[tuple[Path, str]]:
    """The module's ``.py`` files with their dotted names, sorted; a file inside another
    declared module's package nested in this one belongs to that module, not this one."""
    place = locations[module.key]
    if place.is_file():
        yield place, module.code_package
        return
    nested = [
        other for other in locations.values() if other != place and other.is_relative_to(place)
    ]
    for file in sorted(place.rglob("*.py")):
        relative = file.relative_to(place)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if any(file == other or file.is_relative_to(other) for other in nested):
            continue
        parts = relative.with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield file, ".".join((module.code_package, *parts))


# -- reading one file ------------------------------------------------------------------------


def _check_file(
    module: ModuleDeclaration,
    file: Path,
    dotted: str,
    declared: list[ModuleDeclaration],
    read: Reader,
) -> Iterator[Violation]:
    try:
        tree = ast.parse(read(file), filename=str(file))
    except SyntaxError as exc:
        message = exc.msg + (f" (column {exc.offset})" if exc.offset else "")
        yield _unreadable(module, file, exc.lineno or 1, f"cannot parse: {message}")
        return
    except ValueError as exc:  # null bytes in the source
        yield _unreadable(module, file, 1, f"cannot parse: {exc}")
        return
    except RecursionError:  # ast.parse's own limit on nested expressions
        yield _unreadable(module, file, 1, "cannot parse: expressions nested too deeply")
        return
    except OSError as exc:  # a file that vanished or may not be read
        yield _unreadable(module, file, 1, f"cannot read: {exc.strerror or exc}")
        return
    package = dotted if file.name == "__init__.py" else dotted.rpartition(".")[0]
    for imported in imported_names(tree, package):
        target = _owner(imported.name, declared, module)
        if target is None or target.key == module.key:
            continue
        reason = _reason(module, target, imported.name)
        if reason is not None:
            mark = _TYPE_CHECKING_MARK if imported.type_checking else ""
            yield Violation(
                file=file,
                line=imported.line,
                source_module=module.key,
                target_module=target.key,
                imported=imported.name,
                reason=reason + mark,
                type_checking=imported.type_checking,
            )


def _unreadable(module: ModuleDeclaration, file: Path, line: int, reason: str) -> Violation:
    return Violation(file, line, module.key, "", "", reason)


def _import_nodes(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it is under ``if TYPE_CHECKING:``.

    Iterative, and never descending into expressions (they hold no statements): a deeply
    nested expression that ``ast.parse`` accepted must not overflow the stack here.
    """
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, type_checking = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, type_checking
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, True) for child in reversed(node.body))
            stack.extend((child, type_checking) for child in reversed(node.orelse))
            continue
        stack.extend(
            (child, type_checking)
            for child in reversed(list(ast.iter_child_nodes(node)))
            if not isinstance(child, ast.expr)
        )


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING``, ``typing.TYPE_CHECKING`` or ``t.TYPE_CHECKING``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _absolute(module: str | None, level: int, package: str) -> str | None:
    """The absolute module a ``from`` import names (None when it climbs too high)."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if module else base


# -- the rules -------------------------------------------------------------------------------


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _owner(
    name: str, declared: list[ModuleDeclaration], source: ModuleDeclaration
) -> ModuleDeclaration | None:
    """The declared module whose package holds ``name`` (the deepest such package; the
    importing module itself when it shares the package with another)."""
    owners = [module for module in declared if _within(name, module.code_package)]
    if not owners:
        return None
    return max(
        owners, key=lambda module: (module.code_package.count("."), module.key == source.key)
    )


def _reason(source: ModuleDeclaration, target: ModuleDeclaration, name: str) -> str | None:
    """Why ``source`` may not import ``name`` from ``target`` (None when it may)."""
    if target.key not in source.dependencies:
        if source.dependencies:
            allowed = f"allowed: {', '.join(source.dependencies)}"
        else:
            allowed = f"allowed: none, {source.key} declares no dependencies"
        return f"{target.key} is not a declared dependency of {source.key} ({allowed})"
    if _within(name, target.services_module):
        return None
    return (
        f"{name} is an internal of {target.key}: go through its services module "
        f"{target.services_module}"
    )
