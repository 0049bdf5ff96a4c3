"""What LIFTR keeps of a finished task (:class:`LiftrSummary`) and the pass that makes it (:func:`liftr_summarize`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.data import iterate_task_batches
from laftr_cl.fsd.liftr.graph import Network
from laftr_cl.fsd.liftr.statistics import Sums, finish, run_recording
from laftr_cl.fsd.tensors import eval_mode, output_unit_index, tensor_bytes

FORMAT_VERSION = 1
LIFTR_COVARIANCES = ("full", "diag")
"""``covariance`` options: the stored input moments as a full covariance or a variance per feature."""
_MOMENT_SUFFIXES = (".mean", ".cov", ".var")


@dataclass(frozen=True, eq=False)
class LiftrSummary:
    """Per-step statistics of task t's data at θ_t, and θ_t of the steps with parameters.

    Attributes:
        statistics: ``<node>.<statistic>`` → tensor (see :mod:`laftr_cl.fsd.liftr.statistics`):
            the *moments* from which the layers' inputs are drawn (``.mean``, ``.cov``/``.var``) and
            the *Jacobians* of the activations and normalizations (``.rate``, ``.jacobian``,
            ``.jacobian_sq``, ``.inv_std``, ``.inv_std_outer``).
        snapshot: parameter name (``named_parameters``) → θ_t, for every ``nn.Linear``, ``nn.LayerNorm`` and
            ``nn.MultiheadAttention``.
        covariance: ``full`` or ``diag``. input_shape: per-example input shape.
        num_examples: examples the statistics were measured on.
        output_units: ``[K]`` int64 output units O_t, or None for all outputs.
    """

    statistics: dict[str, Tensor]
    snapshot: dict[str, Tensor]
    covariance: str
    input_shape: tuple[int, ...]
    num_examples: int
    output_units: Tensor | None = None

    def nbytes(self) -> dict[str, int]:
        """Bytes held by part: ``moments``, ``jacobians``, ``snapshot``, ``output_units`` and ``total``."""
        moments = [t for k, t in self.statistics.items() if k.endswith(_MOMENT_SUFFIXES)]
        jacobians = [t for k, t in self.statistics.items() if not k.endswith(_MOMENT_SUFFIXES)]
        parts = {"moments": tensor_bytes(moments), "jacobians": tensor_bytes(jacobians),
                 "snapshot": tensor_bytes(self.snapshot.values()), "output_units": tensor_bytes([self.output_units])}
        parts["total"] = sum(parts.values())
        return parts

    def state_dict(self) -> dict[str, Any]:
        """Plain tensors and Python values; :meth:`from_state_dict` restores it exactly."""
        return {"format_version": FORMAT_VERSION, "statistics": dict(self.statistics), "snapshot": dict(self.snapshot),
                "covariance": self.covariance, "input_shape": list(self.input_shape),
                "num_examples": self.num_examples, "output_units": self.output_units}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "LiftrSummary":
        version = state.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"LiftrSummary state has format_version={version!r}; this code reads version "
                             f"{FORMAT_VERSION}.")
        return cls(statistics=dict(state["statistics"]), snapshot=dict(state["snapshot"]),
                   covariance=state["covariance"], input_shape=tuple(state["input_shape"]),
                   num_examples=int(state["num_examples"]), output_units=state["output_units"])


def snapshot_of(network: Network) -> dict[str, Tensor]:
    """Detached copies of the parameters the network's steps read (their modules', and those read directly)."""
    params = dict(network.model.named_parameters())
    names = {id(p): name for name, p in params.items()}
    kept = {names[id(p)] for step in network.steps if step.module is not None for p in step.module.parameters()}
    kept |= {name for step in network.steps for name in step.extra.get("params", ())}
    return {name: params[name].detach().clone() for name in params if name in kept}


def liftr_summarize(model: nn.Module, data: Any, *, covariance: str = "full",
                    output_units: Sequence[int] | None = None, batch_size: int = 256) -> LiftrSummary:
    """Measures every step's statistics in one pass over ``data`` at the model's θ_t, in eval mode.

    Args:
        model: a network LIFTR can read (:class:`~laftr_cl.fsd.liftr.graph.Network`).
        data: ``(x [N, ...], y [N])`` tensors or an iterable of ``(x, y, ...)`` batches.
        covariance: ``full`` (covariances ``[F, F]`` of each layer's input) or ``diag`` (variances ``[*f]``).
        output_units: O_t, the task's outputs, or None for all.
        batch_size: chunk size when ``data`` is a tuple of tensors.
    """
    if covariance not in LIFTR_COVARIANCES:
        raise ValueError(f"Unknown covariance={covariance!r}: choose one of {', '.join(LIFTR_COVARIANCES)}.")
    reference = next(model.parameters())
    sums, network = Sums(), None
    with eval_mode(model), torch.no_grad():
        for x, _, _ in iterate_task_batches(data, batch_size):
            x = x.to(device=reference.device, dtype=reference.dtype)
            if network is None:
                network = Network(model, tuple(x.shape[1:]))
            run_recording(network, x, sums, covariance)
            sums.count += x.shape[0]
    if network is None:
        raise ValueError("liftr_summarize() got no data: the task has no examples.")
    units = output_unit_index(output_units, reference.device)
    if units is not None and int(units.max()) >= network.num_outputs:
        raise ValueError(f"output_units {units.tolist()} do not fit a network with {network.num_outputs} outputs.")
    return LiftrSummary(statistics=finish(sums, network, reference.dtype), snapshot=snapshot_of(network),
                        covariance=covariance, input_shape=network.input_shape, num_examples=sums.count,
                        output_units=units)
