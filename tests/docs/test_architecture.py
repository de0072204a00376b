"""``docs/architecture.md`` cannot drift from the code: every file and folder it names exists,
every ``lockgate.…`` name imports, every class it names is found in a module it names, and its
example runs and prints what the page says it prints.

Paths on the page are relative to ``src/lockgate/`` unless they start with a folder of the
repository root, as the page says.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]
SRC = ROOT / "src" / "lockgate"
PAGE = ROOT / "docs" / "architecture.md"

_FENCE = re.compile(r"^```(\w+)\n(.*?)^```\n", re.S | re.M)
_SPAN = re.compile(r"`([^`\n]+)`")
_DOTTED = re.compile(r"\blockgate(?:\.[A-Za-z_]\w*)+")
_PATH = re.compile(r"[\w.-]+(?:/[\w.-]+)*/?")
_SYMBOL = re.compile(r"[A-Z][A-Za-z0-9]*(?:\.[a-z_][A-Za-z0-9_]*)?")
# A tree line: its indent, then a file or folder name, then (after two spaces) what it holds.
_TREE_LINE = re.compile(r"^( *)([\w./]+)(?: {2,}.*)?$")

# Names in code spans that are not files of this repository: a user's config file.
NOT_FILES = frozenset({"lockgate.toml"})
# Dotted names that are not modules: the config file a user writes.
NOT_MODULES = frozenset({"lockgate.toml"})
# Capitalised code spans that are not Lockgate's classes: headers, signals, the standard
# library's classes, AWS's words.
NOT_SYMBOLS = frozenset({"Host", "SIGHUP", "AsyncExitStack", "Event", "I"})


def page() -> str:
    return PAGE.read_text()


def prose() -> str:
    """The page without its fenced blocks."""
    return _FENCE.sub("", page())


def blocks(kind: str) -> list[str]:
    return [body for tag, body in _FENCE.findall(page()) if tag == kind]


def named_path(text: str) -> bool:
    """Whether a code span names a file or folder of the repository."""
    if text in NOT_FILES or text.startswith(("/", ".")) or not _PATH.fullmatch(text):
        return False
    return "/" in text or text.endswith((".py", ".md", ".toml"))


def exists(text: str) -> bool:
    return (ROOT / text).exists() or (SRC / text).exists()


def module_of(path: str) -> ModuleType | None:
    """The module a ``.py`` path under ``src/lockgate/`` names, or None."""
    file = SRC / path
    if not path.endswith(".py") or not file.is_file():
        return None
    parts = file.relative_to(SRC.parent).with_suffix("").parts
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    return importlib.import_module(name)


def resolve(dotted: str) -> object:
    """The object ``dotted`` names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


def tree_paths(tree: str) -> Iterator[str]:
    """Every file and folder the layout tree draws, as paths under the repository root."""
    stack: list[tuple[int, str]] = []
    for line in tree.splitlines():
        match = _TREE_LINE.match(line)
        if match is None or len(match.group(1)) > 8:
            continue  # a description carried over to the next line
        indent, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "".join(part for _, part in stack) + name
        if name.endswith("/"):
            stack.append((indent, name))
        yield path


def test_every_path_in_the_prose_and_tables_exists() -> None:
    names = sorted({s for s in _SPAN.findall(prose()) if named_path(s)})
    assert len(names) > 100  # the map names the files; a broken extraction finds none
    missing = [name for name in names if not exists(name)]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_file_the_layout_tree_draws_exists() -> None:
    [tree] = [body for body in blocks("text") if body.startswith("src/lockgate/")]
    drawn = list(tree_paths(tree))
    assert "src/lockgate/gateways/stores/" in drawn  # the parser follows the indentation
    assert len(drawn) > 30
    missing = [path for path in drawn if not (ROOT / path).exists()]
    assert not missing, f"the layout tree draws what does not exist: {missing}"


def test_every_python_file_in_the_diagrams_exists() -> None:
    files = {
        token
        for body in blocks("text")
        for token in re.findall(r"[\w/]+\.py\b", body)
        if not body.startswith("src/lockgate/")
    }
    assert "bootstrap.py" in files
    assert not [f for f in files if not exists(f)]


def test_every_lockgate_name_imports() -> None:
    names = sorted(set(_DOTTED.findall(page())) - NOT_MODULES)
    assert "lockgate.bootstrap.build" in names
    broken = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError) as exc:
            broken.append(f"{name}: {exc}")
    assert not broken, broken


def test_every_class_named_is_in_a_module_the_page_names() -> None:
    spans = _SPAN.findall(prose())
    modules = [m for m in (module_of(s) for s in spans if named_path(s)) if m is not None]
    symbols = sorted({s for s in spans if _SYMBOL.fullmatch(s) and not named_path(s)} - NOT_SYMBOLS)
    assert len(modules) > 50
    assert "ContainerPool" in symbols

    def found(symbol: str) -> bool:
        for module in modules:
            with contextlib.suppress(AttributeError):
                resolve(f"{module.__name__}.{symbol}")
                return True
        return False

    unknown = [symbol for symbol in symbols if not found(symbol)]
    assert not unknown, f"named on the page but in none of the modules it names: {unknown}"


def expected_output(block: str) -> str:
    """What a block says it prints: its trailing ``# `` comment lines."""
    lines = block.rstrip("\n").splitlines()
    printed: list[str] = []
    while lines and lines[-1].startswith("# "):
        printed.insert(0, lines.pop()[2:])
    return "".join(f"{line}\n" for line in printed)


def test_the_examples_run_and_print_what_the_page_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("LOCKGATE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    runnable = {kind: blocks(kind) for kind in ("python", "toml", "sh")}
    assert {kind: len(found) for kind, found in runnable.items()} == {
        "python": 1,
        "toml": 0,
        "sh": 0,
    }
    for number, block in enumerate(runnable["python"], start=1):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, f"architecture.md, example {number}", "exec"), {})
        assert out.getvalue() == expected_output(block)
        assert expected_output(block)  # an example says what it prints
