"""Bytes a regularizer keeps between tasks, part by part, for memory comparisons."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from avalanche.training.plugins import (
    EWCPlugin,
    LwFPlugin,
    MASPlugin,
    ReplayPlugin,
    SynapticIntelligencePlugin,
)


def _tensor_bytes(tensors: Iterable[Any]) -> int:
    total = 0
    for t in tensors:
        t = getattr(t, "data", t)
        if isinstance(t, torch.Tensor):
            total += t.numel() * t.element_size()
    return total


def _ewc(plugin: EWCPlugin) -> dict[str, int]:
    return {
        "importances": sum(_tensor_bytes(d.values()) for d in plugin.importances.values()),
        "snapshot": sum(_tensor_bytes(d.values()) for d in plugin.saved_params.values()),
    }


def _si(plugin: SynapticIntelligencePlugin) -> dict[str, int]:
    snapshot, importances = plugin.ewc_data
    return {"importances": _tensor_bytes(importances.values()),
            "snapshot": _tensor_bytes(snapshot.values())}


def _mas(plugin: MASPlugin) -> dict[str, int]:
    return {"importances": _tensor_bytes((plugin.importance or {}).values()),
            "snapshot": _tensor_bytes((plugin.params or {}).values())}


def _lwf(plugin: LwFPlugin) -> dict[str, int]:
    prev = plugin.lwf.prev_model
    return {"snapshot": _tensor_bytes(prev.parameters()) if prev is not None else 0}


def _replay(plugin: ReplayPlugin) -> dict[str, int]:
    buffer = plugin.storage_policy.buffer
    if len(buffer) == 0:
        return {"examples": 0}
    x = buffer[0][0]
    return {"examples": len(buffer) * (x.numel() * x.element_size() + 16)}


MEMORY_COUNTERS: dict[type, Callable[[Any], dict[str, int]]] = {
    EWCPlugin: _ewc,
    SynapticIntelligencePlugin: _si,
    MASPlugin: _mas,
    LwFPlugin: _lwf,
    ReplayPlugin: _replay,
}


def memory_bytes(plugin: Any) -> dict[str, int] | None:
    """The plugin's stored state in bytes by part, with a ``total``; None if it keeps nothing.

    A plugin of laftr-cl reports itself through a ``memory_bytes()`` method; Avalanche's
    plugins are counted from their attributes (replay: inputs plus a label and task id each).
    """
    if hasattr(plugin, "memory_bytes"):
        parts = dict(plugin.memory_bytes())
    else:
        counter = next((f for cls, f in MEMORY_COUNTERS.items() if isinstance(plugin, cls)), None)
        if counter is None:
            return None
        parts = counter(plugin)
    parts.pop("total", None)
    parts["total"] = sum(parts.values())
    return parts
