"""Lockgate embedded in a Python program, as seed 002 writes it: ``EnhancedDurableAPIGateway``
and a ``SecretManager`` that finds its own store and key.

Composition, beside ``bootstrap``: these classes choose concrete stores and call ``build``,
so no use case or gateway imports them.
"""

from __future__ import annotations

from lockgate.embedded.gateway import EnhancedDurableAPIGateway
from lockgate.embedded.secrets import SecretManager

__all__ = ["EnhancedDurableAPIGateway", "SecretManager"]
