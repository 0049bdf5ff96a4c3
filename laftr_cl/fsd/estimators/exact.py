"""``exact``: closed-form E[ρ] for ρ = l2_logit, Gaussian (or coreset) inputs and Bernoulli gates.

Propagates the first and second moments of the joint pair ``(a^t_l, δ_l)``, ``δ_l = a_l − a^t_l``
(the current minus the reference activation), layer by layer, batched over the bank's ``[N, P]``
slots. Working with δ instead of ``a_l`` avoids cancellation: δ is exactly 0 at θ = θ_t.

* Linear: ``s^t = W^t a^t + b^t``, ``δs = ΔW a^t + W δ + Δb`` with ``ΔW = W − W^t``.
* Gate: ``a^t' = z ⊙ s^t + φ(0)``, ``δ' = z ⊙ δs`` with z independent of the layer input, of mean m and
  variance v per unit (ReLU: ``m = p``, ``v = p(1 − p)``; any gated activation: the moments of its
  :class:`~laftr_cl.fsd.gate_statistics.GateLaw`), ``E[z zᵀ] = m mᵀ + diag(v)``, so for X, Y ∈ {s^t, δs}:
  ``E[X'] = m ⊙ E[X]`` (+ φ(0) for ``a^t``), ``Cov(X', Y') = (m mᵀ) ⊙ Cov(X, Y) + diag(v ⊙ (Cov(X, Y)_ii + E[X_i] E[Y_i]))``.
  A shared dropout mask (``same_dropout``) is the same with ``p = 1 − rate`` and a ``1/(1 − rate)`` scale.
* Output: ``E[ρ] = ½ Σ_{k ∈ O_t} (E[δ_k]² + Var δ_k)``.

The input model enters only through its mean and ``project(W) = W F`` (``Σ = F Fᵀ``); a coreset
uses its empirical moments. This equals the expectation of ``bernoulli`` with ``l2_logit``.
Shapes: means ``[N, P, h]``, covariances ``[N, P, h, h]``.

The reference network's own moments (``a^t``'s mean and covariance after every layer, and the
first layer's input factor) depend only on the summaries, so they are computed once per
:class:`SummaryBank` and kept in its ``estimator_cache``; each step computes only what involves
the current weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from laftr_cl.fsd.bank import SummaryBank
from laftr_cl.fsd.estimators.base import ESTIMATORS, Estimator
from laftr_cl.fsd.graph_ops import ReshapeOp, TaskHeadOp
from laftr_cl.fsd.ops import DropoutOp, GateOp, LinearOp
from laftr_cl.fsd.precision import float32_region


@dataclass(frozen=True)
class ReferenceMoments:
    """Mean ``[N, P, h]`` and covariance ``[N, P, h, h]`` of the reference activations ``a^t`` after one op."""

    mean: Tensor
    cov: Tensor


class _Gate:
    """Moments through independent gates of mean ``rate`` and variance ``variance`` (None: a Bernoulli's,
    ``rate(1 − rate)``), scaled by ``scale`` (see the module docstring)."""

    def __init__(self, rate: Tensor | float, like: Tensor, scale: float, variance: Tensor | None = None) -> None:
        self.rate = rate if isinstance(rate, Tensor) else torch.full_like(like, rate)
        self.scale = scale
        self.outer = self.rate.unsqueeze(-1) * self.rate.unsqueeze(-2) * scale**2
        self.spread = (self.rate * (1 - self.rate) if variance is None else variance) * scale**2

    def mean(self, mean: Tensor) -> Tensor:
        return self.rate * mean * self.scale

    def cov(self, c: Tensor, mean_x: Tensor, mean_y: Tensor) -> Tensor:
        return self.outer * c + torch.diag_embed(self.spread * (c.diagonal(dim1=-2, dim2=-1) + mean_x * mean_y))


@dataclass
class JointMoments:
    """Moments of ``(a^t, δ)``: means ``[N, P, h]``, covariances ``[N, P, h, h]`` (``cov_tδ = Cov(a^t, δ)``)."""

    mean_t: Tensor
    mean_d: Tensor
    cov_tt: Tensor
    cov_td: Tensor
    cov_dd: Tensor

    def linear(self, weight_t: Tensor, bias_t: Tensor | None, weight: Tensor, bias: Tensor | None,
               reference: ReferenceMoments) -> "JointMoments":
        """Affine layer: ``weight_t [N, 1, o, i]`` (snapshots), ``weight [o, i]`` (current);
        ``reference``: the reference moments after it (cached)."""
        delta = weight - weight_t
        tt_delta = self.cov_tt @ delta.mT
        td_weight = self.cov_td @ weight.mT
        cross = delta @ td_weight
        return JointMoments(
            mean_t=reference.mean,
            mean_d=_affine(delta, self.mean_t, _bias_delta(bias_t, bias)) + self.mean_d @ weight.mT,
            cov_tt=reference.cov,
            cov_td=weight_t @ (tt_delta + td_weight),
            cov_dd=delta @ tt_delta + cross + cross.mT + weight @ self.cov_dd @ weight.mT,
        )

    def gate(self, rate: Tensor | float, reference: ReferenceMoments, scale: float = 1.0,
             variance: Tensor | None = None) -> "JointMoments":
        """Independent gates of mean ``rate [N, P, h]`` (or a float) and ``variance`` (None: Bernoulli),
        outputs times ``scale``; ``reference``: the reference moments after them (cached)."""
        gated = _Gate(rate, self.mean_t, scale, variance)
        return JointMoments(
            mean_t=reference.mean,
            mean_d=gated.mean(self.mean_d),
            cov_tt=reference.cov,
            cov_td=gated.cov(self.cov_td, self.mean_t, self.mean_d),
            cov_dd=gated.cov(self.cov_dd, self.mean_d, self.mean_d),
        )

    def output_second_moments(
        self, weight_t: Tensor, bias_t: Tensor | None, weight: Tensor, bias: Tensor | None
    ) -> Tensor:
        """``E[δ_k²]`` of the output layer's units, ``[N, P, out]`` (weights ``[N, 1 or P, o, i]`` or ``[o, i]``)."""
        delta = weight - weight_t
        mean = _affine(delta, self.mean_t, _bias_delta(bias_t, bias)) + _affine(weight, self.mean_d, None)
        variance = (
            ((delta @ self.cov_tt) * delta).sum(-1)
            + 2 * ((delta @ self.cov_td) * weight).sum(-1)
            + ((weight @ self.cov_dd) * weight).sum(-1)
        )
        return mean.pow(2) + variance


def _gate_moments(bank: SummaryBank, op: GateOp) -> tuple[Tensor, Tensor | None]:
    """``(E[z], Var z)`` of gate ``op``'s draws (``Var`` None for a ReLU: the Bernoulli's own, as before)."""
    if op.activation.floor == 0.0:
        return bank.firing_rates[op.relu_index], None
    return bank.gate_laws[op.relu_index].moments()


def _affine(weight: Tensor, x: Tensor, bias: Tensor | None) -> Tensor:
    """``weight [N, 1, o, i]`` or ``[o, i]`` applied to ``x [N, P, i]`` → ``[N, P, o]``."""
    out = (weight @ x.unsqueeze(-1)).squeeze(-1)
    return out if bias is None else out + bias


def _bias_delta(bias_t: Tensor | None, bias: Tensor | None) -> Tensor | None:
    if bias is None:
        return None
    return bias - bias_t


@ESTIMATORS.register("exact")
class ExactEstimator(Estimator):
    """Closed form; ``num_samples``, ``noise`` and ``gate_draws`` are unused (no sampling).
    Every moment is computed in float32, also under bf16 autocast."""

    def __call__(self, bank, *, metric, num_samples, noise, gate_draws, same_dropout, smooth_ops="exact",
                 bn_stats="reference"):
        with float32_region(bank.device):
            return self._estimate(bank, metric, same_dropout)

    def _estimate(self, bank: SummaryBank, metric: str, same_dropout: bool) -> Tensor:
        if metric != "l2_logit":
            raise ValueError(
                f"estimator=exact computes metric=l2_logit in closed form (got metric={metric!r}): use "
                "metric=l2_logit, or estimator=bernoulli or relu for l2_prob and kl."
            )
        reason = bank.view.mlp_error()
        if reason is not None:
            raise ValueError(
                f"estimator=exact supports MLPs only (a chain of Linear, gated activations such as ReLU or GELU, and "
                f"Dropout layers ending in one Linear output layer); this network is not one: {reason}. Use "
                "estimator=bernoulli or relu."
            )
        key = ("exact", same_dropout)
        if key not in bank.estimator_cache:
            bank.estimator_cache[key] = self._reference_pass(bank, same_dropout)
        first_factor, after = bank.estimator_cache[key]
        moments: JointMoments | None = None  # None: still at the input, before the first Linear
        for op in bank.view.ops[: bank.view.head_index]:
            if op.index not in after:
                continue
            if isinstance(op, LinearOp) and moments is None:
                moments = self._first_linear(bank, *self._weights(bank, op), first_factor, after[op.index])
            elif isinstance(op, LinearOp):
                moments = moments.linear(*self._weights(bank, op), after[op.index])
            elif isinstance(op, GateOp):
                mean, variance = _gate_moments(bank, op)
                moments = moments.gate(mean, after[op.index], 1.0, variance)
            else:
                keep = 1 - op.rate
                moments = moments.gate(keep, after[op.index], 1 / keep)
        head = self._weights(bank, bank.view.head)
        if moments is None:
            second = self._input_output_second_moments(bank, *head)
        else:
            second = moments.output_second_moments(*head)
        for mask in bank.view.output_masks:  # a masked output is the same constant in both networks: δ = 0
            second = second.masked_fill(mask.slot_masks(bank.slot_heads).to(second.device), 0.0)
        return 0.5 * self._sum_task_outputs(bank, second)

    @staticmethod
    def _weights(bank: SummaryBank, op: LinearOp | TaskHeadOp) -> tuple[Tensor, Tensor | None, Tensor, Tensor | None]:
        """``(W^t [N, 1, o, i], b^t [N, 1, o] | None, W [o, i], b [o] | None)``; per-task heads give
        ``[N, P, o, i]`` and ``[N, P, o]`` on both sides."""
        if isinstance(op, TaskHeadOp):
            params = bank.reference_params
            return (params[f"{op.name}.weight"], params[f"{op.name}.bias"], *op.current_weights(bank.slot_heads))
        weight_t, bias_t = op.reference_weights(bank.reference_params)
        bias_t = bias_t.unsqueeze(1) if bias_t is not None else None
        return weight_t.unsqueeze(1), bias_t, op.module.weight, op.module.bias

    @classmethod
    def _reference_pass(cls, bank: SummaryBank, same_dropout: bool) -> tuple[Tensor, dict[int, ReferenceMoments]]:
        """The reference side, once per bank (no gradient: it depends on the summaries only).

        Returns the first layer's projected input factor ``W^t F`` ``[N, P, o, r]`` and, by op
        position, the reference moments after every op that changes them (Linear, ReLU gate, and
        Dropout with ``same_dropout``); Flatten and other Dropouts are absent (identities).
        """
        with torch.no_grad():
            factor, moments, after = None, None, {}
            for op in bank.view.ops[: bank.view.head_index]:
                if isinstance(op, LinearOp):
                    weight_t, bias_t, _, _ = cls._weights(bank, op)
                    if moments is None:
                        factor = bank.inputs.project(weight_t)
                        moments = ReferenceMoments(_affine(weight_t, bank.inputs.mean, bias_t), factor @ factor.mT)
                    else:
                        moments = ReferenceMoments(_affine(weight_t, moments.mean, bias_t),
                                                   weight_t @ moments.cov @ weight_t.mT)
                elif isinstance(op, GateOp) or (isinstance(op, DropoutOp) and same_dropout and op.rate > 0):
                    cls._require_linear(moments, op)
                    rate, variance, scale = (_gate_moments(bank, op) + (1.0,) if isinstance(op, GateOp)
                                             else (1 - op.rate, None, 1 / (1 - op.rate)))
                    gated = _Gate(rate, moments.mean, scale, variance)
                    offset = op.activation.offset if isinstance(op, GateOp) else 0.0
                    moments = ReferenceMoments(gated.mean(moments.mean) + offset,
                                               gated.cov(moments.cov, moments.mean, moments.mean))
                elif isinstance(op, (ReshapeOp, DropoutOp)):
                    continue
                else:
                    raise ValueError(f"estimator=exact supports MLPs only; use bernoulli or relu (op '{op.name}').")
                after[op.index] = moments
        return factor, after

    @staticmethod
    def _first_linear(bank: SummaryBank, weight_t, bias_t, weight, bias, factor_t: Tensor,
                      reference: ReferenceMoments) -> JointMoments:
        """Inputs ``a^t = a = x`` (δ = 0): moments after the first layer, from the input model's factor
        (``factor_t = W^t F`` and the reference moments are cached)."""
        delta = weight - weight_t
        factor_d = bank.inputs.project(delta)
        return JointMoments(
            mean_t=reference.mean,
            mean_d=_affine(delta, bank.inputs.mean, _bias_delta(bias_t, bias)),
            cov_tt=reference.cov,
            cov_td=factor_t @ factor_d.mT,
            cov_dd=factor_d @ factor_d.mT,
        )

    @staticmethod
    def _input_output_second_moments(bank: SummaryBank, weight_t, bias_t, weight, bias) -> Tensor:
        """No hidden layer: ``δ = ΔW x + Δb``, so ``E[δ_k²] = (ΔW μ + Δb)_k² + ‖(ΔW F)_k‖²``."""
        delta = weight - weight_t
        mean = _affine(delta, bank.inputs.mean, _bias_delta(bias_t, bias))
        return mean.pow(2) + bank.inputs.project(delta).pow(2).sum(-1)

    @staticmethod
    def _sum_task_outputs(bank: SummaryBank, second: Tensor) -> Tensor:
        """``[N, P, out]`` → ``[N, P]``: sum over each slot's output units O_t."""
        if bank.output_units is None:
            return second.sum(-1)
        return (second.gather(-1, bank.output_units) * bank.output_valid).sum(-1)

    @staticmethod
    def _require_linear(moments: JointMoments | None, op) -> None:
        if moments is None:
            raise ValueError(
                f"estimator=exact needs a Linear layer before op '{op.name}'; "
                "use bernoulli or relu for this network."
            )
