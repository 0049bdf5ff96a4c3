"""Running every configured proximity method on the same queries, with its time and stored bytes."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from laftr_cl.influence.params import Params
from laftr_cl.influence.proximity import build_proximity
from laftr_cl.influence.response import SolverSettings, solve_responses


@dataclass
class MethodRun:
    """One method's responses. Attributes: offsets (``[Q, *shape]`` per parameter), build_seconds
    (making the term: summary, Fisher, ...), solve_seconds (all Q responses), nbytes (kept beyond θ_s)."""

    offsets: Params
    build_seconds: float
    solve_seconds: float
    nbytes: int


def run_method(name: str, spec: Mapping[str, Any], model: nn.Module, data: tuple[Tensor, Tensor], queries: tuple[Tensor, Tensor],
               *, metric: str, solver: SolverSettings, seed: int) -> MethodRun:
    """Builds method ``name``'s term ``spec`` (``{proximity: kind, **options}``) at θ_s and solves the
    responses of ``queries = (x [Q, ...], y [Q])``; its random draws come from a generator seeded with ``seed``.

    A ValueError from a bad option names the method's config entry (``methods.<name>``).
    """
    options = dict(spec)
    kind = options.pop("proximity", None)
    if kind is None:
        raise ValueError(f"methods.{name} needs a 'proximity' entry (e.g. proximity: laftr); got {sorted(spec)}.")
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)  # draws on the model's device
    start = time.perf_counter()
    try:
        term = build_proximity(kind, model, data, metric=metric, generator=generator, **options)
    except (ValueError, TypeError) as error:
        raise ValueError(f"methods.{name}: {error}") from None
    built = time.perf_counter()
    offsets = solve_responses(term, queries[0], queries[1], solver)
    solved = time.perf_counter()
    return MethodRun(offsets, built - start, solved - built, term.nbytes())
