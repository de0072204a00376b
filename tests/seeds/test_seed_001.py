"""Seed 001 is the text of a web page showing seed 000: its example's code is there with
every line's indentation lost, so it cannot run as text. What it holds is seed 000's block,
statement for statement, which this checks; ``test_seed_000.py`` runs that block."""

from __future__ import annotations

import re

from tests.seeds.support import block, blocks

OUTCOMES = {1: "flattened copy of 000#1"}


def test_every_block_of_the_seed_is_accounted_for() -> None:
    assert {b.n for b in blocks() if b.seed == "001"} == set(OUTCOMES)


def _without_whitespace(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_001_is_000s_example_without_its_indentation() -> None:
    flattened = block("001", 1)
    assert flattened.lang == "flattened"
    assert _without_whitespace(flattened.text) == _without_whitespace(block("000", 1).text)


def test_001_as_text_does_not_run() -> None:
    try:
        compile(block("001", 1).text, "001#1", "exec", dont_inherit=True)
    except IndentationError:
        return
    raise AssertionError("001's flattened code compiled: the seed changed")
