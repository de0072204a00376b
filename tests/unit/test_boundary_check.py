"""``check_boundaries``: the static twin of the runtime guard, on throwaway module trees.

Each test writes a small modular monolith into ``tmp_path`` (``app.users``,
``app.mentalhealth``, ``app.notifications``, ``app.billing``, each with a services module
and internals) and reads its violations; nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lockgate.errors import ConfigError
from lockgate.models.module import ModuleDeclaration
from lockgate.use_cases.modules.boundary_check import (
    ImportedName,
    Violation,
    check_boundaries,
    imported_names,
)

CLEAN = {
    "app/users/services.py": "from app.users.models import User\n\nclass UserService: ...\n",
    "app/users/models.py": "import dataclasses\n\nclass User: ...\n",
    "app/users/repository/__init__.py": "from .sql import load\n",
    "app/users/repository/sql.py": "import sqlite3\n\ndef load(): ...\n",
    "app/mentalhealth/services.py": (
        "from app.users.services import UserService\n"
        "from app.notifications import services as notify\n"
        "from . import sessions\n"
        "from .sessions import book\n"
    ),
    "app/mentalhealth/sessions.py": "import typing\nimport lockgate\n\ndef book(): ...\n",
    "app/notifications/services.py": "import app.users.services\n",
    "app/notifications/handlers.py": "from ..users.services import UserService\n",
    "app/billing/services.py": "from .ledger import Ledger\n",
    "app/billing/ledger.py": "class Ledger: ...\n",
}


def declare(
    key: str, dependencies: tuple[str, ...] = (), code_dir: Path | None = None
) -> ModuleDeclaration:
    return ModuleDeclaration(
        key=key,
        name=key.title(),
        services_module=f"app.{key}.services",
        dependencies=dependencies,
        code_dir=code_dir,
    )


def modules(code_dir: Path) -> list[ModuleDeclaration]:
    return [
        declare("users", (), code_dir),
        declare("mentalhealth", ("users", "notifications"), code_dir),
        declare("notifications", ("users",), code_dir),
        declare("billing", (), code_dir),
    ]


def write(root: Path, files: dict[str, str]) -> None:
    """Writes ``files`` (path -> text) under ``root``, with an ``__init__.py`` in every
    package folder that does not get one of its own."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        for folder in path.relative_to(root).parents:
            init = root / folder / "__init__.py"
            if folder != Path() and not init.exists():
                init.write_text("", encoding="utf-8")


def tree(root: Path, changes: dict[str, str] | None = None) -> list[Violation]:
    """The violations of the clean tree with ``changes`` (path -> text) written over it."""
    write(root, {**CLEAN, **(changes or {})})
    return check_boundaries(modules(root))


def summary(violations: list[Violation], root: Path) -> list[tuple[str, int, str, str, str]]:
    return [
        (
            violation.file.relative_to(root).as_posix(),
            violation.line,
            violation.source_module,
            violation.target_module,
            violation.imported,
        )
        for violation in violations
    ]


def test_a_clean_tree_has_no_violations(tmp_path: Path) -> None:
    assert tree(tmp_path) == []


def test_an_undeclared_module_is_refused_naming_the_allowed_list(tmp_path: Path) -> None:
    violations = tree(
        tmp_path,
        {"app/mentalhealth/billing_link.py": "\n\nfrom app.billing.services import Bill\n"},
    )
    assert summary(violations, tmp_path) == [
        (
            "app/mentalhealth/billing_link.py",
            3,
            "mentalhealth",
            "billing",
            "app.billing.services.Bill",
        )
    ]
    assert violations[0].reason == (
        "billing is not a declared dependency of mentalhealth (allowed: users, notifications)"
    )
    assert not violations[0].type_checking


def test_an_empty_dependency_list_admits_no_module(tmp_path: Path) -> None:
    violations = tree(tmp_path, {"app/users/notify.py": "import app.notifications.services\n"})
    assert summary(violations, tmp_path) == [
        ("app/users/notify.py", 1, "users", "notifications", "app.notifications.services")
    ]
    assert "allowed: none, users declares no dependencies" in violations[0].reason


def test_a_dependency_s_internals_are_refused(tmp_path: Path) -> None:
    violations = tree(
        tmp_path,
        {
            "app/mentalhealth/reach.py": (
                "from app.users.models import User\n"
                "from app.users import models, services\n"
                "import app.users.repository.sql\n"
                "from app.users import UserService\n"
                "import app.users\n"
                "from app.users.services import UserService as Service\n"
                "from app import users\n"
                "from app.users import *\n"
            ),
        },
    )
    assert [(v.line, v.imported) for v in violations] == [
        (1, "app.users.models.User"),
        (2, "app.users.models"),
        (3, "app.users.repository.sql"),
        (4, "app.users.UserService"),
        (5, "app.users"),
        (7, "app.users"),
        (8, "app.users"),
    ]
    assert {v.target_module for v in violations} == {"users"}
    assert violations[0].reason == (
        "app.users.models.User is an internal of users: go through its services module "
        "app.users.services"
    )


def test_a_services_package_and_its_submodules_are_open(tmp_path: Path) -> None:
    write(tmp_path, CLEAN)
    (tmp_path / "app/users/services.py").unlink()
    write(
        tmp_path,
        {
            "app/users/services/__init__.py": "from .accounts import UserService\n",
            "app/users/services/accounts.py": "class UserService: ...\n",
            "app/notifications/more.py": (
                "from app.users.services.accounts import UserService\n"
                "import app.users.services.accounts\n"
                "from app.users.services import accounts\n"
            ),
        },
    )
    assert check_boundaries(modules(tmp_path)) == []


def test_relative_imports_resolve_against_the_file_s_package(tmp_path: Path) -> None:
    violations = tree(
        tmp_path,
        {
            "app/mentalhealth/relative.py": (
                "from . import sessions\n"
                "from .sessions import book\n"
                "from ..users.services import UserService\n"
                "from ..users import services\n"
                "from ..billing import ledger\n"
                "from .. import users\n"
                "from ..users.models import User\n"
                "from .... import beyond_the_top\n"
            ),
            "app/notifications/deep/inner.py": "from ...users import models\n",
        },
    )
    assert summary(violations, tmp_path) == [
        ("app/mentalhealth/relative.py", 5, "mentalhealth", "billing", "app.billing.ledger"),
        ("app/mentalhealth/relative.py", 6, "mentalhealth", "users", "app.users"),
        ("app/mentalhealth/relative.py", 7, "mentalhealth", "users", "app.users.models.User"),
        ("app/notifications/deep/inner.py", 1, "notifications", "users", "app.users.models"),
    ]


def test_relative_imports_in_a_package_init_start_from_the_package(tmp_path: Path) -> None:
    violations = tree(
        tmp_path,
        {
            "app/mentalhealth/__init__.py": "from .services import x\nfrom ..users import models\n",
        },
    )
    assert summary(violations, tmp_path) == [
        ("app/mentalhealth/__init__.py", 2, "mentalhealth", "users", "app.users.models")
    ]


def test_type_checking_imports_are_reported_and_marked(tmp_path: Path) -> None:
    violations = tree(
        tmp_path,
        {
            "app/users/typed.py": (
                "from typing import TYPE_CHECKING\n"
                "import typing\n"
                "if TYPE_CHECKING:\n"
                "    from app.billing.services import Bill\n"
                "if typing.TYPE_CHECKING:\n"
                "    import app.billing.ledger\n"
                "else:\n"
                "    import app.billing.services\n"
            ),
        },
    )
    assert [(v.line, v.target_module, v.type_checking) for v in violations] == [
        (4, "billing", True),
        (6, "billing", True),
        (8, "billing", False),
    ]
    assert violations[0].reason.endswith("(in an `if TYPE_CHECKING:` block)")
    assert "TYPE_CHECKING" not in violations[2].reason


def test_imports_inside_functions_classes_and_blocks_count(tmp_path: Path) -> None:
    violations = tree(
        tmp_path,
        {
            "app/billing/lazy.py": (
                "def charge():\n"
                "    from app.users.services import UserService\n"
                "class Invoice:\n"
                "    import app.notifications.services\n"
                "    async def send(self):\n"
                "        with open('x') as f:\n"
                "            for _ in f:\n"
                "                try:\n"
                "                    import app.mentalhealth.services\n"
                "                except ImportError:\n"
                "                    from app.users import models\n"
                "                finally:\n"
                "                    import app.users.services\n"
                "    match 1:\n"
                "        case 1:\n"
                "            import app.users.services\n"
            ),
        },
    )
    assert [(v.line, v.target_module) for v in violations] == [
        (2, "users"),
        (4, "notifications"),
        (9, "mentalhealth"),
        (11, "users"),
        (13, "users"),
        (16, "users"),
    ]


def test_a_file_that_does_not_parse_is_reported_and_the_others_still_checked(
    tmp_path: Path,
) -> None:
    violations = tree(
        tmp_path,
        {
            "app/users/broken.py": "import os\n\ndef oops(:\n    pass\n",
            "app/users/nul.py": "x = 1\0\n",
            "app/users/zz.py": "import app.billing.services\n",
        },
    )
    assert summary(violations, tmp_path) == [
        ("app/users/broken.py", 3, "users", "", ""),
        ("app/users/nul.py", 1, "users", "", ""),
        ("app/users/zz.py", 1, "users", "billing", "app.billing.services"),
    ]
    assert violations[0].reason.startswith("cannot parse: invalid syntax")
    assert violations[1].reason.startswith("cannot parse:")


def test_an_expression_too_deep_for_ast_is_reported_not_raised(tmp_path: Path) -> None:
    violations = tree(tmp_path, {"app/users/deep.py": "x = " + "+".join(["1"] * 50_000) + "\n"})
    assert [(v.line, v.reason) for v in violations] == [
        (1, "cannot parse: expressions nested too deeply")
    ]


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    write(tmp_path, CLEAN)

    def read(path: Path) -> bytes:
        if path.name == "ledger.py":
            raise PermissionError(13, "Permission denied")
        return path.read_bytes()

    violations = check_boundaries(modules(tmp_path), read=read)
    assert summary(violations, tmp_path) == [("app/billing/ledger.py", 1, "billing", "", "")]
    assert violations[0].reason == "cannot read: Permission denied"


def test_violations_are_sorted_by_file_then_line(tmp_path: Path) -> None:
    violations = tree(
        tmp_path,
        {
            "app/users/b.py": "import os\nimport app.billing.services\nimport app.billing.ledger\n",
            "app/users/a.py": "\n\n\n\nimport app.billing.services\n",
            "app/billing/z.py": "import app.users.services\n",
            "app/billing/a.py": "\nimport app.users.models\n",
        },
    )
    assert [(path, line) for path, line, *_ in summary(violations, tmp_path)] == [
        ("app/billing/a.py", 2),
        ("app/billing/z.py", 1),
        ("app/users/a.py", 5),
        ("app/users/b.py", 2),
        ("app/users/b.py", 3),
    ]
    assert violations == sorted(violations)


def test_packages_that_are_not_declared_modules_are_ignored(tmp_path: Path) -> None:
    violations = tree(
        tmp_path,
        {
            "app/users/outside.py": (
                "import os, json\n"
                "import pydantic\n"
                "import lockgate.errors\n"
                "import app\n"
                "from app import shared\n"
                "import app.users_extra\n"
                "from app.billingx import thing\n"
            ),
        },
    )
    assert violations == []


def test_a_single_file_package(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            **CLEAN,
            "app/audit.py": "from .billing import ledger\nfrom app.users.services import S\n",
        },
    )
    audit = ModuleDeclaration(
        key="audit",
        name="Audit",
        services_module="app.audit",
        dependencies=("users",),
        code_dir=tmp_path,
    )
    violations = check_boundaries([*modules(tmp_path), audit])
    assert summary(violations, tmp_path) == [
        ("app/audit.py", 1, "audit", "billing", "app.billing.ledger")
    ]


def test_a_nested_module_owns_its_own_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/services.py": "",
            "app/core.py": "from app.users import models\n",
            "app/users/services.py": "",
            "app/users/models.py": "import app.core\n",
        },
    )
    core = ModuleDeclaration(
        key="core",
        name="Core",
        services_module="app.services",
        package="app",
        dependencies=("users",),
        code_dir=tmp_path,
    )
    violations = check_boundaries([core, declare("users", (), tmp_path)])
    assert summary(violations, tmp_path) == [
        ("app/core.py", 1, "core", "users", "app.users.models"),
        ("app/users/models.py", 1, "users", "core", "app.core"),
    ]


def test_hidden_folders_are_skipped(tmp_path: Path) -> None:
    violations = tree(tmp_path, {"app/users/.venv/x.py": "import app.billing.services\n"})
    assert violations == []


def test_a_module_without_code_dir_is_found_under_root(tmp_path: Path) -> None:
    write(tmp_path, {**CLEAN, "app/users/bad.py": "import app.billing.ledger\n"})
    declared = [declare("users"), declare("billing")]
    violations = check_boundaries(declared, root=tmp_path)
    assert summary(violations, tmp_path) == [
        ("app/users/bad.py", 1, "users", "billing", "app.billing.ledger")
    ]


def test_a_missing_package_is_a_config_error_naming_every_module(tmp_path: Path) -> None:
    write(tmp_path, CLEAN)
    declared = [
        *modules(tmp_path),
        declare("payroll", (), tmp_path),
        declare("audit", (), tmp_path),
    ]
    with pytest.raises(ConfigError) as caught:
        check_boundaries(declared)
    message = caught.value.message
    assert "module 'payroll': package 'app.payroll' not found" in message
    assert "module 'audit': package 'app.audit' not found" in message
    assert str(tmp_path / "app" / "payroll") in message
    assert caught.value.fields["keys"] == ["modules.payroll.package", "modules.audit.package"]


def test_imported_names_resolves_each_form() -> None:
    source = (
        "import a.b as ab, c\n"
        "from d.e import f, g as h\n"
        "from . import x\n"
        "from ..y import *\n"
        "from ... import too_far\n"
    )
    names = imported_names(ast.parse(source), "pkg.sub")
    assert names == [
        ImportedName(1, "a.b", False),
        ImportedName(1, "c", False),
        ImportedName(2, "d.e.f", False),
        ImportedName(2, "d.e.g", False),
        ImportedName(3, "pkg.sub.x", False),
        ImportedName(4, "pkg.y", False),
    ]
