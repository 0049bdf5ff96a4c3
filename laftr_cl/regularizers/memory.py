"""Bytes a regularizer keeps between tasks, part by part, for memory comparisons.

How to count a plugin's bytes is part of its declaration (:class:`~laftr_cl.regularizers.specs.RegularizerSpec`
``memory``); a plugin of laftr-cl reports itself through a ``memory_bytes()`` method.
"""
from __future__ import annotations

from typing import Any, Iterable

from laftr_cl.regularizers.specs import spec_of_plugin


def tensor_bytes(tensors: Iterable[Any]) -> int:
    """Bytes of the tensors (or parameters) in ``tensors``; anything else counts 0 (torch is imported
    only when called: the config checks import this module)."""
    import torch

    from laftr_cl.fsd.tensors import tensor_bytes as held

    return held(t for t in (getattr(t, "data", t) for t in tensors) if isinstance(t, torch.Tensor))


def memory_bytes(plugin: Any) -> dict[str, int] | None:
    """The plugin's stored state in bytes by part, with a ``total``; None if it keeps nothing."""
    if hasattr(plugin, "memory_bytes"):
        found = plugin.memory_bytes()
        if found is None:
            return None
        parts = dict(found)
    else:
        spec = spec_of_plugin(plugin)
        if spec is None or spec.memory is None:
            return None
        parts = spec.memory(plugin)
    parts.pop("total", None)
    parts["total"] = sum(parts.values())
    return parts


def kept_bytes(plugins: Iterable[Any]) -> dict[str, int] | None:
    """The parts of every plugin's :func:`memory_bytes` in one dict, with a ``total``; None if none keeps anything."""
    parts: dict[str, int] = {}
    found = False
    for plugin in plugins:
        sizes = memory_bytes(plugin) if plugin is not None else None
        if sizes is None:
            continue
        found = True
        for part, size in sizes.items():
            if part != "total":
                parts[part] = parts.get(part, 0) + size
    if not found:
        return None
    parts["total"] = sum(parts.values())
    return parts
