"""The summaries of several tasks stacked once (:class:`LiftrBank`) for one batched pass per step."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.liftr.attention import softmax_jacobian
from laftr_cl.fsd.liftr.graph import Network
from laftr_cl.fsd.liftr.statistics import RECORDED
from laftr_cl.fsd.liftr.summary import LiftrSummary


def normalization_jacobian(inv_std: Tensor, inv_std_outer: Tensor) -> Tensor:
    """The average Jacobian of ``x ↦ (x − mean)/√(var + ε)`` over the last dim, ``[T, *p, d, d]``:
    ``E[r]·(I − 11ᵀ/d) − E[r·x̂x̂ᵀ]/d`` from ``inv_std`` E[r] ``[T, *p]`` and ``inv_std_outer``
    E[r·x̂x̂ᵀ] ``[T, *p, d, d]`` (exact) or its diagonal E[r·x̂²] ``[T, *p, d]`` (off-diagonals dropped)."""
    d = inv_std_outer.shape[-1]
    eye = torch.eye(d, dtype=inv_std.dtype, device=inv_std.device)
    centring = eye - 1.0 / d
    outer = inv_std_outer if inv_std_outer.dim() == inv_std.dim() + 2 else torch.diag_embed(inv_std_outer)
    return inv_std[..., None, None] * centring - outer / d


def square_root(cov: Tensor) -> Tensor:
    """A factor ``L`` with ``L Lᵀ = cov`` for ``cov [T, F, F]`` (symmetric eigendecomposition,
    negative rounding clipped to 0), ``[T, F, F]``; computed once per bank, in float64."""
    values, vectors = torch.linalg.eigh(cov.to(torch.float64))
    return (vectors * values.clamp_min(0).sqrt().unsqueeze(-2)).to(cov.dtype)


class LiftrBank:
    """Stacked, device-resident statistics and snapshots of ``summaries`` for ``model``.

    Attributes:
        network: the model's steps. num_tasks: T. covariance: ``full`` or ``diag``.
        statistics: key → ``[T, *shape]``. snapshot: parameter name → ``[T, *shape]`` (detached).
        derived: what the pass reads besides, computed once: ``<node>.normalization`` (a LayerNorm's average
            Jacobian ``[T, *p, d, d]``), ``<key>.factor`` (``[T, F, F]``, ``L Lᵀ`` = the stored covariance)
            or ``<key>.std`` (``[T, *f]``) of the stored moments, ``<node>.jacobian_std`` (``[T, *f]``) of
            a smooth activation's Jacobian, ``<node>.softmax_jacobian`` (``[T, H, L, L, L]``) of an attention.
        output_mask: ``[T, K]``, 1 on each task's output units O_t.
        paths: ``id(module)`` → the module's path in the model (its snapshot entries' prefix).

    ``sampling``: also derive what the stochastic mode draws from (the factors and standard deviations;
    the deterministic mode reads the statistics themselves).

    Raises ValueError when the summaries do not fit ``model`` or each other.
    """

    def __init__(self, model: nn.Module, summaries: Sequence[LiftrSummary], *, sampling: bool = True) -> None:
        summaries = list(summaries)
        if not summaries or not all(isinstance(s, LiftrSummary) for s in summaries):
            raise ValueError("LIFTR needs a non-empty list of LiftrSummary objects (made by liftr_summarize()).")
        for setting in ("input_shape", "covariance"):
            values = {getattr(s, setting) for s in summaries}
            if len(values) > 1:
                raise ValueError(f"All LIFTR summaries need the same {setting} (got {sorted(values)}).")
        param = next(model.parameters())
        self.network = Network(model, summaries[0].input_shape)
        self.paths = {id(m): name for name, m in model.named_modules()}  # a step's module → its snapshot prefix
        self.num_tasks, self.covariance = len(summaries), summaries[0].covariance
        self.statistics = _stack([s.statistics for s in summaries], "statistics", param)
        self.snapshot = _stack([s.snapshot for s in summaries], "snapshot", param)
        self._check(model)
        self.output_mask = torch.zeros(self.num_tasks, self.network.num_outputs, dtype=param.dtype, device=param.device)
        for t, summary in enumerate(summaries):
            if summary.output_units is None:
                self.output_mask[t] = 1
            else:
                if int(summary.output_units.max()) >= self.network.num_outputs:
                    raise ValueError(f"Output units {summary.output_units.tolist()} do not fit a network with "
                                     f"{self.network.num_outputs} outputs.")
                self.output_mask[t, summary.output_units.to(param.device)] = 1
        self.sampling = sampling
        self.derived = self._derive(sampling)

    def _check(self, model: nn.Module) -> None:
        params = dict(model.named_parameters())
        for name, stacked in self.snapshot.items():
            if name not in params or params[name].shape != stacked.shape[1:]:
                raise ValueError(f"The summaries' snapshot entry {name} {list(stacked.shape[1:])} does not fit the "
                                 "model: they were made for another architecture.")
        for step in self.network.steps:
            if step.kind not in RECORDED:
                continue
            key = step.node.name
            want = {"linear": f"{key}.mean", "conv": f"{key}.mean", "layernorm": f"{key}.inv_std", "attention": f"{key}.mean",
                    "activation": f"{key}.rate" if step.relu else f"{key}.jacobian"}[step.kind]
            if want not in self.statistics:
                raise ValueError(f"The summaries have no statistic {want} for the model's step '{step.name}': "
                                 "they were made for another architecture.")
            source = self.network.steps[step.inputs[0]].shape if step.inputs[0] >= 0 else self.network.input_shape
            have = tuple(self.statistics[want].shape[1:])
            expected = source[:-1] if step.kind == "layernorm" else source
            if have != tuple(expected):
                raise ValueError(f"The summaries' statistic {want} has shape {list(have)}, but the model's step "
                                 f"'{step.name}' reads inputs of shape {list(source)}: another architecture.")

    def _derive(self, sampling: bool) -> dict[str, Tensor]:
        derived: dict[str, Tensor] = {}
        for key, value in self.statistics.items():
            if key.endswith(".cov") and sampling:
                derived[key.removesuffix(".cov") + ".factor"] = square_root(value)
            elif key.endswith(".var") and sampling:
                derived[key.removesuffix(".var") + ".std"] = value.clamp_min(0).sqrt()
            elif key.endswith(".jacobian_sq") and sampling:
                node = key.removesuffix(".jacobian_sq")
                mean = self.statistics[f"{node}.jacobian"]
                derived[f"{node}.jacobian_std"] = (value - mean * mean).clamp_min(0).sqrt()
            elif key.endswith(".pattern"):
                node = key.removesuffix(".pattern")
                second = self.statistics.get(f"{node}.pattern_outer", self.statistics.get(f"{node}.pattern_sq"))
                derived[f"{node}.softmax_jacobian"] = softmax_jacobian(value, second)
            elif key.endswith(".inv_std"):
                node = key.removesuffix(".inv_std")
                derived[f"{node}.normalization"] = normalization_jacobian(value, self.statistics[f"{node}.inv_std_outer"])
        return derived


def _stack(dicts: list[dict[str, Tensor]], what: str, like: Tensor) -> dict[str, Tensor]:
    keys = set(dicts[0])
    if any(set(d) != keys for d in dicts[1:]):
        raise ValueError(f"The LIFTR summaries hold different {what} entries: they were made for different networks.")
    try:
        return {k: torch.stack([d[k] for d in dicts]).detach().to(device=like.device, dtype=like.dtype) for k in keys}
    except RuntimeError as error:
        raise ValueError(f"The LIFTR summaries' {what} entries differ in shape ({error}).") from None
