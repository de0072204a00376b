"""The egress settings: inline references off by default, ``inline_allowed_hosts`` from the
file's ``[gateway]`` table and the environment, bad entries refused at start-up naming the
entry and where it came from; and the built-in resolvers all apply the policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.bootstrap import _builtin_resolvers, build
from lockgate.config.settings import Settings, load_settings
from lockgate.errors import ConfigError, ResourceConfigError
from lockgate.gateways.interfaces import IInlineResourceResolver
from lockgate.gateways.resources.egress.guard import EgressGuard
from lockgate.use_cases.resources.registry import ResourceRegistry
from tests.unit.config_files import config_error, write

pytestmark = pytest.mark.usefixtures("no_lockgate_env")


def test_inline_references_are_off_and_the_policy_is_public_only_by_default() -> None:
    settings = Settings()
    assert settings.allow_inline_resources is False
    assert settings.inline_allowed_hosts == ["public"]


def test_the_file_sets_the_policy(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[gateway]\nallow_inline_resources = true\n"
        'inline_allowed_hosts = ["127.0.0.1", "10.0.0.0/8", "*.example.com"]\n',
    )
    settings, _ = load_settings(path)
    assert settings.allow_inline_resources is True
    assert settings.inline_allowed_hosts == ["127.0.0.1", "10.0.0.0/8", "*.example.com"]


def test_the_environment_sets_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_ALLOW_INLINE_RESOURCES", "true")
    monkeypatch.setenv("LOCKGATE_INLINE_ALLOWED_HOSTS", '["public", "::1"]')
    settings, _ = load_settings()
    assert settings.allow_inline_resources is True
    assert settings.inline_allowed_hosts == ["public", "::1"]


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("10.0.0.1/8", "host bits set"),
        ("db.internal:5432", "has a port"),
        ("*", "ambiguous"),
        ("https://api.example.com", "is a URL"),
    ],
)
def test_a_bad_entry_in_the_file_is_named_with_its_key(
    tmp_path: Path, entry: str, fragment: str
) -> None:
    error = config_error(tmp_path, f'[gateway]\ninline_allowed_hosts = ["public", "{entry}"]\n')
    assert "gateway.inline_allowed_hosts: " in error.message
    assert f"inline_allowed_hosts entry {entry!r}" in error.message
    assert fragment in error.message


def test_a_bad_entry_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCKGATE_INLINE_ALLOWED_HOSTS", '["api.*.com"]')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "LOCKGATE_INLINE_ALLOWED_HOSTS" in caught.value.message
    assert "'api.*.com'" in caught.value.message


def test_every_built_in_type_applies_the_policy_inline() -> None:
    for type_name, resolver in _builtin_resolvers(Settings()).items():
        assert isinstance(resolver, IInlineResourceResolver), type_name


def test_build_gives_the_registry_and_a_callers_registry_the_settings_policy() -> None:
    settings = Settings(
        run_store="memory://", allow_inline_resources=True, inline_allowed_hosts=["10.0.0.0/8"]
    )
    made = build(settings).resources
    assert made.checked_request({"api": {"type": "http_client"}}) == {
        "api": {"type": "http_client", "config": {}}
    }
    assert isinstance(made.egress, EgressGuard)
    assert [p.text for p in made.egress.policy.patterns] == ["10.0.0.0/8"]
    given = ResourceRegistry()  # the seed's: inline stays off unless it was made with it
    assert build(settings, resource_registry=given).resources.egress is not None
    with pytest.raises(ResourceConfigError, match="inline references are off"):
        given.checked_request({"api": {"type": "http_client"}})
