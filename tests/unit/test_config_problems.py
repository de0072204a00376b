"""One run lists every problem in a ``lockgate.toml``: TOML syntax errors (the file is still
checked past them), keys, types, references between tables and settings from the
environment, each with its dotted key, and a "did you mean" for a near-miss name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lockgate.config.problems import did_you_mean
from lockgate.config.settings import inspect_config, inspect_settings, load_settings
from lockgate.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_lockgate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in os.environ:
        if name.upper().startswith("LOCKGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no ./lockgate.toml but the tests' own


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lockgate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def keys_and_messages(path: Path) -> list[tuple[str, str]]:
    _, _, problems = inspect_config(path)
    return [(p.key, p.message) for p in problems]


def test_a_syntax_error_is_reported_with_its_line_and_the_rest_is_still_checked(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        '[functions.echo]\nhandler = "handlers:echo"\ntimeout = = 3\n'
        "[functions.echo.scaling]\nmax_capacity = 0\n",
    )
    _, _, problems = inspect_config(path)
    assert [(p.key, p.line, p.column) for p in problems] == [
        ("functions.echo.timeout", 3, 11),
        ("functions.echo.scaling.max_capacity", None, None),
    ]
    assert problems[0].message.startswith("TOML syntax error: ")
    assert "expected an integer ≥ 1, got 0" in problems[1].message


def test_several_syntax_errors_are_all_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[functions.a]\nhandler = "h:a"\nmemory_size = \n'
        '[functions.b\nhandler = "h:b"\n'
        '[functions.c]\nhandler = "h:c"\ntimeout = "3\n',
    )
    _, _, problems = inspect_config(path)
    assert [(p.key, p.line) for p in problems] == [
        ("functions.a.memory_size", 3),
        ("functions.a", 4),  # the broken header: its keys are left out with it
        ("functions.c.timeout", 8),
    ]


def test_a_file_that_cannot_be_recovered_still_reports_its_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[functions.a]\nhandler = """h:a\n')
    _, _, problems = inspect_config(path)
    assert len(problems) == 1
    assert problems[0].message.startswith("TOML syntax error: ")


def test_problems_of_every_stage_come_in_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        "[gateway]\nstart_budget = 0\nmax_headres = 10\n"
        '[functions.echo]\nhandler = "handlers:echo"\ntimeout = "30"\n'
        "[functions.bad]\nhandler = = 1\n"
        '[[routes]]\nmethod = "GET"\npath = "/a"\nfunction = "ecoh"\n'
        '[modules.users]\nservices_module = "app.users.services"\ndependencies = ["biling"]\n'
        '[modules.billing]\nservices_module = "app.billing.services"\n'
        '[authorizers.jwt1]\ntype = "jwt"\nissuer = "https://issuer.example"\n'
        'jwks_url = "https://issuer.example/jwks"\naudience = ["api"]\n'
        '[auth]\nauthorizer = "jwt2"\n',
    )
    monkeypatch.setenv("LOCKGATE_PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    keys = caught.value.fields["keys"]
    assert keys == (
        "functions.bad.handler",
        "gateway.start_budget",
        "gateway.max_headres",
        "functions.echo.timeout",
        "routes[0].function",
        "modules.users.dependencies[0]",
        "auth.authorizer",
        "port",
    )
    message = caught.value.message
    assert message.startswith(f"{path}: 8 problems:\n  - functions.bad.handler (line 8, ")
    assert "gateway.max_headres: unknown key; did you mean 'max_headers'?" in message
    assert "got 'ecoh'; did you mean 'echo'?" in message
    assert "got 'biling'; did you mean 'billing'?" in message
    assert "got 'jwt2'; did you mean 'jwt1'?" in message
    assert "port (from environment variable LOCKGATE_PORT): " in message
    assert caught.value.fields["env"] == "LOCKGATE_PORT"


def test_inspection_keeps_what_is_valid(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[gateway]\nstart_budget = 0\nlog_level = "debug"\n'
        '[functions.good]\nhandler = "handlers:good"\n'
        '[functions.odd]\nhandler = "handlers:odd"\ntimout = 3\n'
        '[functions.worse]\nhandler = "no colon"\n',
    )
    inspection = inspect_settings(path)
    assert inspection.settings is not None
    assert inspection.settings.log_level == "DEBUG"  # the file's good values still count
    assert inspection.settings.start_budget == 4  # the bad one is left to its default
    # A function whose only problems are keys beside its handler still has it checked.
    assert sorted(inspection.config.functions) == ["good", "odd"]
    assert [p.key for p in inspection.problems] == [
        "gateway.start_budget",
        "functions.odd.timout",
        "functions.worse.handler",
    ]


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("[function.echo]\nhandler = 'h:e'\n", "function", "did you mean 'functions'?"),
        ("[gateway]\nlog_format = 'jsno'\n", "gateway.log_format", "did you mean 'json'?"),
        (
            "[functions.echo]\nhandler = 'h:e'\n[functions.echo.scaling]\nmin_wram = 1\n",
            "functions.echo.scaling.min_wram",
            "did you mean 'min_warm'?",
        ),
        (
            "[functions.echo]\nhandler = 'h:e'\nruntime = 'pyhton'\n",
            "functions.echo.runtime",
            "did you mean 'python'?",
        ),
        (
            "[resources.db]\ntype = 'database'\ncredential_ref = 'x'\n",
            "resources.db.credential_ref",
            "did you mean 'credentials_ref'?",
        ),
    ],
)
def test_a_near_miss_gets_a_hint(tmp_path: Path, text: str, key: str, hint: str) -> None:
    found = dict(keys_and_messages(write(tmp_path, text)))
    assert hint in found[key]


def test_a_far_miss_lists_what_is_allowed_instead(tmp_path: Path) -> None:
    found = dict(keys_and_messages(write(tmp_path, "[gateway]\nzzz = 1\n")))
    assert found["gateway.zzz"].startswith("unknown key (expected one of: host, port, ")


def test_no_hint_for_a_secret_value(tmp_path: Path) -> None:
    """Environment values may be secrets: a wrong one is never echoed, not even as a hint."""
    text = "[functions.echo]\nhandler = 'h:e'\nenvironment = { TOKEN = 12345 }\n"
    found = dict(keys_and_messages(write(tmp_path, text)))
    assert "12345" not in found["functions.echo.environment.TOKEN"]


def test_did_you_mean() -> None:
    assert did_you_mean("helo", ["hello", "world"]) == "; did you mean 'hello'?"
    assert did_you_mean("HELLO", ["hello"]) == "; did you mean 'hello'?"
    assert did_you_mean("zzz", ["hello"]) == ""
    assert did_you_mean("hello", ["hello"]) == ""
    assert did_you_mean(3, ["hello"]) == ""
