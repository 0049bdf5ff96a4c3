"""Parameters read directly by a forward (class token, positional embedding, ``nn.Embedding`` of
constant positions, a hand-written norm's scale) as values of the gated view.

A :class:`ParamOp` is a function of parameters alone, one value per example: the reference pass
evaluates it on each stacked snapshot θ_t, the current pass on the live parameters, and both
broadcast it over their rows (``expand``: no copy). Its change Δθ then enters the estimate like any
other parameter's (e.g. ``torch.cat([cls, patches])`` and ``+ pos_embed``). Shapes as in
:mod:`laftr_cl.fsd.ops`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from laftr_cl.fsd.ops import Op


class ParamOp(Op):
    """``fn(parameters) → [*features]``, broadcast over the rows.

    Args:
        fn: parameter name → tensor, to the per-example value ``[*features]``.
        names: parameter name → shape, the parameters ``fn`` reads (snapshot entries).
        model: the module the names belong to (live parameters are read from it at call time).
    """

    def __init__(self, index: int, name: str, inputs: list[int], fn: Callable[[dict[str, Tensor]], Tensor],
                 names: dict[str, torch.Size], model: nn.Module) -> None:
        super().__init__(index, name, inputs)
        self.fn, self.names, self.model = fn, names, model

    def snapshot_names(self):
        return dict(self.names)

    def stack_reference(self, snapshots, slot_snapshot, slot_heads):
        return {name: torch.stack([s[name] for s in snapshots]).detach() for name in self.names}

    def reference(self, xs, ctx):
        p = ctx.reference_params
        values = torch.stack([self.fn({name: p[name][n] for name in self.names}) for n in range(ctx.num_snapshots)])
        return values.unsqueeze(1).expand(values.shape[0], ctx.slots * ctx.samples, *values.shape[1:])

    def current(self, xs, ctx):
        value = self.fn({name: _live(self.model, name) for name in self.names})
        rows = ctx.num_snapshots * ctx.slots * ctx.samples
        return value.unsqueeze(0).expand(rows, *value.shape)


def _live(model: nn.Module, name: str) -> Tensor:
    """The parameter ``name`` as the model holds it now (also inside ``torch.func.functional_call``)."""
    value = model
    for atom in name.split("."):
        value = getattr(value, atom)
    return value
