"""Regularizers that combine: the parts of a run's regularizer, their name, and which may go together.

A run's regularizer is ``regularizer`` (one choice of the ``regularizer`` group) plus any number of
further choices of the same group, each composed under its own key of ``combine`` with Hydra's
package syntax::

    laftr-cl regularizer=laftr +regularizer@combine.replay=replay combine.replay.plugin.mem_size=500

Each part keeps its options (``combine.replay.plugin.*``), its checks, its checkpoint state and its
bytes. The combination's name is the parts' names joined by ``+`` (``laftr+replay``), used by the
tables and wandb. At most one part may own the training loop (a strategy: ``der``, ``er_ace``);
the others are plugins inside it. ``joint`` and ``icarl`` take no other part.

This module imports neither torch nor Avalanche.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from omegaconf import OmegaConf

COMBINE = "combine"
"""The config key under which the further parts are composed."""


@dataclass(frozen=True)
class Part:
    """One regularizer of a run: ``path`` is its config key (``regularizer`` or ``combine.<key>``)."""

    path: str
    config: Any

    @property
    def name(self) -> str:
        return str(self.config.get("name"))

    def setting(self, key: str) -> str:
        """The dotted setting of one of its keys: ``combine.replay.plugin.mem_size``."""
        return f"{self.path}.{key}"


def parts(cfg: Any) -> list[Part]:
    """The run's regularizer parts, ``regularizer`` first, then ``combine``'s in order (config nodes or
    plain dicts)."""
    extra = cfg.get(COMBINE) or {}
    return [Part("regularizer", cfg["regularizer"])] + [Part(f"{COMBINE}.{key}", node) for key, node in extra.items()]


def method_name(regularizer: Mapping[str, Any], combine: Mapping[str, Any] | None = None) -> str:
    """``laftr+replay``: the parts' names joined by ``+`` (the regularizer's name when it is alone)."""
    names = [str(regularizer.get("name"))] + [str(node.get("name")) for node in (combine or {}).values()]
    return "+".join(names)


def run_method_name(config: Mapping[str, Any]) -> str:
    """:func:`method_name` of a run config (plain data or a config node)."""
    return method_name(config.get("regularizer") or {}, config.get(COMBINE) or {})


def combination_problem(found: list[tuple[Part, Any]]) -> tuple[str, str, str] | None:
    """Why these parts (each with its spec) cannot form one strategy, as ``(setting, reason, fix)``,
    or None. Refused: ``none`` inside a combination, a regularizer listed twice, a part that runs
    alone (``joint``, ``icarl``), two parts that each own the loop (``der`` with ``er_ace``)."""
    if len(found) < 2:
        return None
    names = [part.name for part, _ in found]
    last = found[-1][0]
    for part, _ in found:
        if part.name == "none":
            return (part.path, f"regularizer=none adds nothing to a combination ({'+'.join(names)})",
                    f"~{COMBINE}" if part.path == "regularizer" else f"~{part.path}")
    repeated = next((n for n in names if names.count(n) > 1), None)
    if repeated is not None:
        return (last.path, f"{repeated} is listed twice ({'+'.join(names)}); one part per regularizer",
                f"~{last.path}")
    alone = next(((part, spec) for part, spec in found if spec.alone), None)
    if alone is not None:
        return (alone[0].path, alone[1].alone, f"~{COMBINE}" if alone[0].path == "regularizer" else f"~{alone[0].path}")
    owners = [part for part, spec in found if spec.owns_loop]
    if len(owners) > 1:
        a, b = owners[0], owners[1]
        return (b.path, f"{a.name} and {b.name} are both Avalanche strategies that own the training loop (each "
                "has its own buffer and loss); one run has one loop", f"~{b.path}")
    return None


def register_resolver() -> None:
    """``${method_name:${regularizer},${combine}}`` in configs (wandb's run name and tags)."""
    if not OmegaConf.has_resolver("method_name"):
        OmegaConf.register_new_resolver("method_name", method_name)
