"""The estimator interface and registry (config ``estimator``)."""
from __future__ import annotations

from torch import Tensor

from laftr_cl.fsd.bank import SummaryBank
from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.registry import Registry

GATE_DRAWS = ("per_input", "per_step")


class Estimator:
    """Estimates FSD for every slot of a :class:`SummaryBank` in one batched pass."""

    reads_gate_statistics = True
    """False for an estimator that gates by the reference network itself: it can use summaries made
    with ``rates="none"``."""

    def __call__(
        self,
        bank: SummaryBank,
        *,
        metric: str,
        num_samples: int,
        noise: Noise,
        gate_draws: str,
        same_dropout: bool,
        bn_stats: str = "reference",
        smooth_ops: str = "exact",
    ) -> Tensor:
        """Per-slot FSD ``[N, P]``, differentiable w.r.t. the current parameters of ``bank.view.net``.

        Args:
            metric: name of ρ (see :mod:`laftr_cl.fsd.metrics`).
            num_samples: S, draws per task (split over a task's classes, see ``bank.samples_per_slot``).
            noise: the random source; every draw has shape ``[N, P, ...]``.
            gate_draws: ``per_input`` (fresh gates per draw) or ``per_step`` (one gate vector per slot).
            same_dropout: apply one shared dropout mask to both networks.
            bn_stats: whose BatchNorm running statistics the current network uses (see
                :data:`~laftr_cl.fsd.ops.BN_STATS`); a network without BatchNorm ignores it.
            smooth_ops: ``exact`` or ``linearized`` norms, softmax and elementwise functions in the
                current network (:data:`~laftr_cl.fsd.ops.SMOOTH_OPS`).
        """
        raise NotImplementedError


ESTIMATORS: Registry[type[Estimator]] = Registry("estimator")


def require_gate_statistics(estimator: str, kept: bool) -> None:
    """Refuses ``estimator`` when the summaries keep no gate statistics (``rates="none"``: ``kept`` False)
    and it reads them."""
    if not kept and ESTIMATORS.get(estimator).reads_gate_statistics:
        raise ValueError(f"estimator={estimator} reads the firing rates kept in each summary, but "
                         "rates=none keeps none: use estimator=relu (it gates by the reference network itself), or "
                         "keep rates=per_unit.")
