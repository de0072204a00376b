"""Declaring modules: ``[modules.NAME]`` tables in ``lockgate.toml`` and the seed's
``AURA_MODULES`` dict (``modules_from_dict``); defaults, and errors that name
``modules.NAME...``."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lockgate.config.settings import load_config
from lockgate.errors import ConfigError
from lockgate.models.module import ModuleDeclaration
from lockgate.use_cases.modules.declarations import modules_from_dict
from lockgate.use_cases.modules.loader import import_services
from lockgate.use_cases.modules.registry import ModuleRegistry
from tests.unit.config_files import config_error, write

MODULES = """
[modules.users]
name = "User Management"
services_module = "app.users.services"
dependencies = []
provides = ["UserService", "AuthenticationService"]

[modules.mentalhealth]
name = "Mental Health"
services_module = "app.mentalhealth.domain.services"
dependencies = ["users"]
provides = ["TherapySessionService", "DisorderService"]
code_dir = "src"
package = "app.mentalhealth"

[modules.billing]
services_module = "billing_services"
"""


pytestmark = pytest.mark.usefixtures("no_lockgate_env")


# --- [modules.NAME] tables ----------------------------------------------------------------------


def test_module_tables_become_declarations_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    config, _ = load_config(write(tmp_path, MODULES))
    assert list(config.modules) == ["users", "mentalhealth", "billing"]
    assert config.modules["users"] == ModuleDeclaration(
        key="users",
        name="User Management",
        services_module="app.users.services",
        dependencies=(),
        provides=("UserService", "AuthenticationService"),
        code_dir=tmp_path.resolve(),
    )
    assert config.modules["mentalhealth"] == ModuleDeclaration(
        key="mentalhealth",
        name="Mental Health",
        services_module="app.mentalhealth.domain.services",
        dependencies=("users",),
        provides=("TherapySessionService", "DisorderService"),
        code_dir=(tmp_path / "src").resolve(),
        package="app.mentalhealth",
    )
    billing = config.modules["billing"]
    assert billing.name == "billing"  # the key, when no name is given
    assert billing.dependencies == ()  # may call nobody
    assert billing.provides == ()
    assert billing.code_dir == tmp_path.resolve()  # the config file's folder
    assert billing.package is None


def test_a_file_without_modules_declares_none(tmp_path: Path) -> None:
    config, _ = load_config(write(tmp_path, '[functions.echo]\nhandler = "h:handler"\n'))
    assert dict(config.modules) == {}


def test_the_declared_modules_are_read_only(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    config, _ = load_config(write(tmp_path, MODULES))
    with pytest.raises(TypeError):
        config.modules["extra"] = config.modules["users"]  # type: ignore[index]


BAD_TABLES = {
    "missing services_module": (
        '[modules.users]\nname = "Users"\n',
        "modules.users.services_module",
        "missing",
    ),
    "services_module not dotted": (
        '[modules.users]\nservices_module = "app/users/services.py"\n',
        "modules.users.services_module",
        "dotted module path",
    ),
    "services_module not a string": (
        "[modules.users]\nservices_module = 5\n",
        "modules.users.services_module",
        "dotted module path",
    ),
    "dependencies not a list": (
        '[modules.users]\nservices_module = "app.users"\ndependencies = "billing"\n',
        "modules.users.dependencies",
        "'billing'",
    ),
    "a dependency not a string": (
        '[modules.users]\nservices_module = "app.users"\ndependencies = [1]\n',
        "modules.users.dependencies[0]",
        "a string",
    ),
    "provides not a list": (
        '[modules.users]\nservices_module = "app.users"\nprovides = "UserService"\n',
        "modules.users.provides",
        "'UserService'",
    ),
    "unknown key": (
        '[modules.users]\nservices_module = "app.users"\ndepends_on = ["billing"]\n',
        "modules.users.depends_on",
        "unknown key",
    ),
    "name not a string": (
        '[modules.users]\nservices_module = "app.users"\nname = 5\n',
        "modules.users.name",
        "a string",
    ),
    "package not dotted": (
        '[modules.users]\nservices_module = "app.users"\npackage = "app/users"\n',
        "modules.users.package",
        "dotted package path",
    ),
    "code_dir missing": (
        '[modules.users]\nservices_module = "app.users"\ncode_dir = "nowhere"\n',
        "modules.users.code_dir",
        "does not exist",
    ),
    "key with a space": (
        '[modules."user management"]\nservices_module = "app.users"\n',
        'modules."user management"',
        "invalid",
    ),
    "key starting with a digit": (
        '[modules.1users]\nservices_module = "app.users"\n',
        "modules.1users",
        "invalid",
    ),
    "key with a dash": (
        '[modules.user-management]\nservices_module = "app.users"\n',
        "modules.user-management",
        "invalid",
    ),
    "module not a table": ('[modules]\nusers = "app.users.services"\n', "modules.users", "table"),
    "modules not a table": ("modules = []\n", "modules", "table"),
}


@pytest.mark.parametrize(("text", "key", "fragment"), BAD_TABLES.values(), ids=BAD_TABLES)
def test_a_bad_module_table_names_its_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    error = config_error(tmp_path, text)
    assert error.fields["key"] == key
    assert f"{key}: " in error.message
    assert fragment in error.message


@pytest.mark.parametrize("field", ["dependencies", "provides"])
def test_a_list_of_names_is_not_called_an_array_of_tables(tmp_path: Path, field: str) -> None:
    text = f'[modules.users]\nservices_module = "app.users"\n{field} = "x"\n'
    error = config_error(tmp_path, text)
    assert "array" in error.message
    assert "tables" not in error.message


def test_every_bad_module_table_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        '[modules.users]\nservices_module = "app.users"\ndependencies = "billing"\n'
        "[modules.billing]\ncolour = 1\n"
    )
    error = config_error(tmp_path, text)
    assert set(error.fields["keys"]) == {
        "modules.users.dependencies",
        "modules.billing.services_module",
        "modules.billing.colour",
    }


@pytest.fixture
def package(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A unique package name; ``sys.path`` and ``sys.modules`` are put back afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"app_{uuid.uuid4().hex[:12]}"
    yield name
    for module in [m for m in sys.modules if m.partition(".")[0] == name]:
        del sys.modules[module]


def test_declared_modules_load_from_the_config_folder(tmp_path: Path, package: str) -> None:
    folder = tmp_path / package / "users"
    folder.mkdir(parents=True)
    (tmp_path / package / "__init__.py").touch()
    (folder / "__init__.py").touch()
    (folder / "services.py").write_text(
        "class UserService:\n    pass\n\n\n"
        "def get_services():\n    return {'UserService': UserService}\n",
        encoding="utf-8",
    )
    config, _ = load_config(
        write(
            tmp_path,
            f'[modules.users]\nservices_module = "{package}.users.services"\n'
            'provides = ["UserService"]\n',
        )
    )
    registry = ModuleRegistry(config.modules, import_services)
    registry.load()
    assert type(registry.get_module_service("users", "UserService")).__name__ == "UserService"
    assert config.modules["users"].code_package == f"{package}.users"


# --- the seed's dict ----------------------------------------------------------------------------

AURA_MODULES: dict[str, dict[str, Any]] = {
    "users": {
        "name": "User Management",
        "services_module": "aura.users.services",
        "dependencies": [],  # No dependencies
        "provides": ["UserService", "AuthenticationService"],
    },
    "mentalhealth": {
        "name": "Mental Health",
        "services_module": "aura.mentalhealth.domain.services",
        "dependencies": ["users"],  # Can call users module
        "provides": ["TherapySessionService", "DisorderService"],
    },
    "notifications": {
        "name": "Notifications",
        "services_module": "aura.notifications.services",
        "dependencies": ["users"],  # Can call users module
        "provides": ["EmailService", "SMSService", "NotificationService"],
    },
}


def test_the_seed_dict_becomes_declarations(tmp_path: Path) -> None:
    declarations = modules_from_dict(AURA_MODULES, code_dir=tmp_path)
    assert declarations["notifications"] == ModuleDeclaration(
        key="notifications",
        name="Notifications",
        services_module="aura.notifications.services",
        dependencies=("users",),
        provides=("EmailService", "SMSService", "NotificationService"),
        code_dir=tmp_path,
    )
    assert declarations["mentalhealth"].code_package == "aura.mentalhealth"
    assert modules_from_dict(AURA_MODULES)["users"].code_dir is None


def test_a_dict_entry_without_a_name_is_named_by_its_key() -> None:
    declarations = modules_from_dict({"users": {"services_module": "aura.users.services"}})
    assert declarations["users"].name == "users"
    assert declarations["users"].dependencies == ()
    assert declarations["users"].provides == ()


BAD_ENTRIES: dict[str, tuple[str, Any]] = {
    "unknown key": ("users", {"services_module": "a.b", "depends_on": ["x"]}),
    "missing services_module": ("users", {"name": "Users"}),
    "services_module not dotted": ("users", {"services_module": "aura/users.py"}),
    "services_module not a string": ("users", {"services_module": 5}),
    "dependencies a string": ("users", {"services_module": "a.b", "dependencies": "billing"}),
    "dependencies None": ("users", {"services_module": "a.b", "dependencies": None}),
    "dependencies a number": ("users", {"services_module": "a.b", "dependencies": 3}),
    "a dependency not a string": ("users", {"services_module": "a.b", "dependencies": [1]}),
    "provides a string": ("users", {"services_module": "a.b", "provides": "UserService"}),
    "bad key": ("user management", {"services_module": "a.b"}),
    "entry not a dict": ("users", "aura.users.services"),
    "entry None": ("users", None),
}


@pytest.mark.parametrize(("key", "entry"), BAD_ENTRIES.values(), ids=BAD_ENTRIES)
def test_a_malformed_dict_entry_names_the_module(key: str, entry: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        modules_from_dict({"fine": {"services_module": "a.b"}, key: entry})
    assert str(caught.value.fields["key"]).startswith(f"modules.{key}")
    assert repr(key) in caught.value.message


@pytest.mark.parametrize("entry", ["aura.users.services", None, ["aura.users.services"]])
def test_a_dict_entry_that_is_not_a_dict_says_so(entry: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        modules_from_dict({"users": entry})
    assert caught.value.fields["key"] == "modules.users"
    assert "unknown key" not in caught.value.message  # not the letters of a string as keys
