"""The functions a gateway currently serves, by name."""

from __future__ import annotations

from collections.abc import Iterable

from lockgate.errors import FunctionNotFoundError
from lockgate.models.function import FunctionEntity

__all__ = ["FunctionRegistry"]


class FunctionRegistry:
    """Declared functions; registering a changed one makes its next call use a new pool."""

    def __init__(self, functions: Iterable[FunctionEntity] = ()) -> None:
        self._functions: dict[str, FunctionEntity] = {}
        for function in functions:
            self.register(function)

    def register(self, function: FunctionEntity) -> None:
        self._functions[function.name] = function

    def remove(self, name: str) -> None:
        self.get(name)
        del self._functions[name]

    def get(self, name: str) -> FunctionEntity:
        """The function called ``name``; ``FunctionNotFoundError`` naming it otherwise."""
        try:
            return self._functions[name]
        except KeyError:
            raise FunctionNotFoundError(f"Function not found: {name}", function=name) from None

    def get_function_config(self, name: str) -> FunctionEntity:
        """Seed 004's name for ``get``: the ``FunctionEntity`` declared as ``name``, read by
        attribute (``.image``, ``.scaling``, ``.timeout_seconds``).

        Raises:
            FunctionNotFoundError: No function by that name.
        """
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def all(self) -> list[FunctionEntity]:
        return list(self._functions.values())
