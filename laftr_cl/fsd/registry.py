"""One name → item registry for every choice made by name: the FSD core's string options (``inputs``,
``estimator``, ``metric``, FSD methods), benchmarks, strategies and regularizer specs.

Imports nothing beyond the standard library, so the CLI can read registries before torch loads.
"""
from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a config name to an item (a class, a function, a spec); an unknown name raises a
    ValueError that lists the choices and names the closest one.

    Args:
        setting: the option this registry resolves (``"inputs"``, ``"benchmark"``, ...), as error
            messages name it (``Unknown inputs='lowrnk': ...``).
    """

    def __init__(self, setting: str) -> None:
        self.setting = setting
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Adds ``item`` under ``name``; adding an equal item again is a no-op, another one a ValueError."""
        if name in self._items and self._items[name] != item:
            raise ValueError(f"{self.setting}={name!r} is registered twice: give the new one another name.")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("diag")`` above a class (or function) adds it under ``name``."""
        return lambda item: self.add(name, item)

    def get(self, name: str) -> T:
        """The item registered as ``name``; a ValueError listing the choices otherwise."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ValueError(self.unknown(name)) from None

    def unknown(self, name: object) -> str:
        """The error text for an unknown ``name``: the choices, and the closest one when there is one."""
        text = f"Unknown {self.setting}={name!r}: choose one of {', '.join(self.names())}."
        close = difflib.get_close_matches(str(name), self.names(), n=1)
        return text + (f" Did you mean {self.setting}={close[0]}?" if close else "")

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)

    def items(self) -> dict[str, T]:
        """A copy of the registry as a dict, by name."""
        return dict(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
