"""``lockgate secrets init-key/set/list/delete/rotate/retire-key`` against a real SQLite file.

The CLI runs in-process through typer's ``CliRunner``; what it stored is checked with a
``SecretManager`` opened on the same file. (PostgreSQL is not covered here: the secret store
uses the run store's fixed schema, so a test could not get a fresh one from the DSN.)
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from lockgate.controllers.cli.main import app
from lockgate.errors import MasterKeyRotatedError
from lockgate.gateways.stores.secrets.sqlite import SQLiteSecretStore
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey

runner = CliRunner()
VALUE = "s3cr3t-Value-that-must-not-leak"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "lockgate.toml"
    path.write_text("", encoding="utf-8")
    return path


@pytest.fixture
def key_file(tmp_path: Path, config: Path) -> Path:
    result = lockgate("secrets", "init-key", "--config", str(config))
    assert result.exit_code == 0, result.output
    return tmp_path / ".lockgate" / "master.key"


def lockgate(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    """``lockgate ARGS`` in-process; an exception other than an exit fails the test."""
    base: dict[str, Any] = {
        "LOCKGATE_MASTER_KEY": None,
        "LOCKGATE_MASTER_KEY_FILE": None,
        "LOCKGATE_CONFIG": None,
        "LOCKGATE_RUN_STORE": None,
    }
    result = runner.invoke(app, list(args), input=stdin, env={**base, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"lockgate {' '.join(args)} raised") from result.exception
    return result


def secrets(*args: str, config: Path, key: Path, stdin: str | None = None) -> Result:
    return lockgate("secrets", *args, "--config", str(config), "--key-file", str(key), stdin=stdin)


def read_secret(db: Path, key: Path, name: str) -> Any:
    async def main() -> Any:
        store = SQLiteSecretStore(db)
        await store.open()
        try:
            value = await SecretManager(store, MasterKey.from_file(key)).get_secret(name)
            return value.reveal()
        finally:
            await store.close()

    return asyncio.run(main())


def db_of(config: Path) -> Path:
    return config.parent / ".lockgate" / "runs.sqlite3"


def test_init_key_creates_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    result = lockgate("secrets", "init-key", "--key-file", str(path))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="ascii").strip()
    assert text not in result.output
    assert str(path.resolve()) in result.stdout
    assert "LOCKGATE_MASTER_KEY_FILE=" in result.output
    assert "LOCKGATE_MASTER_KEY" in result.output

    again = lockgate("secrets", "init-key", "--key-file", str(path))
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert path.read_text(encoding="ascii").strip() == text


def test_init_key_print_shows_the_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    result = lockgate("secrets", "init-key", "--key-file", str(path), "--print")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == path.read_text(encoding="ascii").strip()


def test_init_key_defaults_beside_the_config(config: Path, key_file: Path) -> None:
    assert key_file.parent == config.parent / ".lockgate"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_set_list_delete_round_trip(config: Path, key_file: Path) -> None:
    stored = secrets("set", "db/password", config=config, key=key_file, stdin=VALUE + "\n")
    assert stored.exit_code == 0, stored.output
    assert VALUE not in stored.output
    assert read_secret(db_of(config), key_file, "db/password") == VALUE

    as_json = secrets(
        "set", "db/conf", "--json", config=config, key=key_file, stdin='{"port": 5432}'
    )
    assert as_json.exit_code == 0, as_json.output
    assert read_secret(db_of(config), key_file, "db/conf") == {"port": 5432}
    from_option = lockgate(
        "secrets",
        "set",
        "api",
        "--value-json",
        '["a", 1]',
        env={"LOCKGATE_CONFIG": str(config), "LOCKGATE_MASTER_KEY_FILE": str(key_file)},
    )
    assert from_option.exit_code == 0, from_option.output
    assert read_secret(db_of(config), key_file, "api") == ["a", 1]

    listed = secrets("list", config=config, key=key_file)
    assert listed.exit_code == 0, listed.output
    for name in ("db/password", "db/conf", "api"):
        assert name in listed.stdout
    assert VALUE not in listed.output
    assert "5432" not in listed.output

    listed_json = json.loads(secrets("list", "--json", config=config, key=key_file).stdout)
    assert sorted(row["name"] for row in listed_json["secrets"]) == [
        "api",
        "db/conf",
        "db/password",
    ]
    assert VALUE not in json.dumps(listed_json)
    assert "5432" not in json.dumps(listed_json)
    assert {row["version"] for row in listed_json["secrets"]} == {1}

    deleted = secrets("delete", "db/password", config=config, key=key_file)
    assert deleted.exit_code == 0, deleted.output
    names = [
        row["name"]
        for row in json.loads(secrets("list", "--json", config=config, key=key_file).stdout)[
            "secrets"
        ]
    ]
    assert names == ["api", "db/conf"]


def test_delete_unknown_name_exits_2_naming_it(config: Path, key_file: Path) -> None:
    result = secrets("delete", "nope", config=config, key=key_file)
    assert result.exit_code == 2
    assert "nope" in result.output


def test_bad_json_value_exits_2(config: Path, key_file: Path) -> None:
    result = secrets("set", "x", "--json", config=config, key=key_file, stdin="{not json")
    assert result.exit_code == 2
    assert "not JSON" in result.output


def test_missing_key_exits_2_pointing_at_init_key(config: Path) -> None:
    for args in (("set", "x"), ("list",), ("delete", "x")):
        result = lockgate("secrets", *args, "--config", str(config), stdin=VALUE)
        assert result.exit_code == 2, args
        assert "init-key" in result.output


def test_key_file_readable_by_others_is_refused(config: Path, key_file: Path) -> None:
    os.chmod(key_file, 0o644)
    result = secrets("set", "x", config=config, key=key_file, stdin=VALUE)
    assert result.exit_code == 2
    assert "0600" in result.output
    assert not db_of(config).exists()  # refused before the store was opened


def test_wrong_key_exits_2(tmp_path: Path, config: Path, key_file: Path) -> None:
    assert secrets("set", "x", config=config, key=key_file, stdin=VALUE).exit_code == 0
    other = tmp_path / "other.key"
    assert lockgate("secrets", "init-key", "--key-file", str(other)).exit_code == 0
    for args in (("set", "y"), ("delete", "x")):
        result = secrets(*args, config=config, key=other, stdin=VALUE)
        assert result.exit_code == 2, args
        assert "master key" in result.output
    assert read_secret(db_of(config), key_file, "x") == VALUE


def test_memory_run_store_is_refused(key_file: Path) -> None:
    result = lockgate(
        "secrets",
        "list",
        "--key-file",
        str(key_file),
        env={"LOCKGATE_RUN_STORE": "memory://"},
    )
    assert result.exit_code == 2
    assert "memory://" in result.output


def test_rotate_rewraps_under_the_new_key(tmp_path: Path, config: Path, key_file: Path) -> None:
    assert secrets("set", "a", config=config, key=key_file, stdin=VALUE).exit_code == 0
    assert secrets("set", "b", "--json", config=config, key=key_file, stdin="[1]").exit_code == 0
    new = tmp_path / "new.key"
    assert lockgate("secrets", "init-key", "--key-file", str(new)).exit_code == 0
    old_id, new_id = MasterKey.from_file(key_file).key_id, MasterKey.from_file(new).key_id

    rotated = secrets("rotate", "--new-key-file", str(new), config=config, key=key_file)
    assert rotated.exit_code == 0, rotated.output
    assert f"rewrapped 2 secret(s) from master key {old_id} to {new_id}" in rotated.stdout
    assert f"lockgate secrets retire-key --key-file {new}" in rotated.output
    assert VALUE not in rotated.output

    listed = json.loads(secrets("list", "--json", config=config, key=new).stdout)
    assert {row["key_id"] for row in listed["secrets"]} == {new_id}
    assert (listed["current_key_id"], listed["previous_key_ids"]) == (new_id, [old_id])
    assert read_secret(db_of(config), new, "a") == VALUE
    assert read_secret(db_of(config), new, "b") == [1]
    # Kept until retired: the old key still reads, but it writes nothing.
    assert read_secret(db_of(config), key_file, "a") == VALUE
    refused = secrets("set", "c", config=config, key=key_file, stdin=VALUE)
    assert refused.exit_code == 2
    assert f"rotated to {new_id}" in refused.output
    assert "retire-key" in secrets("list", config=config, key=new).output

    # Retiring needs the current key; then the old key opens nothing.
    wrong = secrets("retire-key", config=config, key=key_file)
    assert wrong.exit_code == 2
    assert f"current key is {new_id}" in wrong.output
    retired = secrets("retire-key", config=config, key=new)
    assert retired.exit_code == 0, retired.output
    assert f"retired master key(s) {old_id}: 2 secret(s) are wrapped by {new_id} only" in (
        retired.stdout
    )
    with pytest.raises(MasterKeyRotatedError):
        read_secret(db_of(config), key_file, "a")
    assert read_secret(db_of(config), new, "a") == VALUE
    again = secrets("rotate", "--new-key-file", str(new), config=config, key=key_file)
    assert again.exit_code == 2
    assert f"already under master key {new_id}" in again.output


def test_rotate_retire_drops_the_old_key_at_once(
    tmp_path: Path, config: Path, key_file: Path
) -> None:
    assert secrets("set", "a", config=config, key=key_file, stdin=VALUE).exit_code == 0
    new = tmp_path / "new.key"
    assert lockgate("secrets", "init-key", "--key-file", str(new)).exit_code == 0
    rotated = secrets("rotate", "--new-key-file", str(new), "--retire", config=config, key=key_file)
    assert rotated.exit_code == 0, rotated.output
    assert "dropped every older wrapping" in rotated.output
    with pytest.raises(MasterKeyRotatedError):
        read_secret(db_of(config), key_file, "a")
    assert read_secret(db_of(config), new, "a") == VALUE
    assert (
        json.loads(secrets("list", "--json", config=config, key=new).stdout)["previous_key_ids"]
        == []
    )


def test_rotating_to_the_same_key_is_refused(config: Path, key_file: Path) -> None:
    result = secrets("rotate", "--new-key-file", str(key_file), config=config, key=key_file)
    assert result.exit_code == 2
    assert "nothing to rotate" in result.output


# -- which store: the config lockgate serve would find, and said --------------------------------


def test_set_finds_the_config_as_serve_does_and_says_where_it_wrote(
    tmp_path: Path, config: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --config: LOCKGATE_CONFIG, else ./lockgate.toml, as ``lockgate serve``; the
    message names the database and the config, so a write never goes astray silently."""
    monkeypatch.chdir(tmp_path)
    found_here = lockgate("secrets", "set", "here", "--key-file", str(key_file), stdin=VALUE)
    assert found_here.exit_code == 0, found_here.output
    db = db_of(config).absolute()
    assert f"in the SQLite file {db} (the config lockgate.toml)" in found_here.stdout
    assert read_secret(db, key_file, "here") == VALUE

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    from_env = lockgate(
        "secrets",
        "set",
        "via_env",
        "--key-file",
        str(key_file),
        stdin=VALUE,
        env={"LOCKGATE_CONFIG": str(config)},
    )
    assert from_env.exit_code == 0, from_env.output
    assert f"in the SQLite file {db} (the config {config})" in from_env.stdout
    assert read_secret(db, key_file, "via_env") == VALUE
    assert not (elsewhere / ".lockgate").exists()


def test_set_without_any_config_says_so(
    tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    monkeypatch.chdir(bare)
    result = lockgate("secrets", "set", "loose", "--key-file", str(key_file), stdin=VALUE)
    assert result.exit_code == 0, result.output
    db = (bare / ".lockgate" / "runs.sqlite3").absolute()
    assert f"in the SQLite file {db} (no config: no --config, LOCKGATE_CONFIG or " in (
        result.stdout
    )
    deleted = lockgate("secrets", "delete", "loose", "--key-file", str(key_file))
    assert deleted.exit_code == 0, deleted.output
    assert f"deleted secret loose from the SQLite file {db}" in deleted.stdout
