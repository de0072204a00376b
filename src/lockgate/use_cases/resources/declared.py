"""``DeclaredResources``: the inline references each caller has declared, by name.

Seed 002: "Resources are automatically pooled and shared across workflows": a request
declares ``shared_db`` inline, and the caller's later requests name it ``"@shared_db"``.
Each caller sees only its own declarations (the key is the principal), never another's,
so a name cannot carry one tenant's resource to another. Anonymous callers are not
remembered: they cannot be told apart. The table is bounded (least recently used names
go first) and lives in this process: a run records the reference itself, so a resumed run
needs none of it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from lockgate.models.resource import ResourceReference
from lockgate.models.security.principals import ANONYMOUS_NAME

__all__ = ["DeclaredResources"]


class DeclaredResources:
    """Principal and name → the inline reference it last declared under that name.

    Args:
        max_entries: Names kept in all; past it the least recently used one is forgotten.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._references: OrderedDict[tuple[str | None, str], ResourceReference] = OrderedDict()

    def __len__(self) -> int:
        return len(self._references)

    def remember(self, principal: str | None, references: Mapping[str, ResourceReference]) -> None:
        """Keep what ``principal`` (None: the operator, in-process) just declared."""
        if principal == ANONYMOUS_NAME:
            return
        for name, reference in references.items():
            key = (principal, name)
            self._references[key] = reference
            self._references.move_to_end(key)
        while len(self._references) > self._max:
            self._references.popitem(last=False)

    def find(self, principal: str | None, name: str) -> ResourceReference | None:
        """What ``principal`` declared as ``name``, if it did (never another's)."""
        key = (principal, name)
        reference = self._references.get(key)
        if reference is not None:
            self._references.move_to_end(key)
        return reference
