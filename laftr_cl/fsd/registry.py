"""A name → class registry for the string options of the FSD core (``inputs``, ``estimator``, ``metric``)."""
from __future__ import annotations

from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a config name to an implementation; unknown names raise an error listing the choices.

    Args:
        setting: the option this registry resolves (``"inputs"``, ``"estimator"``, ...), used in
            error messages.
    """

    def __init__(self, setting: str) -> None:
        self.setting = setting
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("diag")`` above a class (or function) adds it under ``name``."""

        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.setting}={name!r} is registered twice.")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        """The implementation registered as ``name``; a ValueError listing the choices otherwise."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"Unknown {self.setting}={name!r}: choose one of {', '.join(self.names())}."
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)
