"""The gated view of a network (beyond ReLU: docs/transformers.md), built from the model's traced graph.

The user's module is traced with torch.fx (:mod:`laftr_cl.fsd.trace`) and each node of the graph
becomes an *op* (:mod:`laftr_cl.fsd.ops`, :mod:`laftr_cl.fsd.graph_ops`) that runs twice per step:
``reference`` on the stacked snapshots θ_t (``[N, R, *features]``) and ``current`` on the live θ
(``[N·R, *features]``); both networks run through the same graph and share what the reference
decides (ReLU gates, max-pooling argmax, dropout masks, BatchNorm statistics).

What is linearized: ``nn.Linear``; ``nn.Conv2d`` (any stride, padding, dilation, groups; zero
padding); ReLU as ``nn.ReLU``, ``F.relu``, ``torch.relu``, ``x.relu()``, in place or not (a gate
per unit: per channel×row×col for convolutions); ``nn.BatchNorm1d/2d`` in eval mode (an affine
map with the reference network's running statistics); ``+``/``−`` of two values (residuals) or of a
constant, multiplication by a number, ``torch.cat`` along features; ``nn.AvgPool2d``,
``nn.AdaptiveAvgPool2d``, ``F.avg_pool2d``, ``F.adaptive_avg_pool2d``, ``mean`` over feature dims;
``nn.MaxPool2d``/``F.max_pool2d`` and ``nn.AdaptiveMaxPool2d`` of a dividing output size (routed through the
reference's argmax); ``nn.Flatten``, ``flatten``, ``view``, ``reshape``, ``squeeze``, ``unsqueeze``, ``contiguous``;
``nn.Dropout``, ``F.dropout``; ``nn.Identity``; a constant output mask (``masked_fill``, ``x[..., mask] = v``).
Beyond ReLU (docs/transformers.md; :mod:`~laftr_cl.fsd.view_rules`): gated activations (GELU, SiLU,
tanh, sigmoid, LeakyReLU, ELU, Softplus: :mod:`~laftr_cl.fsd.activations`), elementwise functions and
products (:mod:`~laftr_cl.fsd.ops_pointwise`), LayerNorm/RMSNorm (:mod:`~laftr_cl.fsd.ops_norm`),
softmax, matmul and attention (:mod:`~laftr_cl.fsd.ops_attention`), parameters read directly
(:mod:`~laftr_cl.fsd.ops_tokens`), and token ops (indexing, transpose, permute, unbind, expand).

Any other op is accepted only before the first layer with parameters (a fixed preprocessing of
the input, the same function for both networks, run as it is); elsewhere it is an error naming the
op and its module path (:func:`unsupported_op_message`). A model whose forward takes
``task_labels`` is traced once per task label; the traces must agree except in which ``nn.Linear``
head (and which output mask) they use, and every slot then runs through its own task's head.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from laftr_cl.fsd.graph_ops import FillOp, ReshapeOp, TaskHeadOp
from laftr_cl.fsd.ops import INPUT, DropoutOp, GateOp, LinearOp, ModuleOp, Op, PassContext
from laftr_cl.fsd.trace import TraceFailure, takes_task_labels, trace_model
from laftr_cl.fsd.view_builder import build_ops

SUPPORTED_LAYERS = (
    nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.RMSNorm, nn.MultiheadAttention,
    nn.Embedding, nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.Softplus, nn.Softmax,
    nn.MaxPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Dropout, nn.Identity,
)
"""The torch.nn layers the gated view reads (torch.fx keeps torch.nn's own layers whole; any other module's
forward is traced through). Functions and tensor methods: see the module docstring. ``nn.Embedding`` only
of constant positions."""


class GatedView:
    """A validated, gated reading of ``model`` for inputs of shape ``input_shape``.

    Args:
        model: any module whose forward maps ``x [B, *input_shape]`` (and ``task_labels``, if it
            takes them) to logits ``[B, out]``.
        input_shape: per-example input shape.
        task_labels: the task labels whose heads the view must run (models with ``task_labels``);
            ignored (one head) for other models.

    Raises ValueError (one paragraph) for a model that cannot be traced or linearized.

    Attributes:
        model: the module; the current pass reads its live parameters at call time.
        task_labels: the heads' labels, ``(None,)`` for a model without task labels.
        ops: the ops in graph order; ``output`` is the index of the op giving the logits.
        num_relus: number of gated activations (= number of firing-rate tensors of a summary).
        unit_shapes: per-example shape of each gate's units.
        activations: each gate's :class:`~laftr_cl.fsd.activations.Pointwise` (ReLU, GELU, ...).
        output_widths: per head, the number of logits it really has (before padding to ``num_outputs``).
    """

    def __init__(self, model: nn.Module, input_shape: Sequence[int], task_labels: Sequence[int | None] = (None,)) -> None:
        self.model = model
        self.input_shape = tuple(input_shape)
        multi = takes_task_labels(model)
        labels = sorted({0 if t is None else int(t) for t in task_labels}) if multi else [None]
        self.task_labels: tuple[int | None, ...] = tuple(labels or [0])
        built = [self._build(label) for label in self.task_labels]
        self.ops, self.output = _merge_heads(built)
        self.output_widths = tuple(width for _, _, _, width in built)
        self.num_outputs = max(self.output_widths)
        shapes = built[0][2]
        self.unit_shapes = [torch.Size(shapes[op.index]) for op in self.ops if isinstance(op, GateOp)]
        self.num_relus = len(self.unit_shapes)
        self.activations = [op.activation for op in self.ops if isinstance(op, GateOp)]
        self._last_use = _last_uses(self.ops, self.output)

    def _build(self, label: int | None):
        try:
            trace = trace_model(self.model, self.input_shape, label)
        except TraceFailure as error:
            raise ValueError(
                f"LAFTR could not trace {type(self.model).__name__}: {error} LAFTR reads the network from its "
                "torch.fx graph; keep the forward free of branches on tensor values (shapes are fine), or use "
                "a regularizer that runs the network as it is (regularizer=coreset_fsd, ewc, si, lwf)."
            ) from None
        return build_ops(self.model, trace)

    # ------------------------------------------------------------------ reading
    def head_of(self, task_label: int | None) -> int:
        """Index of ``task_label``'s head in ``task_labels`` (0 for a model without task labels)."""
        if self.task_labels == (None,):
            return 0
        label = 0 if task_label is None else int(task_label)
        if label not in self.task_labels:
            raise ValueError(f"The view has heads for task labels {list(self.task_labels)}, not {label}.")
        return self.task_labels.index(label)

    def snapshot_names(self, heads: Sequence[int]) -> dict[str, torch.Size]:
        """Snapshot entries (name → shape) the reference pass reads for the given heads."""
        names: dict[str, torch.Size] = {}
        for op in self.ops:
            if isinstance(op, TaskHeadOp):
                for h in heads:
                    names.update(op.snapshot_names_for(h))
            else:
                names.update(op.snapshot_names())
        return names

    def mlp_error(self) -> str | None:
        """None if the view is an MLP for ``exact``, else why not.

        An MLP here is a chain (each op reads the previous one) of reshapes (any before the first
        ``Linear``, flat ones after it), ``nn.Linear`` on flat features, ReLU gates and dropout, ending
        in an ``nn.Linear`` output layer (or one per task head), optionally followed by constant output
        masks. SimpleMLP, MTSimpleMLP and the project's masked multi-head MLP are MLPs; a residual
        connection, a concatenation, a convolution or BatchNorm makes a network not one."""
        previous, seen_linear = INPUT, False
        for op in self.ops:
            if op.inputs != [previous]:
                return f"op '{op.name}' does not read the op before it (a branch or a residual)"
            previous = op.index
            if isinstance(op, (LinearOp, TaskHeadOp)):
                seen_linear = True
            elif isinstance(op, ReshapeOp):
                if seen_linear and len(op.feature_shape) != 1:
                    return f"op '{op.name}' reshapes features to {list(op.feature_shape)}"
            elif isinstance(op, FillOp):
                if op.index < self.head_index:
                    return f"op '{op.name}' masks features before the output layer"
            elif not isinstance(op, (GateOp, DropoutOp)):
                return f"op '{op.name}' is a {type(op).__name__.removesuffix('Op')}"
        if self.output != previous or self.head_index < 0:
            return "its output is not an nn.Linear layer"
        if any(len(s) != 1 for s in self.unit_shapes):
            return "a ReLU acts on features that are not flat"
        return None

    @property
    def head_index(self) -> int:
        """Index of the output ``nn.Linear`` (the last op before trailing output masks), or -1."""
        position = self.output
        while position >= 0 and isinstance(self.ops[position], FillOp):
            position = self.ops[position].inputs[0]
        return position if position >= 0 and isinstance(self.ops[position], (LinearOp, TaskHeadOp)) else -1

    @property
    def head(self) -> LinearOp | TaskHeadOp:
        """The output ``nn.Linear`` op of an MLP (see :meth:`mlp_error`)."""
        return self.ops[self.head_index]  # type: ignore[return-value]

    @property
    def output_masks(self) -> list[FillOp]:
        """The constant masks the output logits are read through (the last ops, e.g. a task's head mask)."""
        masks, position = [], self.output
        while position >= 0 and isinstance(self.ops[position], FillOp):
            masks.append(self.ops[position])
            position = self.ops[position].inputs[0]
        return masks

    def snapshot(self) -> dict[str, Tensor]:
        """Detached copies of every parameter of the model and of the BatchNorm running statistics the
        view reads: the snapshot θ_t of a summary (every head's, so that ``anchor="latest"`` works)."""
        tensors = dict(self.model.named_parameters()) | dict(self.model.named_buffers())
        names = set(dict(self.model.named_parameters())) | set(self.snapshot_names(range(len(self.task_labels))))
        return {name: tensors[name].detach().clone() for name in tensors if name in names}

    def reference_params(self, snapshots: Sequence[dict[str, Tensor]], slot_snapshot: Tensor,
                         slot_heads: Tensor) -> dict[str, Tensor]:
        """What the reference pass reads, stacked from the anchor ``snapshots`` (see :meth:`Op.stack_reference`)."""
        params: dict[str, Tensor] = {}
        for op in self.ops:
            params.update(op.stack_reference(list(snapshots), slot_snapshot, slot_heads))
        return params

    def relu_inputs(self, x: Tensor, task_label: int | None = None) -> tuple[Tensor, list[Tensor]]:
        """Forward of ``x [B, *input_shape]`` through ``task_label``'s head at the model's current
        parameters: logits ``[B, out]`` and each ReLU's input ``[B, *units]``.

        This is the reference pass with the model itself as the one snapshot (each gate ``g(s)`` of its
        own pre-activation: ``1[s > 0]`` for a ReLU), so it computes the network's own eval-mode function."""
        slot_heads = torch.full((1, 1), self.head_of(task_label), dtype=torch.long, device=x.device)
        params = self.reference_params([self.snapshot()], torch.zeros_like(slot_heads), slot_heads)
        pre_activations: list[Tensor] = []

        def gate(relu_index: int, s: Tensor) -> Tensor:
            pre_activations.append(s.reshape(-1, *s.shape[3:]))
            return self.activations[relu_index].gate(s)

        ctx = PassContext(num_snapshots=1, slots=1, samples=x.shape[0], reference_params=params, gate=gate,
                          noise=None, slot_heads=slot_heads)  # type: ignore[arg-type]
        return self.reference_pass(x.unsqueeze(0), ctx)[0], pre_activations

    def reference_pass(self, x: Tensor, ctx: PassContext) -> Tensor:
        """``x [N, R, *input_shape]`` → logits ``[N, R, out]`` at the stacked snapshots."""
        return self._run(x, ctx, lambda op, xs: op.reference(xs, ctx))

    def current_pass(self, x: Tensor, ctx: PassContext) -> Tensor:
        """``x [N·R, *input_shape]`` → logits ``[N·R, out]`` at the current parameters (after reference_pass)."""
        return self._run(x, ctx, lambda op, xs: op.current(xs, ctx))

    def _run(self, x: Tensor, ctx: PassContext, step) -> Tensor:
        values: dict[int, Tensor] = {INPUT: x}
        for op in self.ops:
            values[op.index] = step(op, [values[i] for i in op.inputs])
            for i in self._last_use.get(op.index, ()):
                del values[i]
        return values[self.output]


def _last_uses(ops: list[Op], output: int) -> dict[int, list[int]]:
    """Op index → the values (op indices) read for the last time by that op (freed after it)."""
    last: dict[int, int] = {}
    for op in ops:
        for i in op.inputs:
            last[i] = op.index
    freed: dict[int, list[int]] = {}
    for value, reader in last.items():
        if value != output:
            freed.setdefault(reader, []).append(value)
    return freed


def _signature(op: Op) -> tuple:
    """What two heads' ops must share (everything but which Linear module a head is, and fill masks)."""
    settings = {k: v for k, v in vars(op).items() if k not in ("index", "module", "masks", "fn", "name")}
    if isinstance(op, ModuleOp) and not isinstance(op, LinearOp):
        settings["module"] = id(op.module)
    if not isinstance(op, (LinearOp, FillOp)):
        settings["name"] = op.name
    return type(op), tuple(sorted((k, repr(v)) for k, v in settings.items()))


def _merge_heads(built: list) -> tuple[list[Op], int]:
    """One op list for all task heads: ops that differ between the heads' traces become per-head ops
    (:class:`TaskHeadOp` for ``nn.Linear``, a per-head :class:`FillOp` for output masks)."""
    ops, output = built[0][0], built[0][1]
    if len(built) == 1:
        return ops, output
    width = max(b[3] for b in built)
    for other_ops, other_output, _, _ in built[1:]:
        if len(other_ops) != len(ops) or other_output != output or any(
                _signature(a) != _signature(b) for a, b in zip(ops, other_ops)):
            raise ValueError(
                "LAFTR traces a multi-task model once per task label; the traces must differ only in which "
                "nn.Linear head and which output mask they use, but this model's tasks run different graphs. "
                "Give every task the same network up to an nn.Linear head."
            )
    merged: list[Op] = []
    for position, op in enumerate(ops):
        versions = [b[0][position] for b in built]
        if isinstance(op, LinearOp) and len({id(v.module) for v in versions}) > 1:
            merged.append(TaskHeadOp(op.index, f"task_heads@{op.index}", op.inputs, [v.module for v in versions],
                                     [v.name for v in versions]))
        elif isinstance(op, FillOp) and any(not torch.equal(v.masks, op.masks) for v in versions):
            masks = [torch.nn.functional.pad(v.masks, (0, width - v.masks.shape[-1])) for v in versions]
            if len({m.shape for m in masks}) > 1:
                raise ValueError("The task heads' output masks have different shapes.")
            merged.append(FillOp(op.index, op.name, op.inputs, torch.stack(masks), op.value, per_head=True))
        else:
            merged.append(op)
    return merged, output
