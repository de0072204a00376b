"""Loads a module's services: imports its ``services_module`` and calls ``get_services()``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

from lockgate.models.module import ModuleDeclaration

__all__ = ["import_services"]


def import_services(declaration: ModuleDeclaration) -> Mapping[str, Any]:
    """``get_services()`` of ``declaration.services_module``: service name → class or
    factory (called with no arguments to make the service).

    Raises:
        ImportError, AttributeError, TypeError: The module does not import, has no
            ``get_services``, or it returns something other than a mapping of names to
            callables (the registry reports these naming the module).

    Side Effects:
        Imports user code; puts ``code_dir`` on ``sys.path`` first (so the module's own
        package imports), as workflow builders and handlers are imported.
    """
    if declaration.code_dir is not None:
        folder = str(declaration.code_dir)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module = importlib.import_module(declaration.services_module)
    get_services = getattr(module, "get_services", None)
    if not callable(get_services):
        raise AttributeError(f"{declaration.services_module} has no get_services() function")
    services = get_services()
    if not isinstance(services, Mapping) or not all(
        isinstance(name, str) and callable(factory) for name, factory in services.items()
    ):
        raise TypeError(
            "get_services() must return {service name: class or factory}, got "
            f"{type(services).__name__}"
        )
    return services
