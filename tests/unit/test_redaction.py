"""Redaction: which strings of a secret count, how text and JSON values are scrubbed
(longest value first, substrings, object keys, JSON escapes), and the process-wide record
of decrypted values the log filter reads."""

from __future__ import annotations

from typing import Any

import pytest

from lockgate import json_codec
from lockgate.use_cases.secrets.redaction import (
    MASK,
    Redactor,
    RevealedSecrets,
    redactor_for,
    run_redactor,
    secret_strings,
)

TOKEN = "tok-4f9a1c2e7b"
LONGER = TOKEN + "-and-more"


def test_secret_strings_are_the_long_strings_not_the_user_names() -> None:
    assert secret_strings(TOKEN) == (TOKEN,)
    assert secret_strings("short") == ()
    assert secret_strings(12345678901) == ()
    value = {
        "user": "application-user",
        "username": "application-user",
        "password": "pw-0123456789",
        "nested": {"keys": ["k-0123456789", "tiny"], "pin": 12345678},
    }
    assert secret_strings(value) == ("pw-0123456789", "k-0123456789")


def test_text_replaces_every_occurrence_longest_value_first() -> None:
    redactor = Redactor([TOKEN, LONGER, "tiny"])
    assert bool(redactor)
    text = f"a {LONGER} b {TOKEN}{TOKEN} c tiny"
    assert redactor.text(text) == f"a {MASK} b {MASK}{MASK} c tiny"
    assert TOKEN not in repr(redactor)


def test_a_redactor_of_nothing_changes_nothing() -> None:
    redactor = Redactor(["short"])
    assert not redactor
    text = "short text"
    assert redactor.text(text) is text
    value, output = redactor.output({"a": "short"}, b'{"a":"short"}')
    assert (value, output) == ({"a": "short"}, b'{"a":"short"}')


def test_values_are_walked_keys_strings_and_substrings() -> None:
    redactor = Redactor([TOKEN])
    value = {
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        TOKEN: [TOKEN, 1, None, True, {"deep": f"x{TOKEN}y"}],
        "n": 3.5,
    }
    assert redactor.value(value) == {
        "headers": {"Authorization": f"Bearer {MASK}"},
        MASK: [MASK, 1, None, True, {"deep": f"x{MASK}y"}],
        "n": 3.5,
    }


@pytest.mark.parametrize(
    "secret",
    [TOKEN, 'quo"te-\\back-0123', "new\nline-0123456", "ünïcødé-0123456", "tab\there-012345"],
)
def test_output_finds_values_that_json_escapes(secret: str) -> None:
    redactor = Redactor([secret])
    value: Any = {"echo": f"got {secret}!", "other": "fine"}
    redacted, output = redactor.output(value, json_codec.dumps(value))
    assert redacted == {"echo": f"got {MASK}!", "other": "fine"}
    assert json_codec.loads(output) == redacted
    assert secret.encode() not in output
    assert json_codec.dumps(secret)[1:-1] not in output


def test_output_without_any_value_is_returned_as_given() -> None:
    redactor = Redactor([TOKEN])
    value = {"a": "nothing secret"}
    output = json_codec.dumps(value)
    redacted, same = redactor.output(value, output)
    assert redacted is value
    assert same is output


def test_an_escape_sequence_is_not_mistaken_for_a_value() -> None:
    """``n0123456789`` appears in the JSON text of a newline followed by digits; the
    value walk decides, so no JSON is broken and nothing is hidden wrongly."""
    redactor = Redactor(["n0123456789"])
    value = {"text": "\n0123456789"}
    redacted, output = redactor.output(value, json_codec.dumps(value))
    assert redacted == value
    assert json_codec.loads(output) == value


def test_redactors_are_shared_per_set_of_values() -> None:
    assert redactor_for([TOKEN, LONGER]) is redactor_for([LONGER, TOKEN, TOKEN])


def test_run_redactor_asks_the_lookup_for_its_secrets() -> None:
    class Lookup:
        def __init__(self, values: tuple[str, ...]) -> None:
            self.values = values

        def secret_strings(self) -> tuple[str, ...]:
            return self.values

    assert run_redactor(Lookup((TOKEN,))).text(TOKEN) == MASK
    assert not run_redactor(Lookup(()))
    assert not run_redactor(object())


def test_revealed_secrets_grow_and_stay_bounded() -> None:
    revealed = RevealedSecrets(limit=2)
    assert not revealed.redactor
    revealed.add({"user": "someone-long", "password": "pw-0123456789"})
    assert revealed.redactor.text("someone-long pw-0123456789") == f"someone-long {MASK}"
    revealed.add("second-0123456")
    revealed.add("third-01234567")
    assert revealed.redactor.text("pw-0123456789 third-01234567") == f"pw-0123456789 {MASK}"
    assert "0123" not in repr(revealed)
    revealed.clear()
    assert not revealed.redactor


@pytest.mark.parametrize("count", [1, 8, 9, 40])
def test_output_finds_any_of_few_or_many_values(count: int) -> None:
    values = [f"value-{i:04d}-secret" for i in range(count)]
    redactor = Redactor(values)
    for value in (values[0], values[-1]):
        result = {"text": f"<{value}>"}
        redacted, output = redactor.output(result, json_codec.dumps(result))
        assert redacted == {"text": f"<{MASK}>"}
        assert value.encode() not in output
    clean = {"text": "value-none-secret"}
    assert redactor.output(clean, json_codec.dumps(clean))[0] is clean
