"""``lockgate secrets rotate`` run from the CLI while a real ``lockgate serve`` runs on the
same SQLite store: the gateway keeps answering reads, refuses writes with a clear 409 while
it holds the old key (never a 500), follows a key file updated in place, works again after a
restart with the new key, and once the old key is retired that key opens nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.secrets_live import Site, key_id, key_text, never_500, replace_key_file

VALUE = "s3cr3t-rotation-value-4c7e"
NEW_VALUE = "s3cr3t-after-rotation-9d2a"
LOG_VALUE = "s3cr3t"  # the common prefix: a value in the output would show it


@pytest.fixture
def site(tmp_path: Path) -> Site:
    site = Site(tmp_path)
    site.config.write_text("", encoding="utf-8")
    key = site.new_key("master.key")
    site.set_secret("api_token", VALUE, key)
    return site


def serving(site: Site, **env: str) -> GatewayProcess:
    """A gateway reading values back over HTTP, uncached, so every read meets the store."""
    return GatewayProcess(
        site.config,
        env=site.gateway_env(
            LOCKGATE_SECRETS_HTTP_READ="true", LOCKGATE_SECRET_CACHE_TTL="0", **env
        ),
    )


class Client:
    """The secrets API of one gateway; keeps every response to check none was a 500."""

    def __init__(self, gateway: GatewayProcess) -> None:
        self.http = httpx.Client(base_url=gateway.url, timeout=30, headers=gateway.admin_headers)
        self.responses: list[httpx.Response] = []

    def read(self, name: str) -> httpx.Response:
        return self._keep(self.http.get(f"/secrets/{name}"))

    def write(self, name: str, value: str) -> httpx.Response:
        return self._keep(self.http.put(f"/secrets/{name}", json={"value": value}))

    def listing(self) -> httpx.Response:
        return self._keep(self.http.get("/secrets"))

    def value(self, name: str) -> str:
        response = self.read(name)
        assert response.status_code == 200, response.text
        value: str = response.json()["value"]
        return value

    def refused_as_rotated(self, response: httpx.Response) -> str:
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "MasterKeyRotated"
        message: str = error["message"]
        return message

    def _keep(self, response: httpx.Response) -> httpx.Response:
        self.responses.append(response)
        return response

    def close(self) -> None:
        self.http.close()
        never_500(self.responses)


def test_a_gateway_reading_a_key_file_follows_it_when_it_is_replaced(site: Site) -> None:
    old_id = key_id(site.key_file)
    with serving(site, LOCKGATE_MASTER_KEY_FILE=str(site.key_file)) as gateway:
        client = Client(gateway)
        assert client.value("api_token") == VALUE

        new = site.new_key("next.key")
        new_id = key_id(new)
        site.rotate(site.key_file, new)

        # The key file still holds the old key: reads go on, writes get a clear 409.
        assert client.value("api_token") == VALUE
        assert client.listing().status_code == 200
        message = client.refused_as_rotated(client.write("api_token", NEW_VALUE))
        assert new_id in message
        assert old_id in message
        assert "restart the gateway with the new master key" in message
        assert "Nothing was written" in message
        client.refused_as_rotated(client.write("another", NEW_VALUE))
        assert client.value("api_token") == VALUE

        # The operator puts the new key in the file: the gateway re-reads it and writes.
        replace_key_file(site.key_file, new)
        written = client.write("api_token", NEW_VALUE)
        assert written.status_code == 200, written.text
        assert (written.json()["key_id"], written.json()["version"]) == (new_id, 2)
        assert client.value("api_token") == NEW_VALUE

        # Retired: the old key's wrappings are gone; this gateway holds the new key.
        retired = site.lockgate("secrets", "retire-key", "--key-file", str(site.key_file))
        assert retired.exit_code == 0, retired.output
        assert client.value("api_token") == NEW_VALUE
        client.close()
        output = gateway.read_output().decode()
    assert "following a key rotation" in output
    assert LOG_VALUE not in output


def test_a_gateway_given_the_old_key_reads_refuses_writes_until_restarted(site: Site) -> None:
    old = site.key_file
    with serving(site, LOCKGATE_MASTER_KEY=key_text(old)) as stale:
        client = Client(stale)
        assert client.value("api_token") == VALUE
        new = site.new_key("next.key")
        rotated = site.rotate(old, new)
        assert "retire-key" in rotated.output

        assert client.value("api_token") == VALUE  # through the kept wrapping
        client.refused_as_rotated(client.write("api_token", NEW_VALUE))
        listed = client.listing().json()["secrets"]
        assert [(s["name"], s["version"]) for s in listed] == [("api_token", 1)]

        # Another node, (re)started with the new key, works in full meanwhile.
        with serving(site, LOCKGATE_MASTER_KEY=key_text(new)) as fresh:
            current = Client(fresh)
            assert current.value("api_token") == VALUE
            assert current.write("api_token", NEW_VALUE).status_code == 200
            assert current.value("api_token") == NEW_VALUE
            current.close()

        # What was written under the new key alone, the stale node cannot open: a 409
        # saying so, like everything once the old key is retired.
        message = client.refused_as_rotated(client.read("api_token"))
        assert "does not hold" in message
        retired = site.lockgate("secrets", "retire-key", "--key-file", str(new))
        assert retired.exit_code == 0, retired.output
        client.refused_as_rotated(client.write("api_token", VALUE))
        client.close()
        output = stale.read_output().decode()
    assert "still gives" in output  # it said once why it cannot follow
    assert LOG_VALUE not in output

    # With the old key, a gateway no longer starts.
    refused = serving(site, LOCKGATE_MASTER_KEY=key_text(old))
    with pytest.raises(RuntimeError, match="wrong master key"):
        refused.__enter__()
    refused.stop()


def test_rotate_retire_makes_the_old_key_useless_at_once(site: Site) -> None:
    old = site.key_file
    with serving(site, LOCKGATE_MASTER_KEY=key_text(old)) as gateway:
        client = Client(gateway)
        assert client.value("api_token") == VALUE
        site.rotate(old, site.new_key("next.key"), "--retire")
        client.refused_as_rotated(client.read("api_token"))
        client.refused_as_rotated(client.write("api_token", NEW_VALUE))
        client.close()
