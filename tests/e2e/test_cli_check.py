"""``lockgate check`` on a real ``lockgate.toml`` and a throwaway module tree.

The CLI runs in-process through typer's ``CliRunner``: exit codes 0 (clean), 1 (violations)
and 2 (bad config), the ``path:line: source -> target: reason`` lines (relative to the
config's folder) and ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from lockgate.controllers.cli.main import app

runner = CliRunner()

CONFIG = """\
[modules.users]
name = "User Management"
services_module = "app.users.services"
dependencies = []
code_dir = "src"

[modules.mentalhealth]
services_module = "app.mentalhealth.services"
dependencies = ["users", "notifications"]
code_dir = "src"

[modules.notifications]
services_module = "app.notifications.services"
dependencies = ["users"]
code_dir = "src"

[modules.billing]
services_module = "app.billing.services"
code_dir = "src"
"""

CODE = {
    "app/__init__.py": "",
    "app/users/__init__.py": "",
    "app/users/services.py": "from .models import User\n",
    "app/users/models.py": "class User: ...\n",
    "app/mentalhealth/__init__.py": "",
    "app/mentalhealth/services.py": (
        "from app.users.services import UserService\nfrom ..notifications import services\n"
    ),
    "app/notifications/__init__.py": "",
    "app/notifications/services.py": "import app.users.services\n",
    "app/billing/__init__.py": "",
    "app/billing/services.py": "",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A clean project: returns its ``lockgate.toml``."""
    for relative, text in CODE.items():
        path = tmp_path / "src" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    config = tmp_path / "lockgate.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def lockgate(*args: str, env: dict[str, str] | None = None) -> Result:
    """``lockgate ARGS`` in-process; an exception other than an exit fails the test."""
    base: dict[str, Any] = {"LOCKGATE_CONFIG": None}
    result = runner.invoke(app, list(args), env={**base, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"lockgate {' '.join(args)} raised") from result.exception
    return result


def add(config: Path, relative: str, text: str) -> None:
    path = config.parent / "src" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_a_clean_project_exits_0(project: Path) -> None:
    result = lockgate("check", "--config", str(project))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{project}: no config problems",
        "no boundary violations in 4 modules (users, mentalhealth, notifications, billing)",
    ]


def test_violations_are_printed_with_file_and_line_and_exit_1(project: Path) -> None:
    add(project, "app/mentalhealth/billing_link.py", "\nfrom app.billing import services\n")
    add(project, "app/notifications/peek.py", "from ..users.models import User\n")
    add(
        project,
        "app/users/typed.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import app.billing.services\n",
    )
    result = lockgate("check", "--config", str(project))
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "src/app/mentalhealth/billing_link.py:2: mentalhealth -> billing: billing is not a "
        "declared dependency of mentalhealth (allowed: users, notifications)",
        "src/app/notifications/peek.py:1: notifications -> users: app.users.models.User is an "
        "internal of users: go through its services module app.users.services",
        "src/app/users/typed.py:3: users -> billing: billing is not a declared dependency of "
        "users (allowed: none, users declares no dependencies) (in an `if TYPE_CHECKING:` block)",
    ]
    assert result.stderr.splitlines()[-1] == (
        "3 boundary violations in 3 files of 4 modules "
        "(users, mentalhealth, notifications, billing)"
    )


def test_a_file_that_does_not_parse_is_a_violation(project: Path) -> None:
    add(project, "app/billing/broken.py", "x = 1\ndef (:\n")
    result = lockgate("check", "--config", str(project))
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("src/app/billing/broken.py:2: billing: cannot parse: ")
    assert "1 boundary violation in 1 file of 4 modules" in result.stderr


def test_json_output(project: Path) -> None:
    add(project, "app/users/bad.py", "import os\nimport app.notifications.services\n")
    result = lockgate("check", "--config", str(project), "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout) == {
        "ok": False,
        "problems": [],
        "modules": ["users", "mentalhealth", "notifications", "billing"],
        "violations": [
            {
                "file": "src/app/users/bad.py",
                "line": 2,
                "source_module": "users",
                "target_module": "notifications",
                "imported": "app.notifications.services",
                "reason": "notifications is not a declared dependency of users "
                "(allowed: none, users declares no dependencies)",
                "type_checking": False,
            }
        ],
    }
    (project.parent / "src/app/users/bad.py").unlink()
    result = lockgate("check", "--config", str(project), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True


def test_the_config_may_come_from_lockgate_config(project: Path) -> None:
    add(project, "app/billing/reach.py", "from app.users import models\n")
    result = lockgate("check", env={"LOCKGATE_CONFIG": str(project)})
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("src/app/billing/reach.py:1: billing -> users: ")


def test_no_modules_declared_is_clean_and_says_so(tmp_path: Path) -> None:
    config = tmp_path / "lockgate.toml"
    config.write_text("", encoding="utf-8")
    result = lockgate("check", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "no modules declared" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[modules.users\n", "lockgate.toml"),
        ('[modules.users]\nservices_module = "not a path"\n', "modules.users.services_module"),
        ('[modules.users]\nservices_module = "app.users.services"\nextra = 1\n', "extra"),
        (
            '[modules.payroll]\nservices_module = "app.payroll.services"\n',
            "module 'payroll': package 'app.payroll' not found",
        ),
    ],
    ids=["not-toml", "bad-services-module", "unknown-key", "missing-package"],
)
def test_a_bad_config_exits_2(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "lockgate.toml"
    config.write_text(text, encoding="utf-8")
    result = lockgate("check", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert expected in result.stderr


def test_a_missing_config_exits_2(tmp_path: Path) -> None:
    result = lockgate("check", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2, result.output
    assert "nope.toml" in result.stderr


def test_no_config_at_all_exits_2() -> None:
    result = lockgate("check")
    assert result.exit_code == 2, result.output
    assert "give --config PATH, set LOCKGATE_CONFIG or add ./lockgate.toml" in result.stderr


BAD_CONFIG = """\
[gateway]
prot = 9000

[functions.hello]
handler = "handlers:hello"
timout = 3

[functions.typo]
handler = "handlers:helo"

[functions.gone]
handler = "handlerz:hello"

[functions.broken]
handler = "handlers:hello"
memory_size = = 256

[[routes]]
method = "GET"
path = "/hello"
function = "helo"
"""


def test_a_bad_config_lists_every_problem_at_once_and_exits_2(tmp_path: Path) -> None:
    """Syntax, unknown keys, a reference between tables and handlers that do not load (each
    loaded in a throwaway worker), all in one run, each with its key and a hint."""
    (tmp_path / "handlers.py").write_text(
        "def hello(event, context):\n    return 'hi'\n", encoding="utf-8"
    )
    config = tmp_path / "lockgate.toml"
    config.write_text(BAD_CONFIG, encoding="utf-8")
    result = lockgate("check", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert f"lockgate: {config}: 6 problems:" in result.stderr
    for line in [
        "functions.broken.memory_size (line 16, column 15): TOML syntax error: ",
        "gateway.prot: unknown key; did you mean 'port'?",
        "functions.hello.timout: unknown key; did you mean 'timeout'?",
        "routes[0].function: expected a declared function (broken, gone, hello, typo), got "
        "'helo'; did you mean 'hello'?",
        "functions.typo.handler: cannot be loaded: Runtime.HandlerNotFound: Handler 'helo' "
        "missing on module 'handlers'; did you mean 'hello'?",
        "functions.gone.handler: cannot be loaded: Runtime.ImportModuleError: Unable to import "
        "module 'handlerz': No module named 'handlerz'; did you mean 'handlers'?",
    ]:
        assert f"\n  - {line}" in result.stderr
    listed = lockgate("check", "--config", str(config), "--json")
    assert listed.exit_code == 2, listed.output
    report = json.loads(listed.stdout)
    assert report["ok"] is False
    assert [problem["key"] for problem in report["problems"]] == [
        "functions.broken.memory_size",
        "gateway.prot",
        "functions.hello.timout",
        "routes[0].function",
        "functions.typo.handler",
        "functions.gone.handler",
    ]
    assert report["problems"][0]["line"] == 16


def test_a_good_config_with_functions_loads_each_handler(tmp_path: Path) -> None:
    (tmp_path / "handlers.py").write_text(
        "def hello(event, context):\n    return 'hi'\n", encoding="utf-8"
    )
    config = tmp_path / "lockgate.toml"
    config.write_text('[functions.hello]\nhandler = "handlers:hello"\n', encoding="utf-8")
    result = lockgate("check", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert f"{config}: no config problems" in result.stderr


def test_the_handler_check_never_imports_user_code_here(tmp_path: Path) -> None:
    """The handler runs its import in a worker: a module that would kill the process it is
    imported in leaves the check standing, and reports what the worker said."""
    (tmp_path / "fatal.py").write_text(
        "import os\nos._exit(3)\ndef hello(event, context): ...\n", encoding="utf-8"
    )
    config = tmp_path / "lockgate.toml"
    config.write_text('[functions.fatal]\nhandler = "fatal:hello"\n', encoding="utf-8")
    result = lockgate("check", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "functions.fatal.handler: cannot be loaded: " in result.stderr


def test_settings_from_the_environment_are_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "lockgate.toml"
    config.write_text("[gateway]\nstart_budget = 0\n", encoding="utf-8")
    result = lockgate("check", "--config", str(config), env={"LOCKGATE_PORT": "eighty"})
    assert result.exit_code == 2, result.output
    assert "gateway.start_budget: expected an integer ≥ 1, got 0" in result.stderr
    assert "port (from environment variable LOCKGATE_PORT): " in result.stderr
