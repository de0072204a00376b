"""EnvironmentSecrets: ``LOCKGATE_SECRET_<NAME>`` variables, read-only, JSON objects parsed,
and errors that name the variable but never show its value."""

from __future__ import annotations

import pytest

from lockgate.errors import InvalidRequestError, SecretNotFoundError, SecretsReadOnlyError
from lockgate.gateways.stores.secrets.env import EnvironmentSecrets, env_name

PASSWORD = "pw-env-7d2a90c1f3"


def test_names_map_to_upper_case_variables() -> None:
    assert env_name("db.creds") == "LOCKGATE_SECRET_DB_CREDS"
    assert env_name("api-token") == "LOCKGATE_SECRET_API_TOKEN"
    assert env_name("team/db_creds") == "LOCKGATE_SECRET_TEAM_DB_CREDS"


async def test_json_objects_and_lists_are_parsed_and_strings_kept() -> None:
    secrets = EnvironmentSecrets(
        {
            "LOCKGATE_SECRET_DB_CREDS": f'{{"user": "app", "password": "{PASSWORD}"}}',
            "LOCKGATE_SECRET_HOSTS": ' ["a", "b"]',
            "LOCKGATE_SECRET_API_TOKEN": PASSWORD,
            "LOCKGATE_SECRET_NUMBERISH": "42",
        }
    )
    assert (await secrets.get_secret("db.creds")).reveal() == {"user": "app", "password": PASSWORD}
    assert (await secrets.get_secret("hosts")).reveal() == ["a", "b"]
    assert (await secrets.get_secret("api-token")).reveal() == PASSWORD
    assert (await secrets.get_secret("numberish")).reveal() == "42"  # only { and [ are JSON
    assert PASSWORD not in repr(await secrets.get_secret("api_token"))
    assert PASSWORD not in repr(secrets)


async def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_SECRET_FROM_PROCESS", PASSWORD)
    assert (await EnvironmentSecrets().get_secret("from_process")).reveal() == PASSWORD


async def test_a_missing_variable_names_it() -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        await EnvironmentSecrets({}).get_secret("db.creds")
    assert "'db.creds'" in caught.value.message
    assert "LOCKGATE_SECRET_DB_CREDS" in caught.value.message
    assert caught.value.fields["secret"] == "db.creds"


async def test_invalid_json_names_the_variable_but_not_the_value() -> None:
    secrets = EnvironmentSecrets({"LOCKGATE_SECRET_DB": f'{{"password": "{PASSWORD}"'})
    with pytest.raises(InvalidRequestError) as caught:
        await secrets.get_secret("db")
    assert "LOCKGATE_SECRET_DB" in caught.value.message
    assert caught.value.fields["field"] == "LOCKGATE_SECRET_DB"
    for text in (caught.value.message, str(caught.value), repr(caught.value)):
        assert PASSWORD not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


async def test_an_invalid_name_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="invalid"):
        await EnvironmentSecrets({}).get_secret("../x")


async def test_store_and_delete_are_refused() -> None:
    secrets = EnvironmentSecrets({"LOCKGATE_SECRET_DB": PASSWORD})
    with pytest.raises(SecretsReadOnlyError) as stored:
        await secrets.store_secret("db.creds", {"password": PASSWORD})
    assert "read-only" in stored.value.message
    assert "LOCKGATE_SECRET_DB_CREDS" in stored.value.message
    assert PASSWORD not in str(stored.value)
    with pytest.raises(SecretsReadOnlyError, match="read-only"):
        await secrets.delete_secret("db")
    assert (await secrets.get_secret("db")).reveal() == PASSWORD


async def test_list_shows_the_prefixed_variables_as_names_only() -> None:
    secrets = EnvironmentSecrets(
        {
            "LOCKGATE_SECRET_DB_CREDS": PASSWORD,
            "LOCKGATE_SECRET_API": "x",
            "LOCKGATE_SECRET_": "empty name",
            "LOCKGATE_MASTER_KEY": "not a secret of this backend",
            "HOME": "/root",
        }
    )
    listed = await secrets.list_secrets()
    assert [m.name for m in listed] == ["api", "db_creds"]
    assert {(m.key_id, m.version) for m in listed} == {("environment", 1)}
    assert PASSWORD not in repr(listed)
