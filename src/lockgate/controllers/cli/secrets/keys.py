"""``lockgate secrets init-key``, ``rotate`` and ``retire-key``: the master key's life.

``rotate`` rewraps every data key in one transaction that writes from running gateways wait
for; it keeps each secret's wrapping by the old key (so gateways still running with it keep
reading) until ``retire-key`` drops them; ``rotate --retire`` drops them at once. Registered
on ``secrets_app`` by ``commands``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockgate.controllers.cli.secrets.common import (
    KEY_FILE_ENV,
    ConfigOption,
    KeyFileOption,
    fail,
    master_key,
    run_on_store,
)

if TYPE_CHECKING:
    from lockgate.use_cases.secrets.manager import SecretManager

__all__ = ["init_key", "retire_key", "rotate"]


def init_key(
    *,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Where to create the key (default: .lockgate/master.key beside the config).",
        ),
    ] = None,
    config: ConfigOption = None,
    print_key: Annotated[
        bool, typer.Option("--print", help="Also print the key itself (base64) to stdout.")
    ] = False,
) -> None:
    """Create a new master key in a file private to its owner (mode 0600).

    An existing file is never overwritten; the key is printed only with --print.
    """
    from lockgate.errors import MasterKeyError  # noqa: PLC0415
    from lockgate.use_cases.secrets.master_key import create_key_file  # noqa: PLC0415

    if key_file is None:
        from lockgate.config.settings import discover_config  # noqa: PLC0415

        config_path = discover_config(config)  # as lockgate serve finds it
        base = config_path.parent if config_path is not None else Path.cwd()
        key_file = base / ".lockgate" / "master.key"
    try:
        key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create {key_file.parent}: {exc.strerror}")
    try:
        key = create_key_file(key_file)
    except MasterKeyError as exc:
        fail(exc.message)
    path = key_file.resolve()
    typer.echo(f"created master key {key.key_id} in {path} (mode 0600)", err=True)
    typer.echo(
        f"use it with --key-file {path}, or export {KEY_FILE_ENV}={path}, or put the key's "
        "text in LOCKGATE_MASTER_KEY; keep a backup: without it the secrets are lost",
        err=True,
    )
    if print_key:
        typer.echo(path.read_text(encoding="ascii").strip())
    else:
        typer.echo(str(path))


def rotate(
    *,
    new_key_file: Annotated[
        Path,
        typer.Option(
            "--new-key-file",
            help="The new master key file (mode 0600; make one with `secrets init-key`).",
        ),
    ],
    retire: Annotated[
        bool,
        typer.Option(
            "--retire",
            help="Also drop the old key's wrappings at once (after a compromise): only the "
            "new key opens anything, and gateways still holding the old key cannot read.",
        ),
    ] = False,
    config: ConfigOption = None,
    key_file: KeyFileOption = None,
) -> None:
    """Rewrap every secret's data key with a new master key, in one transaction.

    The current key comes from --key-file, LOCKGATE_MASTER_KEY_FILE or LOCKGATE_MASTER_KEY.
    Gateways may keep running: their writes wait for the rotation, and afterwards they
    follow it (re-reading their key file) or refuse writes until restarted with the new key.
    Unless --retire, the old key still opens every secret until `secrets retire-key`.
    """
    old_key = master_key(key_file)
    new_key = master_key(new_key_file)
    if new_key.key_id == old_key.key_id:
        fail(f"the new master key is the current one ({old_key.key_id}): nothing to rotate")

    async def work(manager: SecretManager) -> int:
        from lockgate.errors import InvalidRequestError  # noqa: PLC0415

        if (await manager.key_state()).current_key_id == new_key.key_id:
            raise InvalidRequestError(
                f"the secrets are already under master key {new_key.key_id}: nothing to "
                "rotate (`lockgate secrets retire-key` drops the old key's wrappings)"
            )
        return await manager.rotate_master_key(new_key, retire_old=retire)

    count, store = run_on_store(config, work, old_key)
    typer.echo(
        f"rewrapped {count} secret(s) from master key {old_key.key_id} to {new_key.key_id} "
        f"in {store}"
    )
    place = f"copy {new_key_file} over the key file each gateway reads, or set LOCKGATE_MASTER_KEY"
    if retire:
        typer.echo(
            f"dropped every older wrapping: only {new_key.key_id} opens the secrets now. Give "
            f"every gateway the new key ({place}); until then a gateway that cannot re-read "
            "its key file answers 409 MasterKeyRotated for secrets, so restart it",
            err=True,
        )
        return
    typer.echo(
        f"the old key {old_key.key_id} still opens them, so gateways running with it keep "
        "reading; they refuse writes (409 MasterKeyRotated) until they hold the new key.\n"
        f"next: {place} (a gateway re-reads its key file when it meets the new key; one "
        "given LOCKGATE_MASTER_KEY needs a restart), then drop the old wrappings:\n"
        f"  lockgate secrets retire-key --key-file {new_key_file}",
        err=True,
    )


def retire_key(
    *,
    config: ConfigOption = None,
    key_file: KeyFileOption = None,
) -> None:
    """Drop the wrappings a rotation kept, so old master keys open nothing.

    Needs the current master key (--key-file, LOCKGATE_MASTER_KEY_FILE or
    LOCKGATE_MASTER_KEY): every secret is checked to open with it first, in one transaction.
    """
    key = master_key(key_file)

    async def work(manager: SecretManager) -> tuple[list[str], int]:
        old = (await manager.key_state()).previous_key_ids
        return old, await manager.retire_previous_keys()

    (old, count), store = run_on_store(config, work, key)
    retired = f"retired master key(s) {', '.join(old)}" if old else "no older wrappings were kept"
    typer.echo(f"{retired}: {count} secret(s) are wrapped by {key.key_id} only, in {store}")
