"""``lockgate check``: the modules' import boundaries, checked without running anything.

The static twin of the gateway's runtime guard on inter-module calls: it reads the code of
every ``[modules.NAME]`` in the ``lockgate.toml`` and prints each import of an undeclared
module, or of a dependency's internals, as ``path:line: source -> target: reason`` (paths
relative to the config's folder), so an editor or CI log links straight to it.

Violations go to stdout, the summary and errors to stderr. Exit codes: 0 no violations,
1 violations, 2 a bad config (unreadable, invalid, or a module whose package is not found).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from lockgate.use_cases.modules.boundary_check import Violation

__all__ = ["check"]

EXIT_CLEAN = 0
EXIT_VIOLATIONS = 1
EXIT_BAD_CONFIG = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="LOCKGATE_CONFIG",
        help="The lockgate.toml declaring the modules (or LOCKGATE_CONFIG).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]


def check(*, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Check that each module imports only the modules it declares, and only their
    services modules (never their internals)."""
    from lockgate.config.settings import load_config  # noqa: PLC0415
    from lockgate.errors import ConfigError  # noqa: PLC0415
    from lockgate.use_cases.modules.boundary_check import check_boundaries  # noqa: PLC0415

    if config is None:
        _fail("no config to check: give --config PATH or set LOCKGATE_CONFIG")
    base = config.parent.resolve()
    try:
        gateway_config, _ = load_config(config)
        modules = list(gateway_config.modules.values())
        violations = check_boundaries(modules, root=base)
    except ConfigError as exc:
        _fail(exc.message)
    keys = [module.key for module in modules]
    if as_json:
        typer.echo(json.dumps(_as_json(keys, violations, base), indent=2))
    else:
        for violation in violations:
            typer.echo(_line(violation, base))
        typer.echo(_summary(keys, violations, config), err=True)
    if violations:
        raise typer.Exit(EXIT_VIOLATIONS)


def _fail(message: str) -> NoReturn:
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(EXIT_BAD_CONFIG)


def _relative(file: Path, base: Path) -> str:
    return os.path.relpath(file, base)


def _line(violation: Violation, base: Path) -> str:
    where = f"{_relative(violation.file, base)}:{violation.line}"
    if not violation.target_module:  # the file itself could not be read or parsed
        return f"{where}: {violation.source_module}: {violation.reason}"
    return f"{where}: {violation.source_module} -> {violation.target_module}: {violation.reason}"


def _summary(keys: list[str], violations: list[Violation], config: Path) -> str:
    if not keys:
        return f"no modules declared in {config}: nothing to check"
    checked = f"{len(keys)} module{'s' if len(keys) != 1 else ''} ({', '.join(keys)})"
    if not violations:
        return f"no boundary violations in {checked}"
    files = len({violation.file for violation in violations})
    return (
        f"{len(violations)} boundary violation{'s' if len(violations) != 1 else ''} in "
        f"{files} file{'s' if files != 1 else ''} of {checked}"
    )


def _as_json(keys: list[str], violations: list[Violation], base: Path) -> dict[str, Any]:
    return {
        "ok": not violations,
        "modules": keys,
        "violations": [
            {
                "file": _relative(violation.file, base),
                "line": violation.line,
                "source_module": violation.source_module,
                "target_module": violation.target_module or None,
                "imported": violation.imported or None,
                "reason": violation.reason,
                "type_checking": violation.type_checking,
            }
            for violation in violations
        ],
    }
