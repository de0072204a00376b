"""The request-path normaliser: RFC 3986 dot-segment removal plus merged slashes."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockgate.controllers.http.listener.paths import needs_normalizing, normalize_path, raw_path_for


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("/echo/../secrets", "/secrets"),
        ("/echo/x/../../secrets", "/secrets"),
        ("/../../secrets", "/secrets"),  # above the root: dropped, as RFC 3986 does
        ("/a/./b", "/a/b"),
        ("/a//b///c", "/a/b/c"),
        ("//a", "/a"),
        ("/a/b/", "/a/b/"),  # a trailing slash is kept
        ("/a/b/.", "/a/b/"),
        ("/a/b/..", "/a/"),
        ("/a/..", "/"),
        ("/", "/"),
        ("/..", "/"),
        ("/a/.../b", "/a/.../b"),  # three dots: an ordinary segment
        ("/a/.hidden/..x", "/a/.hidden/..x"),
        ("/a/..\\b", "/a/..\\b"),  # a backslash separates nothing
        ("/ünï/../cødé", "/cødé"),
    ],
)
def test_examples(path: str, normal: str) -> None:
    assert normalize_path(path) == normal


def test_the_fast_path_passes_ordinary_paths() -> None:
    for path in ("/echo/x", "/2015-03-31/functions/f/invocations", "/v1/a.b/c.", "/"):
        assert not needs_normalizing(path)
        assert normalize_path(path) == path


def test_raw_path_is_the_encoded_normal_path() -> None:
    assert raw_path_for("/v1/a b/ü%") == b"/v1/a%20b/%C3%BC%25"
    assert raw_path_for("/v1/a:b@c") == b"/v1/a:b@c"


_SEGMENT = st.sampled_from(["", ".", "..", "...", "a", "b.c", "..d", "é", "%2e"])
_PATHS = st.lists(_SEGMENT, max_size=12).map(lambda parts: "/" + "/".join(parts))


@given(_PATHS)
def test_the_result_is_absolute_and_has_no_dot_or_empty_segment(path: str) -> None:
    normal = normalize_path(path)
    assert normal.startswith("/")
    inner = normal.strip("/").split("/")
    assert normal == "/" or all(segment not in ("", ".", "..") for segment in inner)


@given(_PATHS)
def test_normalising_twice_changes_nothing(path: str) -> None:
    assert normalize_path(normalize_path(path)) == normalize_path(path)


@given(_PATHS)
def test_it_resolves_as_a_posix_path_does(path: str) -> None:
    # normpath is the same resolution, except that it keeps a leading "//" and drops a
    # trailing slash.
    expected = posixpath.normpath("/" + path.lstrip("/"))
    assert normalize_path(path).rstrip("/") == expected.rstrip("/")


@given(_PATHS)
def test_paths_the_fast_path_skips_are_already_normal(path: str) -> None:
    if not needs_normalizing(path):
        assert normalize_path(path) == path


@given(_PATHS)
def test_the_raw_path_decodes_to_the_path(path: str) -> None:
    normal = normalize_path(path)
    assert unquote(raw_path_for(normal).decode("ascii")) == normal
