"""Request paths as the gateway routes them: dot segments resolved, repeated slashes merged.

Routing on the path as sent would let ``/echo/../secrets`` reach the function behind
``/echo/{name}`` with ``..`` in its event, and ``/v1/a/%2e%2e/%2e%2e/secrets`` carry a
traversal into a ``{proxy+}`` parameter that the function may join to a file path or an
upstream URL. AWS's fronts do not route on such paths either: CloudFront (in front of every
edge-optimised API Gateway endpoint) documents that it normalises URI paths consistently with
RFC 3986, removing dot segments and multiple slashes, before it matches a path to a cache
behaviour; API Gateway routes ``/prod//orders`` to ``/orders``. Lockgate resolves the path the
same way before it matches a route, and hands functions the resolved path, so ``..`` never
reaches one as written.

The input is the decoded path (the ASGI scope's ``path``: ``%2e`` is already ``.`` and
``%2F`` already ``/``), because that is the form routes are matched on. Backslashes are left
alone: RFC 3986 does not make them separators, nor do the router and a POSIX file system,
so ``..\\x`` is one ordinary segment.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["needs_normalizing", "normalize_path", "raw_path_for"]


def needs_normalizing(path: str) -> bool:
    """A cheap test that rules out nearly every path: only one holding ``/.`` or ``//`` can
    have a dot segment or an empty one."""
    return "/." in path or "//" in path


def normalize_path(path: str) -> str:
    """``path`` with ``.`` and ``..`` segments resolved (RFC 3986, section 5.2.4) and empty
    segments merged.

    A ``..`` above the root is dropped, as RFC 3986 does; a path ending in a slash, ``.``
    or ``..`` keeps (or gains) its trailing slash, as in RFC 3986.

    Args:
        path: A decoded absolute path (a leading ``/`` is assumed when missing).

    Returns:
        An absolute path with no ``.``, ``..`` or empty segment, ``/`` at least.
    """
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    trailing = segments[-1] in ("", ".", "..")
    if not kept:
        return "/"
    return "/" + "/".join(kept) + ("/" if trailing else "")


def raw_path_for(path: str) -> bytes:
    """The ``raw_path`` to go with a normalised ``path``: its percent-encoded form."""
    return quote(path, safe="/:@!$&'()*+,;=~").encode("ascii")
