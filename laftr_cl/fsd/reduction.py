"""How a per-task FSD ``[T]`` becomes the returned value: ``reduction`` ``mean``, ``sum`` or ``none``."""
from __future__ import annotations

from torch import Tensor

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    """ValueError naming the choices for an unknown ``reduction``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"Unknown reduction={reduction!r}: choose one of {', '.join(REDUCTIONS)}.")


def reduce_tasks(per_task: Tensor, reduction: str) -> Tensor:
    """``[T]`` per-task values → their ``mean`` or ``sum`` (scalars), or themselves (``none``)."""
    if reduction == "mean":
        return per_task.mean()
    if reduction == "sum":
        return per_task.sum()
    return per_task
