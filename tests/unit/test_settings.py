"""Settings and the ``lockgate.toml`` loader: values, errors that name keys, precedence, secrecy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lockgate.config.settings import Settings, load_config, load_settings
from lockgate.errors import ConfigError
from lockgate.models.function import ScalingConfig
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.routing import Route

FULL = """
[gateway]
max_body_bytes = 1048576
start_budget = 2
log_format = "json"
log_level = "debug"
janitor_interval = 0.5
log_capture_bytes = 8192
shutdown_grace = 3

[functions.echo]
handler = "handlers:echo"
timeout = 30
memory_size = 256
environment = { GREETING = "hello", MODE = "test" }
code_dir = "src"
[functions.echo.scaling]
min_warm = 1
max_capacity = 4
max_queue = 16
idle_ttl = 60

[functions.slow-one]
handler = "pkg.mod:handle"
timeout = 2.5

[[routes]]
method = "GET"
path = "/hello/{name}"
function = "echo"
payload_format = "1.0"

[[routes]]
method = "any"
path = "/files/{path+}"
function = "slow-one"
"""

MINIMAL = """
[functions.echo]
handler = "handlers:echo"
"""


@pytest.fixture(autouse=True)
def _no_lockgate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LOCKGATE_* variables must not leak into these tests."""
    for name in os.environ:
        if name.upper().startswith("LOCKGATE_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "lockgate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> ConfigError:
    (tmp_path / "src").mkdir(exist_ok=True)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in caught.value.message
    return caught.value


# --- valid files ------------------------------------------------------------------------------


def test_every_key_parses_to_domain_values(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    config, gateway = load_config(write(tmp_path, FULL))

    echo = config.functions["echo"]
    assert echo.handler == "handlers:echo"
    assert echo.code_dir == (tmp_path / "src").resolve()
    assert echo.timeout_seconds == 30.0
    assert echo.memory_size_mb == 256
    assert dict(echo.environment) == {"GREETING": "hello", "MODE": "test"}
    assert echo.scaling == ScalingConfig(min_warm=1, max_capacity=4, max_queue=16, idle_ttl=60.0)

    slow = config.functions["slow-one"]
    assert slow.handler == "pkg.mod:handle"
    assert slow.timeout_seconds == 2.5

    assert config.routes == (
        Route("GET", "/hello/{name}", "echo", "1.0"),
        Route("ANY", "/files/{path+}", "slow-one", "2.0"),
    )
    assert gateway == {
        "max_body_bytes": 1048576,
        "start_budget": 2,
        "log_format": "json",
        "log_level": "DEBUG",
        "janitor_interval": 0.5,
        "log_capture_bytes": 8192,
        "shutdown_grace": 3.0,
    }


def test_optional_keys_take_the_domain_defaults(tmp_path: Path) -> None:
    config, gateway = load_config(write(tmp_path, MINIMAL))

    echo = config.functions["echo"]
    assert echo.code_dir == tmp_path.resolve()  # the config file's folder
    assert echo.timeout_seconds == 300.0
    assert echo.memory_size_mb == 128
    assert dict(echo.environment) == {}
    assert echo.scaling == ScalingConfig()
    assert config.routes == ()
    assert gateway == {}  # only keys the file sets, so they cannot outrank the environment


def test_an_empty_file_declares_nothing(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == (GatewayConfig(), {})


def test_an_absolute_code_dir_is_kept(tmp_path: Path) -> None:
    code = tmp_path / "elsewhere"
    code.mkdir()
    conf = tmp_path / "conf"
    conf.mkdir()
    text = MINIMAL + f"code_dir = {str(code)!r}\n"
    config, _ = load_config(write(conf, text))
    assert config.functions["echo"].code_dir == code.resolve()


# --- bad values name their key ----------------------------------------------------------------

BAD_VALUES = [
    # (TOML appended to a valid function, the key, a fragment of the message)
    (
        '[functions.echo.scaling]\nmax_capacity = "eight"',
        "functions.echo.scaling.max_capacity",
        "expected an integer ≥ 1, got 'eight'",
    ),
    ("[functions.echo.scaling]\nmax_capacity = 0", "functions.echo.scaling.max_capacity", "got 0"),
    (
        "[functions.echo.scaling]\nmin_warm = true",
        "functions.echo.scaling.min_warm",
        "expected an integer ≥ 0, got true",
    ),
    (
        "[functions.echo.scaling]\nmin_warm = 3\nmax_capacity = 2",
        "functions.echo.scaling.min_warm",
        "≤ max_capacity (2), got 3",
    ),
    ("[functions.echo.scaling]\nmax_queue = -1", "functions.echo.scaling.max_queue", "got -1"),
    (
        "[functions.echo.scaling]\nidle_ttl = 0",
        "functions.echo.scaling.idle_ttl",
        "expected a number > 0, got 0",
    ),
    (
        "[functions.echo.scaling]\nmax_capcity = 3",
        "functions.echo.scaling.max_capcity",
        "unknown key",
    ),
    ('timeout = "30"', "functions.echo.timeout", "expected a number > 0 and ≤ 900, got '30'"),
    ("timeout = 0", "functions.echo.timeout", "got 0"),
    ("timeout = 901", "functions.echo.timeout", "got 901"),
    ("timeout = nan", "functions.echo.timeout", "got nan"),
    ("memory_size = 64", "functions.echo.memory_size", "≥ 128 and ≤ 10240, got 64"),
    ("memory_size = 256.0", "functions.echo.memory_size", "expected an integer"),
    ("timout = 3", "functions.echo.timout", "unknown key; did you mean 'timeout'?"),
    ('code_dir = "missing"', "functions.echo.code_dir", "does not exist"),
    ('code_dir = "lockgate.toml"', "functions.echo.code_dir", "is not a folder"),
    ("code_dir = 3", "functions.echo.code_dir", "expected a string, got 3"),
    ('environment = "A=1"', "functions.echo.environment", "expected a table of strings"),
]


@pytest.mark.parametrize(("extra", "key", "fragment"), BAD_VALUES)
def test_a_bad_function_value_names_its_key(
    tmp_path: Path, extra: str, key: str, fragment: str
) -> None:
    error = config_error(tmp_path, MINIMAL + extra + "\n")
    assert f"{key}: " in error.message
    assert fragment in error.message
    assert error.fields["key"] == key


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            '[functions.echo]\nhandler = "handlers.echo"',
            "functions.echo.handler",
            "expected 'module:attribute'",
        ),
        ('[functions.echo]\nhandler = "handlers:"', "functions.echo.handler", "got 'handlers:'"),
        ("[functions.echo]\ntimeout = 3", "functions.echo.handler", "missing"),
        ('[functions."bad name"]\nhandler = "a:b"', 'functions."bad name"', "1-64 letters"),
        ('functions = { echo = "handlers:echo" }', "functions.echo", "expected a table"),
        ('functions = ["a"]', "functions", "expected a table"),
        ('routes = "GET /"', "routes", "expected an array of tables"),
        (
            "extras = 1",
            "extras",
            "unknown key (expected one of: gateway, functions, routes, workflows, resources, "
            "modules, jobs, auth, limits, cors, authorizers, usage_plans, aws_credentials, "
            "tracing)",
        ),
    ],
)
def test_a_bad_file_shape_names_its_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    error = config_error(tmp_path, text + "\n")
    assert f"{key}: " in error.message
    assert fragment in error.message


ROUTE = '[[routes]]\nmethod = "GET"\npath = "/a"\nfunction = "echo"\n'


@pytest.mark.parametrize(
    ("routes", "key", "fragment"),
    [
        (
            ROUTE + '[[routes]]\nmethod = "GET"\npath = "/b"\nfunction = "ehco"\n',
            "routes[1].function",
            "expected a declared function (echo), got 'ehco'",
        ),
        (ROUTE + ROUTE, "routes[1]", "'GET /a' duplicates routes[0]"),
        (
            '[[routes]]\nmethod = "GET"\npath = "/u/{id}"\nfunction = "echo"\n'
            '[[routes]]\nmethod = "get"\npath = "/u/{name}"\nfunction = "echo"\n',
            "routes[1]",
            "duplicates routes[0] ('GET /u/{id}')",
        ),
        (
            '[[routes]]\nmethod = "FETCH"\npath = "/a"\nfunction = "echo"\n',
            "routes[0].method",
            "got 'FETCH'",
        ),
        (
            '[[routes]]\nmethod = "GET"\npath = "a"\nfunction = "echo"\n',
            "routes[0].path",
            "must start with '/'",
        ),
        (
            '[[routes]]\nmethod = "GET"\npath = "/{p+}/x"\nfunction = "echo"\n',
            "routes[0].path",
            "must be the last segment",
        ),
        ('[[routes]]\nmethod = "GET"\npath = "/a"\n', "routes[0].function", "missing"),
        (
            ROUTE + "payload_format = 2.0\n",
            "routes[0].payload_format",
            "expected one of '1.0', '2.0', got 2.0",
        ),
        (ROUTE + 'verb = "GET"\n', "routes[0].verb", "unknown key"),
    ],
)
def test_a_bad_route_names_its_key(tmp_path: Path, routes: str, key: str, fragment: str) -> None:
    error = config_error(tmp_path, MINIMAL + routes)
    assert f"{key}: " in error.message
    assert fragment in error.message


def test_routes_with_different_methods_on_one_path_are_not_duplicates(tmp_path: Path) -> None:
    text = MINIMAL + ROUTE + ROUTE.replace('"GET"', '"ANY"')
    config, _ = load_config(write(tmp_path, text))
    assert [r.route_key for r in config.routes] == ["GET /a", "ANY /a"]


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("max_body_bytes = 0", "gateway.max_body_bytes", "expected an integer > 0, got 0"),
        ('start_budget = "4"', "gateway.start_budget", "expected an integer ≥ 1, got '4'"),
        ('log_format = "xml"', "gateway.log_format", "expected one of 'text', 'json', got 'xml'"),
        ('log_level = "LOUD"', "gateway.log_level", "a logging level name"),
        ("janitor_interval = 0", "gateway.janitor_interval", "expected a number > 0"),
        ("log_capture_bytes = 100", "gateway.log_capture_bytes", "≥ 4096, got 100"),
        ("shutdown_grace = -1", "gateway.shutdown_grace", "≥ 0, got -1"),
        ("max_body_bytes = true", "gateway.max_body_bytes", "got true"),
        ("port = 0", "gateway.port", "expected an integer ≥ 1 and ≤ 65535, got 0"),
        ('config = "other.toml"', "gateway.config", "use --config or LOCKGATE_CONFIG"),
        ("workers = 3", "gateway.workers", "unknown key (expected one of: host, port"),
        ("prot = 9000", "gateway.prot", "unknown key; did you mean 'port'?"),
        ('log_format = "jsno"', "gateway.log_format", "got 'jsno'; did you mean 'json'?"),
    ],
)
def test_a_bad_gateway_value_names_its_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    error = config_error(tmp_path, f"[gateway]\n{text}\n")
    assert f"{key}: " in error.message
    assert fragment in error.message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        "[gateway]\nstart_budget = 0\n"
        '[functions.echo]\nhandler = "handlers:echo"\ntimeout = "30"\n'
        '[functions.echo.scaling]\nmax_capacity = "eight"\n'
        '[[routes]]\nmethod = "GET"\npath = "/a"\nfunction = "nope"\n'
    )
    error = config_error(tmp_path, text)
    keys = (
        "gateway.start_budget",
        "functions.echo.timeout",
        "functions.echo.scaling.max_capacity",
        "routes[0].function",
    )
    assert "4 problems" in error.message
    for key in keys:
        assert f"{key}: " in error.message
    assert error.fields["keys"] == keys
    assert error.fields["key"] == keys[0]


def test_a_route_to_an_invalid_function_is_not_also_called_undeclared(tmp_path: Path) -> None:
    error = config_error(tmp_path, "[functions.echo]\ntimeout = 1\n" + ROUTE)
    assert error.fields["keys"] == ("functions.echo.handler",)


# --- secrets ----------------------------------------------------------------------------------

SECRET = "s3cr3t-9f8e7d"


@pytest.mark.parametrize(
    "environment",
    [
        "environment = { TOKEN = 918273645 }",
        f'environment = {{ TOKEN = {{ value = "{SECRET}" }} }}',
        f'environment = "TOKEN={SECRET}"',
        f'environment = ["{SECRET}"]',
        "[functions.echo.environment]\nTOKEN = true",
    ],
)
def test_environment_values_never_appear_in_errors(tmp_path: Path, environment: str) -> None:
    error = config_error(tmp_path, MINIMAL + environment + "\n")
    assert "functions.echo.environment" in error.message
    for secret in (SECRET, "918273645", "true"):
        assert secret not in error.message
        assert secret not in repr(error.fields)


def test_a_number_in_the_environment_says_to_quote_it(tmp_path: Path) -> None:
    error = config_error(tmp_path, MINIMAL + "environment = { PORT = 8080 }\n")
    assert "functions.echo.environment.PORT: expected a string, got an integer" in error.message
    assert "must be strings" in error.message
    assert "8080" not in error.message


def test_a_syntax_error_in_the_environment_does_not_quote_the_line(tmp_path: Path) -> None:
    text = MINIMAL + f"[functions.echo.environment]\nTOKEN = {SECRET}\n"
    error = config_error(tmp_path, text)
    assert SECRET not in error.message
    assert error.fields["key"] == "functions.echo.environment.TOKEN"


# --- files that cannot be read ----------------------------------------------------------------


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="not found") as caught:
        load_config(path)
    assert str(path) in caught.value.message
    assert caught.value.fields["key"] == "config"


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    # A folder cannot be read as a file, even by root (who ignores permission bits).
    with pytest.raises(ConfigError, match="cannot read") as caught:
        load_config(tmp_path)
    assert caught.value.fields["key"] == "config"


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "lockgate.toml"
    path.write_bytes(b'[functions.echo]\nhandler = "\xff"\n')
    with pytest.raises(ConfigError, match="UTF-8") as caught:
        load_config(path)
    assert caught.value.fields["line"] == 2


def test_a_toml_syntax_error_gives_line_column_and_key(tmp_path: Path) -> None:
    text = MINIMAL + ROUTE + '[[routes]]\nmethod = GET\npath = "/b"\nfunction = "echo"\n'
    error = config_error(tmp_path, text)
    assert error.fields["line"] == 9
    assert error.fields["column"] == 10
    assert error.fields["key"] == "routes[1].method"
    assert ":9:10: routes[1].method: TOML syntax error: " in error.message


# --- settings and precedence ------------------------------------------------------------------


def test_defaults_without_a_config_file() -> None:
    settings, config = load_settings()
    assert settings == Settings()
    assert (settings.host, settings.port, settings.config) == ("127.0.0.1", 8000, None)
    assert settings.max_body_bytes == 6 * 1024 * 1024
    assert settings.start_budget == 4
    assert (settings.log_format, settings.log_level) == ("text", "INFO")
    assert settings.janitor_interval == 1.0
    assert settings.log_capture_bytes == 64 * 1024
    assert settings.shutdown_grace == 10.0
    assert config == GatewayConfig()


@pytest.mark.parametrize(
    ("in_file", "in_env", "given", "expected"),
    [
        (None, None, None, 6 * 1024 * 1024),
        (100, None, None, 100),
        (100, 200, None, 200),
        (100, 200, 300, 300),
        (None, 200, None, 200),
        (None, None, 300, 300),
    ],
)
def test_overrides_beat_environment_beats_file_beats_default(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_file: int | None,
    in_env: int | None,
    given: int | None,
    expected: int,
) -> None:
    gateway = f"[gateway]\nmax_body_bytes = {in_file}\n" if in_file is not None else ""
    path = write(tmp_path, gateway + MINIMAL)
    if in_env is not None:
        monkeypatch.setenv("LOCKGATE_MAX_BODY_BYTES", str(in_env))
    settings, config = load_settings(path, max_body_bytes=given)  # None means "not given"
    assert settings.max_body_bytes == expected
    assert settings.config == path
    assert list(config.functions) == ["echo"]


def test_each_field_takes_its_own_strongest_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[gateway]\nlog_level = "warning"\nstart_budget = 7\n')
    monkeypatch.setenv("LOCKGATE_PORT", "9001")
    monkeypatch.setenv("LOCKGATE_START_BUDGET", "8")
    settings, _ = load_settings(path, host="0.0.0.0", port=None)
    assert (settings.host, settings.port) == ("0.0.0.0", 9001)
    assert settings.start_budget == 8
    assert settings.log_level == "WARNING"


def test_the_config_path_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, MINIMAL)
    monkeypatch.setenv("LOCKGATE_CONFIG", str(path))
    settings, config = load_settings()
    assert settings.config == path
    assert list(config.functions) == ["echo"]


def test_a_bad_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "port (from environment variable LOCKGATE_PORT)" in caught.value.message
    assert "expected an integer ≥ 1 and ≤ 65535, got 'eighty'" in caught.value.message
    assert caught.value.fields["key"] == "port"
    assert caught.value.fields["env"] == "LOCKGATE_PORT"


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"port": 0}, "port", "got 0"),
        ({"port": 70000}, "port", "got 70000"),
        ({"log_level": "chatty"}, "log_level", "a logging level name"),
        ({"log_format": "xml"}, "log_format", "got 'xml'"),
        ({"start_budget": 0}, "start_budget", "≥ 1"),
        ({"janitor_interval": 0.0}, "janitor_interval", "> 0"),
        ({"log_capture_bytes": 1024}, "log_capture_bytes", "≥ 4096"),
        ({"max_body_bytes": -5}, "max_body_bytes", "> 0"),
        ({"prot": 80}, "prot", "unknown key"),
    ],
)
def test_a_bad_override_is_named(overrides: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    assert f"{key} (given explicitly): " in caught.value.message
    assert fragment in caught.value.message
    assert caught.value.fields["key"] == key
    assert caught.value.fields["env"] is None


def test_a_bad_file_fails_load_settings_too(tmp_path: Path) -> None:
    path = write(tmp_path, "[gateway]\nstart_budget = 0\n")
    with pytest.raises(ConfigError, match=r"gateway\.start_budget"):
        load_settings(path)


def test_settings_are_frozen() -> None:
    settings, _ = load_settings()
    with pytest.raises(ValidationError):
        settings.port = 1
