"""``lockgate check``: a gateway's config, then its modules' import boundaries, without
serving anything.

First every problem with the config is listed at once, as ``lockgate serve`` would find them
before it starts: TOML syntax, unknown keys (with a "did you mean"), bad values, references
between tables, settings from the environment, and each function's handler, loaded in a
throwaway worker (never in this process). Then, on a valid config, the boundaries: the
static twin of the gateway's runtime guard on inter-module calls, it reads the code of every
``[modules.NAME]`` and prints each import of an undeclared module, or of a dependency's
internals, as ``path:line: source -> target: reason`` (paths relative to the config's
folder), so an editor or CI log links straight to it.

Violations go to stdout, the summary and errors to stderr. Exit codes: 0 no problem and no
violation, 1 violations, 2 a bad config (unreadable, invalid, a handler that does not load,
or a module whose package is not found).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from lockgate.errors import ConfigError
    from lockgate.use_cases.modules.boundary_check import Violation

__all__ = ["check"]

EXIT_CLEAN = 0
EXIT_VIOLATIONS = 1
EXIT_BAD_CONFIG = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The lockgate.toml to check (or LOCKGATE_CONFIG, or ./lockgate.toml).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]


def check(*, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Check a config: every problem at once, then the modules' import boundaries.

    First every problem with the config (TOML syntax, keys, values, references between
    tables, settings from the environment, and each function's handler, loaded in a
    throwaway worker): exit code 2. Then that each module imports only the modules it
    declares, and only their services modules (never their internals): exit code 1 for
    violations, 0 when all is clean.
    """
    from lockgate.config.settings import discover_config  # noqa: PLC0415
    from lockgate.controllers.cli.config_problems import find_problems  # noqa: PLC0415
    from lockgate.errors import ConfigError  # noqa: PLC0415
    from lockgate.use_cases.modules.boundary_check import check_boundaries  # noqa: PLC0415

    config = discover_config(config)
    if config is None:
        _fail("no config to check: give --config PATH, set LOCKGATE_CONFIG or add ./lockgate.toml")
    inspection, error = find_problems(config, handlers=True)
    if error is not None:
        if as_json:
            typer.echo(json.dumps(_problems_json(error), indent=2))
            raise typer.Exit(EXIT_BAD_CONFIG)
        _fail(error.message)
    base = config.parent.resolve()
    try:
        modules = list(inspection.config.modules.values())
        violations = check_boundaries(modules, root=base)
    except ConfigError as exc:
        _fail(exc.message)
    keys = [module.key for module in modules]
    if as_json:
        typer.echo(json.dumps(_as_json(keys, violations, base), indent=2))
    else:
        for violation in violations:
            typer.echo(_line(violation, base))
        typer.echo(f"{config}: no config problems", err=True)
        typer.echo(_summary(keys, violations, config), err=True)
    if violations:
        raise typer.Exit(EXIT_VIOLATIONS)


def _problems_json(error: ConfigError) -> dict[str, Any]:
    return {"ok": False, "problems": list(error.fields.get("problems", ())), "violations": []}


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
        "problems": [],
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
