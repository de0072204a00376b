"""``lockgate run``'s option parsing: ``--param k=v``, ``--params-json``, ``--context k=v``."""

from __future__ import annotations

from typing import Any

import pytest

from lockgate.controllers.cli.params import (
    BadInputError,
    parse_assignment,
    parse_context,
    parse_parameters,
    parse_value,
)

REPORT = {
    "limit": {"type": "int", "required": True},
    "label": {"type": "str", "required": False, "default": "report"},
    "anything": {"type": "any", "required": False},
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5", 5),
        ("-2.5", -2.5),
        ("true", True),
        ("false", False),
        ("null", None),
        ('["a"]', ["a"]),
        ('{"k": [1, 2]}', {"k": [1, 2]}),
        ('"quoted"', "quoted"),
        ("ann", "ann"),
        ("hello world", "hello world"),
        ("", ""),
        ("[1, 2", "[1, 2"),
        ("01234", "01234"),  # not JSON (leading zero): kept as text
        # JSON's extensions Python accepts but no JSON body can carry stay text.
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
    ],
)
def test_a_value_is_json_when_it_parses_and_text_otherwise(raw: str, expected: Any) -> None:
    assert parse_value(raw) == expected
    assert type(parse_value(raw)) is type(expected)


@pytest.mark.parametrize("raw", ["5", "true", "null", '["a"]', '"quoted"', "ann", ""])
def test_a_parameter_declared_str_keeps_its_text(raw: str) -> None:
    assert parse_value(raw, "str") == raw


@pytest.mark.parametrize("declared", ["int", "float", "bool", "list", "dict", "any", None])
def test_other_declared_types_read_json(declared: str | None) -> None:
    assert parse_value("5", declared) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k=v", ("k", "v")),
        ("k=", ("k", "")),
        ("url=http://x/?a=b", ("url", "http://x/?a=b")),
        (" k =v", ("k", "v")),
        ("k= v ", ("k", " v ")),  # the value is kept as typed
    ],
)
def test_an_assignment_splits_at_the_first_equals_sign(
    text: str, expected: tuple[str, str]
) -> None:
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["abc", "", "=v", " =v"])
def test_an_assignment_without_a_name_is_refused_naming_the_option_and_text(text: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_assignment(text, "--param")
    assert caught.value.message == f"--param expects k=v, got {text!r}"


def test_parameters_read_each_param_with_the_declared_types() -> None:
    parameters = parse_parameters(
        ["limit=5", "label=123", "anything=[1]", "extra=true"], None, REPORT
    )
    assert parameters == {"limit": 5, "label": "123", "anything": [1], "extra": True}


def test_without_declarations_every_param_reads_json() -> None:
    assert parse_parameters(["label=123", "name=ann"]) == {"label": 123, "name": "ann"}


def test_declarations_that_are_not_objects_are_ignored() -> None:
    assert parse_parameters(["label=1"], None, {"label": "str"}) == {"label": 1}


def test_params_json_is_the_base_and_each_param_overrides_it() -> None:
    parameters = parse_parameters(
        ["limit=7"], '{"limit": 1, "label": 123, "numbers": [1, 2]}', REPORT
    )
    # A --params-json value is JSON already: a declared str there is the caller's business.
    assert parameters == {"limit": 7, "label": 123, "numbers": [1, 2]}


def test_no_options_is_no_parameters() -> None:
    assert parse_parameters([], None, REPORT) == {}


def test_a_param_given_twice_is_refused() -> None:
    with pytest.raises(BadInputError, match="--param 'limit' is given more than once"):
        parse_parameters(["limit=1", "limit=2"])


def test_a_malformed_param_among_good_ones_is_named() -> None:
    with pytest.raises(BadInputError, match="--param expects k=v, got 'oops'"):
        parse_parameters(["limit=1", "oops"])


@pytest.mark.parametrize(
    ("params_json", "message"),
    [
        ("{not json", "--params-json is not valid JSON"),
        ("", "--params-json is not valid JSON"),
        ('{"x": NaN}', "--params-json is not valid JSON"),
        ("[1, 2]", "--params-json expects a JSON object, got an array"),
        ("5", "--params-json expects a JSON object, got a number"),
        ('"x"', "--params-json expects a JSON object, got a string"),
        ("null", "--params-json expects a JSON object, got null"),
    ],
)
def test_a_malformed_params_json_is_refused(params_json: str, message: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_parameters([], params_json)
    assert caught.value.message.startswith(message)


def test_a_malformed_params_json_is_not_echoed() -> None:
    # Parameters may hold credentials; stderr may end up in a CI log.
    with pytest.raises(BadInputError) as caught:
        parse_parameters([], '{"password": "hunter2",}')
    assert caught.value.message.startswith("--params-json is not valid JSON: ")
    assert "hunter2" not in caught.value.message


def test_context_values_stay_text() -> None:
    assert parse_context(["user=ann", "tier=5", "flag=true"]) == {
        "user": "ann",
        "tier": "5",
        "flag": "true",
    }


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["user"], "--context expects k=v, got 'user'"),
        (["user=a", "user=b"], "--context 'user' is given more than once"),
    ],
)
def test_a_malformed_context_is_refused(texts: list[str], message: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_context(texts)
    assert caught.value.message == message
