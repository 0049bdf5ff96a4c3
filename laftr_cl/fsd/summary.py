"""Task summaries: firing rates, input model, output units and snapshot of a finished task."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.data import iterate_task_batches
from laftr_cl.fsd.gate_statistics import GateCounts
from laftr_cl.fsd.gated_view import GatedView
from laftr_cl.fsd.input_models import InputModel, input_model_class
from laftr_cl.fsd.tensors import eval_mode, tensor_bytes
from laftr_cl.fsd.trace import takes_task_labels

FORMAT_VERSION = 3
"""2: snapshots are named by the model's own parameter names (no ``.net`` unwrapping) and include
BatchNorm running statistics; summaries record their ``task_label``. 3: ``gate_second_moments`` (smooth
gates: GELU, SiLU, ...). Version 2 states still load (every gate of a version-2 summary is a ReLU)."""
READABLE_VERSIONS = (2, 3)
RATES = ("per_unit", "per_channel", "none")
"""How gate statistics are kept: per unit, per channel of a convolution, or not at all (``none``: for
the ``relu`` estimator, which gates by the reference network itself and never reads them)."""


@dataclass(frozen=True, eq=False)
class TaskSummary:
    """What LAFTR keeps of task t. Treated as immutable (``fsd`` caches stacked copies by identity).

    A summary has C *components*: one (C = 1), or one per class of the task with ``classwise``.

    Attributes:
        firing_rates: one tensor per gated activation of the network, ``[C, *units]`` (``[C, h]`` for an
            MLP, ``[C, channels, rows, cols]`` for a convolution, ``[C, tokens, width]`` in a transformer):
            for a ReLU (or LeakyReLU) the fraction of the component's inputs with pre-activation ``s > 0``
            at θ_t; for a smooth gate (GELU, SiLU, tanh, ...) the mean gate ``E[g(s)]``. With
            ``rates="per_channel"`` a convolution's rates are ``[C, channels, 1, 1]``: the mean over
            inputs and positions. Empty with ``rates="none"``.
        inputs: the input model, batch shape ``[C]``.
        num_examples: ``[C]`` (int64) examples per component.
        input_shape: per-example input shape, e.g. ``(1, 28, 28)``.
        classes: ``[C]`` (int64) class labels of the components, or None if not classwise.
        output_units: ``[K]`` (int64) output units O_t of the task's head, or None for all outputs.
        snapshot: parameter name (the model's ``named_parameters``, plus BatchNorm running statistics)
            → detached copy of θ_t, or None when dropped (enough for ``anchor="latest"`` except on the
            newest summary).
        task_label: the task label whose head the task used (a model whose forward takes
            ``task_labels``), or None.
        gate_second_moments: per gate, ``E[g(s)²]`` shaped as its firing rates for a smooth gate and
            None for a binary one (ReLU, LeakyReLU); None when every gate is binary or with ``rates="none"``.
    """

    firing_rates: tuple[Tensor, ...]
    inputs: InputModel
    num_examples: Tensor
    input_shape: tuple[int, ...]
    classes: Tensor | None = None
    output_units: Tensor | None = None
    snapshot: dict[str, Tensor] | None = None
    task_label: int | None = None
    gate_second_moments: tuple[Tensor | None, ...] | None = None

    @property
    def num_components(self) -> int:
        return int(self.num_examples.shape[0])

    def without_snapshot(self) -> "TaskSummary":
        """The same summary without θ_t (for ``anchor="latest"``, which needs only the newest snapshot)."""
        return dataclasses.replace(self, snapshot=None)

    def nbytes(self) -> dict[str, int]:
        """Bytes held, part by part: ``rates`` (all gate statistics), ``inputs``, ``snapshot``, ``output_units`` and ``total``."""
        parts = {
            "rates": tensor_bytes(self.firing_rates) + tensor_bytes(self.gate_second_moments or ()),
            "inputs": self.inputs.nbytes(),
            "snapshot": tensor_bytes(self.snapshot.values()) if self.snapshot is not None else 0,
            "output_units": tensor_bytes([self.output_units]),
        }
        parts["total"] = sum(parts.values())
        return parts

    def state_dict(self) -> dict[str, Any]:
        """Plain tensors and Python values (``torch.save``-able); :meth:`from_state_dict` restores it exactly."""
        return {
            "format_version": FORMAT_VERSION,
            "inputs": self.inputs.name,
            "input_model": self.inputs.state_dict(),
            "firing_rates": list(self.firing_rates),
            "num_examples": self.num_examples,
            "input_shape": list(self.input_shape),
            "classes": self.classes,
            "output_units": self.output_units,
            "snapshot": self.snapshot,
            "task_label": self.task_label,
            "gate_second_moments": None if self.gate_second_moments is None else list(self.gate_second_moments),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "TaskSummary":
        version = state.get("format_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"TaskSummary state has format_version={version!r}; this code reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}."
            )
        second = state.get("gate_second_moments")
        return cls(
            firing_rates=tuple(state["firing_rates"]),
            inputs=input_model_class(state["inputs"]).from_state_dict(state["input_model"]),
            num_examples=state["num_examples"],
            input_shape=tuple(state["input_shape"]),
            classes=state["classes"],
            output_units=state["output_units"],
            snapshot=state["snapshot"],
            task_label=state["task_label"],
            gate_second_moments=None if second is None else tuple(second),
        )


def summarize(
    model: nn.Module,
    data: Any,
    *,
    inputs: str = "full",
    rank: int | None = None,
    coreset_size: int | None = None,
    classwise: bool = False,
    output_units: Sequence[int] | None = None,
    task_label: int | None = None,
    rates: str = "per_unit",
    batch_size: int = 256,
    generator: torch.Generator | None = None,
) -> TaskSummary:
    """Summarize a finished task in one pass over its data, in eval mode at the current θ_t.

    Args:
        model: any network the gated view can trace (see :class:`GatedView`); a model whose
            forward takes ``task_labels`` runs through the head of ``task_label``.
        data: ``(x [N, ...], y [N])`` tensors or an iterable of ``(x, y, ...)`` batches.
        inputs: input model, one of ``full``, ``diag``, ``lowrank``, ``coreset``.
        rank: k for ``inputs="lowrank"`` (1 ≤ k ≤ d); ignored otherwise.
        coreset_size: m for ``inputs="coreset"`` (m ≥ 1; per class with ``classwise``); ignored otherwise.
        classwise: one input model and one set of firing rates per class in ``y``.
        output_units: the task's output units O_t (its head), or None for all outputs of the task's head.
        task_label: the task's label, for a model whose forward takes ``task_labels``; None reads it
            from the batches' third item (Avalanche's loaders), else 0. Recorded in the summary;
            ignored for other models.
        rates: ``per_unit`` (one firing rate per unit: per channel×row×col for a convolution) or
            ``per_channel`` (one per channel of a convolution, the rate over its positions: H·W times
            fewer bytes; gates stay per unit, drawn with their channel's rate), or ``none`` (no gate
            statistics: only the ``relu`` estimator, which gates by the reference network, can use the
            summary).
        batch_size: chunk size when ``data`` is a tuple of tensors.
        generator: draws the coreset (on the generator's device).

    Firing rates count ``s > 0`` (a unit whose pre-activation is exactly 0 does not fire, matching
    ``relu``'s zero output there; the reference code counts ``s ≥ 0``) and are measured at θ_t on
    all of the task's data (the reference code averaged train-mode minibatch rates while θ moved).
    The model's train/eval modes are restored afterwards.
    """
    if rates not in RATES:
        raise ValueError(f"Unknown rates={rates!r}: choose one of {', '.join(RATES)}.")
    input_class = input_model_class(inputs)
    input_class.validate(dim=None, rank=rank, coreset_size=coreset_size)
    reference = next(model.parameters())
    with eval_mode(model), torch.no_grad():
        view, counts, gates, flat_inputs, labels = _one_pass(model, task_label, data, batch_size, classwise, reference)
    if view.task_labels != (None,):
        task_label = view.task_labels[0]
    else:
        task_label = None
    tokens = [tuple(u) for u in view.unit_shapes if len(u) not in (1, 3)]
    if rates == "per_channel" and tokens:
        raise ValueError(
            f"rates='per_channel' keeps one rate per channel of a convolution's [channels, rows, cols] units, but "
            f"this network has gates on units of shape {list(tokens[0])} (tokens × features): use rates='per_unit'."
        )
    units = _output_units_tensor(output_units, view.output_widths[0])
    _check_units_not_masked(view, units)

    present = torch.nonzero(counts).flatten()
    input_class.validate(dim=flat_inputs.shape[1], rank=rank, coreset_size=coreset_size)
    models = [
        input_class.fit(flat_inputs[labels == c], rank=rank, coreset_size=coreset_size, generator=generator)
        for c in present.tolist()
    ]
    num_examples = counts[present]
    firing_rates, second_moments = _gate_statistics(gates, present, num_examples, reference.dtype, view, rates)
    return TaskSummary(
        firing_rates=firing_rates,
        inputs=input_class.stack(models),
        num_examples=num_examples,
        input_shape=view.input_shape,
        classes=present if classwise else None,
        output_units=None if units is None else units.to(reference.device),
        snapshot=view.snapshot(),
        task_label=task_label,
        gate_second_moments=second_moments if any(q is not None for q in second_moments) else None,
    )


def _gate_statistics(gates: GateCounts, present: Tensor, num_examples: Tensor, dtype: torch.dtype, view: GatedView,
                     rates: str) -> tuple[tuple[Tensor, ...], tuple[Tensor | None, ...]]:
    """Per gate, ``E[g]`` and ``E[g²]`` (None for a binary gate) of the present components, laid out as
    ``rates`` says; nothing with ``rates="none"``."""
    if rates == "none":
        return (), ()
    means, seconds = gates.statistics(present, num_examples, dtype)
    return (tuple(_rates(m, shape, rates) for m, shape in zip(means, view.unit_shapes)),
            tuple(None if q is None else _rates(q, shape, rates) for q, shape in zip(seconds, view.unit_shapes)))


def _rates(per_unit: Tensor, unit_shape: torch.Size, rates: str) -> Tensor:
    """Firing rates ``[C, units]`` → ``[C, *unit_shape]``, or ``[C, channels, 1, 1]`` per channel."""
    shaped = per_unit.reshape(per_unit.shape[0], *unit_shape)
    if rates == "per_channel" and len(unit_shape) > 1:
        return shaped.mean(dim=tuple(range(2, shaped.dim())), keepdim=True)
    return shaped


def _one_pass(
    model: nn.Module, task_label: int | None, data: Any, batch_size: int, classwise: bool, reference: Tensor
) -> tuple[GatedView, Tensor, list[Tensor], Tensor, Tensor]:
    """The model's gated view (built on the first batch's shape), per-component example counts ``[L]``,
    the gate sums per component, flat inputs ``[N, d]`` with component labels ``[N]``."""
    counts = torch.zeros(0, dtype=torch.long, device=reference.device)
    gates: GateCounts | None = None
    flat_inputs, labels, input_shape, view = [], [], None, None
    for x, y, tasks in iterate_task_batches(data, batch_size):
        if x.shape[0] == 0:
            continue
        x = x.to(device=reference.device, dtype=reference.dtype)
        if input_shape is None:
            input_shape = tuple(x.shape[1:])
            if task_label is None and tasks is not None and takes_task_labels(model):
                task_label = int(tasks.reshape(-1)[0])
            view = GatedView(model, input_shape, [task_label])
            gates = GateCounts(view.activations)
        if tasks is not None and view.task_labels != (None,) and bool((tasks != view.task_labels[0]).any()):
            raise ValueError(
                f"summarize() got examples of several task labels ({sorted(set(tasks.tolist()))} after "
                f"{view.task_labels[0]}): summarize one task at a time."
            )
        elif tuple(x.shape[1:]) != input_shape:
            raise ValueError(f"All inputs of a task need one shape: got {list(x.shape[1:])} after {list(input_shape)}.")
        component = _component_labels(y, classwise, reference.device)
        size = max(counts.shape[0], int(component.max()) + 1)
        _, pre_activations = view.relu_inputs(x, task_label)
        counts = _grow(counts, size).index_add_(0, component, torch.ones_like(component))
        gates.add(component, pre_activations, size)
        flat_inputs.append(x.flatten(1))
        labels.append(component)
    if input_shape is None:
        raise ValueError("summarize() got no data: the task's data is empty.")
    return view, counts, gates, torch.cat(flat_inputs), torch.cat(labels)


def _component_labels(y: Tensor, classwise: bool, device: torch.device) -> Tensor:
    y = y.to(device)
    if not classwise:
        return torch.zeros(y.shape[0], dtype=torch.long, device=device)
    if y.is_floating_point() or y.dim() != 1:
        raise ValueError(f"classwise=True needs integer class labels y of shape [B] (got {y.dtype}, {list(y.shape)}).")
    if y.numel() and int(y.min()) < 0:
        raise ValueError("classwise=True needs class labels ≥ 0.")
    return y.long()


def _check_units_not_masked(view: GatedView, units: Tensor | None) -> None:
    """A task's output units masked to a constant by its head would make its FSD 0: the head is wrong."""
    if units is None:
        return
    for mask in view.output_masks:
        masked = mask.masks.reshape(-1, mask.masks.shape[-1])[:, units].any() if mask.masks.dim() else mask.masks
        if bool(masked):
            raise ValueError(
                f"The head of task label {view.task_labels[0]} masks some of output_units={units.tolist()} to a "
                "constant, so their FSD would be 0: pass summarize(..., task_label=<this task's label>) (the "
                "LAFTR plugin passes the experience's task label)."
            )


def _grow(t: Tensor, rows: int) -> Tensor:
    """``t`` with zero rows appended up to ``rows`` rows."""
    if t.shape[0] >= rows:
        return t
    return torch.cat([t, t.new_zeros(rows - t.shape[0], *t.shape[1:])])


def _output_units_tensor(output_units: Sequence[int] | None, num_outputs: int) -> Tensor | None:
    if output_units is None:
        return None
    units = torch.as_tensor(list(output_units), dtype=torch.long)
    if units.numel() == 0 or units.dim() != 1:
        raise ValueError("output_units must be a non-empty list of output indices (or None for all outputs).")
    if int(units.min()) < 0 or int(units.max()) >= num_outputs or units.unique().numel() != units.numel():
        raise ValueError(
            f"output_units={units.tolist()} must be distinct indices in [0, {num_outputs}) "
            f"(the task's head has {num_outputs} outputs)."
        )
    return units
