"""SummaryBank: the summaries of several tasks stacked once, for one batched FSD pass per step."""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.gate_statistics import gate_law
from laftr_cl.fsd.gated_view import GatedView
from laftr_cl.fsd.summary import TaskSummary

ANCHORS = ("per_task", "latest")
CLASS_WEIGHTS = ("uniform", "frequency")
PADDING_LOGIT = -1.0e4
"""Logit of a padding output in both networks: equal values, so it adds 0 to every metric."""


class SummaryBank:
    """Stacked, device-resident tensors of ``summaries`` for the network ``model``.

    Built once per list of summaries (``fsd`` caches it) so that each step does tensor maths only.
    Layout: ``N`` snapshots × ``P`` *slots*; a slot is one component (a task, or one class of a
    task with ``classwise``) evaluated against its snapshot, with ``S`` draws per slot.

    * ``anchor="per_task"``: ``N = T``; snapshot t holds task t's components in its ``P = C_max``
      slots (``C_max``: most components of any task); unused slots are padding with weight 0.
    * ``anchor="latest"``: ``N = 1``, only the newest summary's snapshot; the ``P`` slots hold every
      component of every task. Older summaries may have dropped their snapshot
      (:meth:`TaskSummary.without_snapshot`): memory stays constant in the number of tasks.

    A task's FSD is a weighted mean over its components: ``class_weights="uniform"`` (1/C_t, as
    the reference code) or ``"frequency"`` (the classes' shares of the task's examples).

    Attributes:
        view: the :class:`GatedView` of ``model``.
        num_tasks: T. num_snapshots: N. slots: P. max_classes: C_max. input_shape: per-example input shape.
        inputs: the slots' input models, batch ``[N, P]``.
        has_gate_statistics: False when the summaries were made with ``rates="none"`` (and the network has
            gates): then ``firing_rates``, ``gate_second_moments`` and ``gate_laws`` are empty, and only an
            estimator that gates by the reference network (``relu``) can use the bank.
        firing_rates: one ``[N, P, *units]`` tensor per gate (``[N, P, channels, 1, 1]`` per channel):
            firing rates of binary gates, ``E[g]`` of smooth ones.
        gate_second_moments: per gate, ``E[g²]`` ``[N, P, *units]`` of a smooth gate, None for a binary one.
        gate_laws: per gate, the :class:`~laftr_cl.fsd.gate_statistics.GateLaw` its draws follow.
        reference_params: what the reference pass reads (:meth:`GatedView.reference_params`): parameter
            name → snapshots ``[N, *shape]``, task heads stacked per slot ``[N, P, *shape]`` (detached).
        slot_heads: ``[N, P]`` int64, each slot's index into ``view.task_labels`` (its task's head).
        output_units: ``[N, P, K]`` int64 output indices per slot (padded with 0), or None when every
            task uses all outputs. output_valid: ``[N, P, K]`` bool, False on padding.
        task_weights: ``[T, N·P]``, slot → task weights (each task's row sums to 1): FSD per task
            is ``task_weights @ slot_values``.
        estimator_cache: what an estimator derives once from the fixed reference side (e.g. ``exact``'s
            reference moments), by the estimator's key; never depends on the current weights.
    """

    def __init__(
        self,
        model: nn.Module,
        summaries: Sequence[TaskSummary],
        *,
        anchor: str = "per_task",
        class_weights: str = "uniform",
    ) -> None:
        if anchor not in ANCHORS:
            raise ValueError(f"Unknown anchor={anchor!r}: choose one of {', '.join(ANCHORS)}.")
        if class_weights not in CLASS_WEIGHTS:
            raise ValueError(f"Unknown class_weights={class_weights!r}: choose one of {', '.join(CLASS_WEIGHTS)}.")
        summaries = tuple(summaries)
        if not summaries or not all(isinstance(s, TaskSummary) for s in summaries):
            raise ValueError("fsd() needs a non-empty list of TaskSummary objects (made by summarize()).")
        shapes = {s.input_shape for s in summaries}
        if len(shapes) > 1:
            raise ValueError(f"All summaries need the same input shape (got {sorted(shapes)}).")
        self.input_shape = summaries[0].input_shape
        self.view = GatedView(model, self.input_shape, [s.task_label for s in summaries])
        self.summaries, self.anchor, self.class_weights = summaries, anchor, class_weights
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.has_gate_statistics = self._gate_statistics_kept(summaries)
        self._check(summaries)

        slots = self._slot_table(summaries, anchor, class_weights)  # [(summary, component, weight)]
        self.num_tasks = len(summaries)
        self.max_classes = max(s.num_components for s in summaries)
        self.num_snapshots = self.num_tasks if anchor == "per_task" else 1
        self.slots = len(slots) // self.num_snapshots
        offsets = [sum(s.num_components for s in summaries[:t]) for t in range(len(summaries))]
        owner = torch.tensor([t for t, _, _ in slots])
        flat_index = torch.tensor([offsets[t] + c for t, c, _ in slots], device=self.device)
        shape = (self.num_snapshots, self.slots)

        inputs = type(summaries[0].inputs).concat([s.inputs.to(self.device, self.dtype) for s in summaries])
        self.inputs = inputs.take(flat_index).reshape_batch(shape)
        def stacked(per_summary) -> Tensor:
            return torch.cat([t.to(self.device, self.dtype) for t in per_summary])[flat_index].reshape(
                *shape, *per_summary[0].shape[1:])

        gates = range(self.view.num_relus) if self.has_gate_statistics else range(0)
        self.firing_rates = [stacked([s.firing_rates[j] for s in summaries]) for j in gates]
        self.gate_second_moments = [
            None if self.view.activations[j].binary else stacked([s.gate_second_moments[j] for s in summaries])
            for j in gates
        ]
        self.gate_laws = [gate_law(a, m, q) for a, m, q in
                          zip(self.view.activations, self.firing_rates, self.gate_second_moments)]
        anchors = summaries if anchor == "per_task" else summaries[-1:]
        heads = torch.tensor([self.view.head_of(summaries[t].task_label) for t, _, _ in slots])
        self.slot_heads = heads.reshape(shape).to(self.device)
        slot_snapshot = torch.arange(self.num_snapshots).unsqueeze(1).expand(shape)
        snapshots = [{k: v.to(self.device, self.dtype) if v.is_floating_point() else v for k, v in s.snapshot.items()}
                     for s in anchors]
        self.reference_params = self.view.reference_params(snapshots, slot_snapshot, heads.reshape(shape))
        self._build_outputs(summaries, owner, shape)
        weights = torch.zeros(self.num_tasks, len(slots), dtype=self.dtype)
        for position, (task, _, weight) in enumerate(slots):
            weights[task, position] = weight
        self.task_weights = weights.to(self.device)
        self.estimator_cache: dict[Any, Any] = {}

    # ------------------------------------------------------------------ building
    def _check(self, summaries: Sequence[TaskSummary]) -> None:
        names = {type(s.inputs).__name__ for s in summaries}
        if len(names) > 1:
            raise ValueError(f"All summaries of one fsd() call need the same input model (got {sorted(names)}).")
        all_heads = list(range(len(self.view.task_labels)))
        for t, s in enumerate(summaries):
            if self.has_gate_statistics:
                self._check_gate_statistics(t, s)
            width = self.view.output_widths[self.view.head_of(s.task_label)]
            if s.output_units is not None and int(s.output_units.max()) >= width:
                raise ValueError(
                    f"Summary {t} uses output units up to {int(s.output_units.max())} but the model's head for it has "
                    f"{width} outputs."
                )
            if self.anchor == "per_task":
                self._check_snapshot(t, s, [self.view.head_of(s.task_label)])
            elif t == len(summaries) - 1:
                self._check_snapshot(t, s, all_heads)

    def _gate_statistics_kept(self, summaries: Sequence[TaskSummary]) -> bool:
        """Whether the summaries keep gate statistics (a network without gates needs none); a mix is refused."""
        kept = [len(s.firing_rates) > 0 for s in summaries]
        if self.view.num_relus and any(kept) and not all(kept):
            raise ValueError(
                f"Summaries {[t for t, k in enumerate(kept) if not k]} keep no gate statistics (rates='none') but "
                f"summaries {[t for t, k in enumerate(kept) if k]} do: make every summary of one fsd() call with the "
                "same rates."
            )
        return not self.view.num_relus or all(kept)

    def _check_gate_statistics(self, t: int, summary: TaskSummary) -> None:
        units = [tuple(u) for u in self.view.unit_shapes]
        per_channel = [u[:1] + (1,) * (len(u) - 1) for u in units]
        got = [tuple(r.shape[1:]) for r in summary.firing_rates]
        if len(got) != len(units) or any(g not in (u, c) for g, u, c in zip(got, units, per_channel)):
            raise ValueError(
                f"Summary {t} has firing rates of shapes {got} but the model's gated activations have {units}: "
                "it was made for another architecture."
            )
        second = summary.gate_second_moments or (None,) * len(units)
        smooth = [not a.binary for a in self.view.activations]
        if len(second) != len(units) or any((q is not None) != m for q, m in zip(second, smooth)):
            names = [a.name for a in self.view.activations]
            raise ValueError(
                f"Summary {t} keeps second moments for gates {[q is not None for q in second]} but the model's "
                f"activations are {names} (smooth ones need them): it was made for another architecture."
            )

    def _check_snapshot(self, t: int, summary: TaskSummary, heads: list[int]) -> None:
        if summary.snapshot is None:
            raise ValueError(
                f"Summary {t} has no snapshot, which anchor={self.anchor!r} needs: keep snapshots, or use "
                "anchor='latest' (only the newest summary needs one)."
            )
        want = {k: tuple(v) for k, v in self.view.snapshot_names(heads).items()}
        got = {k: tuple(summary.snapshot[k].shape) for k in want if k in summary.snapshot}
        if got != want:
            raise ValueError(
                f"Summary {t}'s snapshot has parameters {got} but the model has {want}: "
                "it was made for another architecture."
            )

    @staticmethod
    def _slot_table(
        summaries: Sequence[TaskSummary], anchor: str, class_weights: str
    ) -> list[tuple[int, int, float]]:
        """``(summary index, component index, weight)`` per slot, in ``[N, P]`` row-major order."""

        def weight(s: TaskSummary, c: int) -> float:
            if class_weights == "uniform":
                return 1.0 / s.num_components
            return float(s.num_examples[c]) / float(s.num_examples.sum())

        if anchor == "latest":
            return [(t, c, weight(s, c)) for t, s in enumerate(summaries) for c in range(s.num_components)]
        width = max(s.num_components for s in summaries)
        return [
            (t, c, weight(s, c)) if c < s.num_components else (t, 0, 0.0)
            for t, s in enumerate(summaries)
            for c in range(width)
        ]

    def _build_outputs(self, summaries: Sequence[TaskSummary], owner: Tensor, shape: tuple[int, int]) -> None:
        widths = [self.view.output_widths[self.view.head_of(s.task_label)] for s in summaries]
        if all(s.output_units is None for s in summaries) and set(widths) == {self.view.num_outputs}:
            self.output_units = self.output_valid = None
            return
        per_task = [
            s.output_units.cpu() if s.output_units is not None else torch.arange(width)
            for s, width in zip(summaries, widths)
        ]
        width = max(u.numel() for u in per_task)
        units = torch.zeros(len(summaries), width, dtype=torch.long)
        valid = torch.zeros(len(summaries), width, dtype=torch.bool)
        for t, u in enumerate(per_task):
            units[t, : u.numel()], valid[t, : u.numel()] = u, True
        self.output_units = units[owner].reshape(*shape, width).to(self.device)
        self.output_valid = valid[owner].reshape(*shape, width).to(self.device)

    # ------------------------------------------------------------------ per step
    def samples_per_slot(self, num_samples: int) -> int:
        """Draws per slot: ``S // C_max`` (at least 1), the same for every slot of the bank.

        A task with ``C_max`` components gets about S draws; one with fewer components (a bank mixing
        tasks with different numbers of classes) gets ``C_t · (S // C_max)``: still unbiased, with more
        variance. Kept so that every step draws one fixed-shape ``[N, P, S // C_max]`` batch (no
        ragged per-task shapes, nothing that depends on the data at run time); pass a larger S when
        the smaller tasks need more draws.
        """
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be an integer ≥ 1 (got {num_samples!r}).")
        return max(1, num_samples // self.max_classes)

    def select_outputs(self, logits: Tensor) -> Tensor:
        """``[N, P, S, out]`` → ``[N, P, S, K]``: each slot's units O_t, padding set to ``PADDING_LOGIT``."""
        if self.output_units is None:
            return logits
        index = self.output_units.unsqueeze(2).expand(*logits.shape[:3], -1)
        chosen = logits.gather(-1, index)
        return chosen.masked_fill(~self.output_valid.unsqueeze(2), PADDING_LOGIT)

    def per_task(self, slot_values: Tensor) -> Tensor:
        """``[N, P]`` slot FSDs → ``[T]`` task FSDs (weighted mean over each task's components)."""
        return self.task_weights @ slot_values.reshape(-1)

