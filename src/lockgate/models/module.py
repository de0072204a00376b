"""Modules of a modular monolith, as declared to the gateway.

A module provides services (``provides``) that its ``services_module`` makes through
``get_services()``, and may call only the modules it lists in ``dependencies``: an empty list
means it may call nobody (never "anybody").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODULE_KEY", "ModuleDeclaration"]

MODULE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True, slots=True)
class ModuleDeclaration:
    """One module.

    Attributes:
        key: How the gateway and other modules name it (``users``).
        name: A human name (``User Management``).
        services_module: The importable module whose ``get_services()`` returns
            ``{service name: class or factory}``.
        dependencies: The modules it may call, by key.
        provides: The services it promises; each must be in ``get_services()``.
        code_dir: A folder put on ``sys.path`` to import ``services_module`` from (the
            config file's folder by default), or None to import from the path as it is.
        package: The package holding the module's code, for ``lockgate check``; by default
            the part of ``services_module`` up to the segment equal to ``key`` (else its
            parent package).
    """

    key: str
    name: str
    services_module: str
    dependencies: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    code_dir: Path | None = None
    package: str | None = None

    def __post_init__(self) -> None:
        if not MODULE_KEY.fullmatch(self.key):
            raise ValueError(
                f"module key {self.key!r} is invalid: expected a letter or _ then up to 63 "
                "letters, digits or _"
            )
        for dotted, what in ((self.services_module, "services_module"), (self.package, "package")):
            if dotted is not None and not _DOTTED.fullmatch(dotted):
                raise ValueError(
                    f"module {self.key!r}: {what} must be a dotted module path, got {dotted!r}"
                )

    @property
    def code_package(self) -> str:
        """The package ``lockgate check`` treats as this module's code."""
        if self.package is not None:
            return self.package
        parts = self.services_module.split(".")
        if self.key in parts:
            return ".".join(parts[: parts.index(self.key) + 1])
        return ".".join(parts[:-1]) or parts[0]
