"""``lockgate --version`` prints the installed package's version (and Python's) and exits 0,
without a config or a gateway, as ``sam --version`` does."""

from __future__ import annotations

import importlib.metadata
import platform

from typer.testing import CliRunner

from lockgate.controllers.cli.main import app


def test_version_names_the_installed_package_and_python() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    version = importlib.metadata.version("lockgate")
    assert result.output == f"lockgate {version} (Python {platform.python_version()})\n"
