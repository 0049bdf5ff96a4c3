"""The live regularizer parts of a run, as one object for checkpoints and memory accounting.

A part's state lives in its plugin, or — for the part that owns the training loop (DER, ER-ACE,
iCaRL) — in the strategy itself. :class:`RegularizerParts` keeps each part's name with that object
and gives the run one ``state_dict``/``load_state_dict``/``memory_bytes``: a run with one part keeps
that part's own formats (its state, its bytes by part), a combination nests each part's state under
its name and prefixes its bytes with it (``laftr.snapshot``, ``replay.examples``).
"""
from __future__ import annotations

from typing import Any

from laftr_cl.regularizers.memory import memory_bytes
from laftr_cl.training.run_state import checkpointable, load_plugin_state, plugin_state


class RegularizerParts:
    """``(name, holder)`` per part, in the order of the config (``regularizer`` first)."""

    def __init__(self, named: list[tuple[str, Any]]) -> None:
        self.named = named

    def checkpointable(self) -> bool:
        return all(checkpointable(holder) for _, holder in self.named)

    def not_checkpointable(self) -> list[str]:
        """The names of the parts whose state cannot be saved."""
        return [name for name, holder in self.named if not checkpointable(holder)]

    def state_dict(self) -> Any:
        if len(self.named) == 1:
            return plugin_state(self.named[0][1])
        return {name: plugin_state(holder) for name, holder in self.named} or None

    def load_state_dict(self, state: Any, model: Any = None) -> None:
        if len(self.named) == 1:
            load_plugin_state(self.named[0][1], state, model)
            return
        if state is None and not self.named:
            return
        if set(state) != {name for name, _ in self.named}:
            raise ValueError(f"it holds the regularizers {sorted(state)}, this run has "
                             f"{[name for name, _ in self.named]}")
        for name, holder in self.named:
            load_plugin_state(holder, state[name], model)

    def memory_bytes(self) -> dict[str, int] | None:
        """Bytes by part with a ``total``; None when no part keeps anything countable."""
        if len(self.named) == 1:
            return memory_bytes(self.named[0][1])
        found = {name: memory_bytes(holder) for name, holder in self.named}
        if all(parts is None for parts in found.values()):
            return None
        flat = {f"{name}.{key}": value for name, parts in found.items() if parts
                for key, value in parts.items() if key != "total"}
        flat["total"] = sum(flat.values())
        return flat
