"""Monte-Carlo estimators: draw inputs, gate both networks identically, average ρ (``bernoulli``, ``relu``)."""
from __future__ import annotations

import torch
from torch import Tensor

from laftr_cl.fsd.bank import SummaryBank
from laftr_cl.fsd.estimators.base import ESTIMATORS, Estimator
from laftr_cl.fsd.metrics import get_metric
from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.ops import PassContext
from laftr_cl.fsd.precision import float32_region


class SampledEstimator(Estimator):
    """Shared pass; subclasses choose the gates.

    Per step: ``x = inputs.sample(S)`` ``[N, P, S, d]`` (drawn first), the reference pass on the
    stacked snapshots without gradient (recording gates, pooling indices, dropout masks), then the
    current pass as one ``[N·P·S, ...]`` batch with the live weights, ρ on each slot's output units
    ``[N, P, S, K] → [N, P, S]``, and the mean over the S draws. Under bf16 autocast the draws and
    ρ (see :func:`~laftr_cl.fsd.metrics.get_metric`) stay in float32; the two passes follow autocast.
    """

    def gates(self, bank: SummaryBank, relu_index: int, s: Tensor, noise: Noise, per_step: bool) -> Tensor:
        """Gates for reference pre-activations ``s [N, P, S, *units]``, broadcastable to ``s``."""
        raise NotImplementedError

    def __call__(self, bank, *, metric, num_samples, noise, gate_draws, same_dropout, smooth_ops="exact",
                 bn_stats="reference"):
        rho = get_metric(metric)
        n, p, samples = bank.num_snapshots, bank.slots, bank.samples_per_slot(num_samples)
        per_step = gate_draws == "per_step"
        with float32_region(bank.device):
            x = bank.inputs.sample(samples, noise)
        ctx = PassContext(
            num_snapshots=n,
            slots=p,
            samples=samples,
            reference_params=bank.reference_params,
            gate=lambda j, s: self.gates(bank, j, s, noise, per_step),
            noise=noise,
            same_dropout=same_dropout,
            per_step=per_step,
            slot_heads=bank.slot_heads,
            bn_stats=bn_stats,
            smooth_ops=smooth_ops,
        )
        with torch.no_grad():
            reference = bank.view.reference_pass(x.reshape(n, p * samples, *bank.input_shape), ctx)
        current = bank.view.current_pass(x.reshape(n * p * samples, *bank.input_shape), ctx)
        reference = bank.select_outputs(reference.reshape(n, p, samples, -1))
        current = bank.select_outputs(current.reshape(n, p, samples, -1))
        return rho(reference, current).mean(-1)


@ESTIMATORS.register("bernoulli")
class BernoulliEstimator(SampledEstimator):
    """Stochastic gates: ``z ~ Bernoulli(p)`` for a ReLU, and for any gate a draw from its
    :class:`~laftr_cl.fsd.gate_statistics.GateLaw` (the task's mean and variance of ``g(s)`` per unit);
    per draw and unit (``per_input``) or per slot (``per_step``)."""

    def gates(self, bank, relu_index, s, noise, per_step):
        shape = (*s.shape[:2], 1 if per_step else s.shape[2], *s.shape[3:])
        return bank.gate_laws[relu_index].draw(noise.uniform(shape)).to(s.dtype)


@ESTIMATORS.register("relu")
class ReluEstimator(SampledEstimator):
    """Deterministic gates ``z = g(s^t)`` of the reference network on the drawn inputs (ReLU: ``1[s^t > 0]``),
    so the reference pass is the network itself on the draws. It reads no gate statistics."""

    reads_gate_statistics = False

    def gates(self, bank, relu_index, s, noise, per_step):
        return bank.view.activations[relu_index].gate(s)
