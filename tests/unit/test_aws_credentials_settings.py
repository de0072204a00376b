"""``[aws_credentials.NAME]`` in ``lockgate.toml``: parsed into ``AwsCredential``s, every bad
value named by its dotted key, carried by a reload, and counted by the start-up exposure
check only when a key may call some function."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lockgate import bootstrap
from lockgate.bootstrap import build
from lockgate.config.settings import Settings, load_config
from lockgate.errors import ConfigError
from lockgate.models.security.sigv4 import AwsCredential
from tests.unit.config_files import config_error, write

CI = """
[aws_credentials.ci]
access_key_id = "AKIAIOSFODNN7EXAMPLE"
secret_ref = "ci_aws_secret"
allow_functions = ["echo", "reports-*"]
"""


def test_a_declared_key_becomes_a_credential(tmp_path: Path) -> None:
    config, _ = load_config(write(tmp_path, CI))
    assert config.security.aws_credentials == (
        AwsCredential("ci", "AKIAIOSFODNN7EXAMPLE", "ci_aws_secret", ("echo", "reports-*")),
    )
    [ci] = config.security.aws_credentials
    assert "AKIA" not in repr(ci)


def test_none_declared_is_none(tmp_path: Path) -> None:
    config, _ = load_config(write(tmp_path, "[auth]\n"))
    assert config.security.aws_credentials == ()


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            CI.replace('"AKIAIOSFODNN7EXAMPLE"', '"akiaiosfodnn7example"'),
            "aws_credentials.ci.access_key_id",
            "16-128 upper-case letters and digits",
        ),
        (CI.replace('"AKIAIOSFODNN7EXAMPLE"', '"AKIA1"'), "aws_credentials.ci.access_key_id", ""),
        (
            CI.replace('"ci_aws_secret"', '"no spaces please"'),
            "aws_credentials.ci.secret_ref",
            "the name of the secret",
        ),
        (
            CI.replace('"reports-*"', '"reports/*"'),
            "aws_credentials.ci.allow_functions[1]",
            "a function name or glob",
        ),
        (
            CI.replace('allow_functions = ["echo", "reports-*"]\n', ""),
            "aws_credentials.ci.allow_functions",
            "missing",
        ),
        (CI + 'region = "us-east-1"\n', "aws_credentials.ci.region", "unknown key"),
        (
            CI + CI.replace("[aws_credentials.ci]", "[aws_credentials.other]"),
            "aws_credentials.other.access_key_id",
            "the same key as aws_credentials.ci",
        ),
        ("aws_credentials = 1\n", "aws_credentials", "expected a table"),
        (
            CI.replace("[aws_credentials.ci]", '[aws_credentials."c i"]'),
            'aws_credentials."c i"',
            "name 'c i' is invalid",
        ),
    ],
)
def test_a_bad_key_is_named_by_its_dotted_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    error = config_error(tmp_path, text)
    assert f"{key}: " in error.message
    assert fragment in error.message


def test_a_reload_carries_the_declared_keys(tmp_path: Path) -> None:
    application = build(Settings(run_store="memory://"))
    assert not application.authenticator.checks_signatures
    config, _ = load_config(write(tmp_path, CI))
    application.apply(config)
    assert [c.name for c in application.security.aws_credentials] == ["ci"]
    assert application.authenticator.checks_signatures


def test_the_security_pages_example_parses(tmp_path: Path) -> None:
    page = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    blocks = [b.split("```")[0] for b in page.split("```toml\n")[1:]]
    [example] = [b for b in blocks if "[aws_credentials.ci]" in b]
    config, _ = load_config(write(tmp_path, example))
    [ci] = config.security.aws_credentials
    assert ci.principal().scopes == {"functions:invoke:echo", "functions:invoke:reports-*"}


def test_declared_keys_without_botocore_fail_the_build_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = load_config(write(tmp_path, CI))
    # As if botocore (the aws extra) were not installed: the signer's module cannot import.
    monkeypatch.setitem(sys.modules, "lockgate.gateways.aws.sigv4", None)
    bootstrap._sigv4_signer.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"install lockgate\[aws\]"):
            build(Settings(run_store="memory://"), config)
    finally:
        bootstrap._sigv4_signer.cache_clear()
