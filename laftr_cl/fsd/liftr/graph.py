"""LIFTR's reading of a network: its torch.fx graph (:func:`laftr_cl.fsd.trace.trace_model`) as a
list of :class:`Step` s, the layers through which the change of the output is propagated.

Step kinds (``Step.kind``):

* ``linear``: ``nn.Linear`` on the last feature dim (features ``[*, i]``, e.g. tokens ``[L, i]``).
* ``conv``: ``nn.Conv2d`` (zero padding), e.g. a ViT's patch embedding.
* ``affine``: ``+``/``−``/``cat`` of one value and parameters read directly (a class token, a positional
  embedding): ``fn(x, params)``; its change is the value's, passed through, plus the parameters' change.
* ``activation``: a pointwise nonlinearity (``nn.ReLU``/``F.relu``, GELU, tanh, sigmoid, SiLU, ELU,
  softplus, leaky ReLU, Mish, as modules, functions or tensor methods); ``relu`` marks ReLU.
* ``layernorm``: ``nn.LayerNorm`` over the last feature dim.
* ``reshape``: flatten / view / reshape / squeeze / unsqueeze / contiguous.
* ``identity``: dropout (off in the FSD), ``nn.Identity``, adding a constant.
* ``add``: ``a + b``, ``a − b`` of two activations (residual connections).
* ``scale``: multiplication or division by a number.
* ``linear_map``: a parameter-free op linear in one value that keeps the batch dim: transpose,
  permute, indexing (``h[:, 0]``), ``mean`` over feature dims; ``factor`` is 1, or 1/k for a mean over k.
* ``attention``: ``nn.MultiheadAttention`` (``batch_first``, self-attention ``attn(h, h, h)``, no masks).
  ``nn.TransformerEncoderLayer`` and ``nn.TransformerEncoder`` are traced through their forward
  (:data:`laftr_cl.fsd.trace.TRACED_THROUGH`) into these steps.
* ``static``: any parameter-free op of the input alone (before the first layer with parameters):
  the same in both networks, so its change is 0.

Every other op is refused with one paragraph naming it (:func:`unsupported`).
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.liftr.graph_rules import TransformerRules
from laftr_cl.fsd.liftr.interpret import bind, evaluate, run_graph
from laftr_cl.fsd.liftr.steps import INPUT, Outputs, ParamValue, Step, StepIndex
from laftr_cl.fsd.trace import EXAMPLE_BATCH, TraceFailure, takes_task_labels, trace_model
from laftr_cl.fsd.view_builder import op_name

ACTIVATION_MODULES = (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.ELU, nn.Softplus, nn.LeakyReLU, nn.Mish)
ACTIVATION_FUNCTIONS = {F.relu, torch.relu, F.gelu, torch.tanh, F.tanh, torch.sigmoid, F.sigmoid, F.silu, F.elu,
                        F.softplus, F.leaky_relu, F.mish}
ACTIVATION_METHODS = {"relu", "tanh", "sigmoid"}
_RELU = {nn.ReLU, F.relu, torch.relu, "relu"}
_ADD = {operator.add: 1.0, operator.iadd: 1.0, torch.add: 1.0, operator.sub: -1.0, operator.isub: -1.0,
        torch.sub: -1.0, "add": 1.0, "__add__": 1.0, "__radd__": 1.0, "sub": -1.0}
_SCALE = {operator.mul: False, operator.imul: False, torch.mul: False, "mul": False,
          operator.truediv: True, operator.itruediv: True, torch.div: True, "div": True}
_RESHAPE = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, "view", "reshape", "flatten", "squeeze",
            "unsqueeze", "contiguous", "view_as", "reshape_as"}
_IDENTITY_MODULES = (nn.Dropout, nn.Identity)
_PERMUTE = {"transpose", "permute", "swapaxes", "movedim", torch.transpose, torch.permute, operator.getitem,
            "__getitem__"}
_MEAN = {"mean", torch.mean}
SUPPORTED = ("nn.Linear, nn.Conv2d, pointwise activations (ReLU, GELU, tanh, sigmoid, SiLU, ELU, softplus, leaky ReLU, Mish), "
             "nn.LayerNorm over the last dim, nn.MultiheadAttention (self-attention, batch_first), "
             "nn.TransformerEncoderLayer/nn.TransformerEncoder (batch_first, read through their forward), "
             "residual +/−, multiplication by a number, flatten/view/reshape, transpose/permute/indexing/mean over features, "
             "parameters added to or concatenated with a value, dropout and identity")


def unsupported(op: str, path: str, reason: str = "") -> str:
    """The one-paragraph error for an op LIFTR cannot propagate a change through."""
    where = f"'{path}'" if path and path != "<model>" else "the model's own forward"
    return (f"LIFTR cannot propagate through {op} in {where}{': ' + reason if reason else ''}. It reads "
            f"{SUPPORTED}; any other op works only before the first layer with parameters. Replace the op, "
            "or regularize this network with a method that runs it as it is (regularizer=coreset_fsd, ewc, si or lwf).")


class Network(TransformerRules):
    """The steps of ``model`` for inputs ``[B, *input_shape]`` (raises ValueError for what LIFTR cannot read).

    Attributes:
        trace: the traced graph. steps: in graph order. output: index of the step giving the logits.
        num_outputs: logits per example.
    """

    def __init__(self, model: nn.Module, input_shape: tuple[int, ...]) -> None:
        if takes_task_labels(model):
            raise ValueError(
                f"LIFTR propagates through one network x → logits, but {type(model).__name__}.forward takes "
                "task_labels (one head per task): use regularizer=laftr, which runs each task through its own head, "
                "or one output layer masked per task (laftr_cl.models.TaskMaskedClassifier).")
        self.model, self.input_shape = model, tuple(input_shape)
        try:
            self.trace = trace_model(model, self.input_shape)
        except TraceFailure as error:
            raise ValueError(f"LIFTR could not trace {type(model).__name__}: {error}") from None
        self.steps: list[Step] = []
        self._env: dict[fx.Node, Any] = {}
        param = next(model.parameters())
        example = torch.zeros(EXAMPLE_BATCH, *self.input_shape, device=param.device, dtype=param.dtype)
        self._values: dict[fx.Node, Any] = {}
        try:
            with torch.no_grad():
                run_graph(model, self.trace, example, values=self._values)
        except Exception as error:  # what a forward raises when its traced graph is run again
            raise ValueError(f"LIFTR could not run the traced graph of {type(model).__name__} "
                             f"({type(error).__name__}: {error}).") from None
        self.output = self._walk()
        self.num_outputs = self.steps[self.output].shape[-1]

    def overrides(self) -> dict[fx.Node, Callable[[dict], Any]]:
        """For :func:`~laftr_cl.fsd.liftr.interpret.run_graph` on any batch size: the ``affine`` steps
        computed with their parameters broadcast to the batch (the trace baked in its example batch)."""
        params = dict(self.model.named_parameters())
        return {step.node: (lambda env, s=step: s.fn(env[s.extra["source"]], params))
                for step in self.steps if step.kind == "affine"}

    # ------------------------------------------------------------------ reading the graph
    def _walk(self) -> int:
        placeholders = 0
        for node in self.trace.graph.nodes:
            if node.op == "placeholder":
                self._env[node] = StepIndex(INPUT) if placeholders == 0 else None
                placeholders += 1
            elif node.op == "get_attr":
                value = self.trace.constants[node]
                if isinstance(value, nn.Parameter):
                    self._env[node] = ParamValue((node.target,), lambda params, name=node.target: params[name])
                else:
                    self._env[node] = value
            elif node.op == "output":
                out = self._env.get(node.args[0]) if isinstance(node.args[0], fx.Node) else None
                if not isinstance(out, StepIndex) or out == INPUT or len(self.steps[out].shape) != 1:
                    raise ValueError("LIFTR needs the model's forward to return logits [B, outputs] computed "
                                     "from its input.")
                return out
            else:
                self._node(node)
        raise ValueError("The traced graph has no output.")

    def _shape(self, node: fx.Node) -> tuple[int, ...]:
        shadow = self._values.get(node)
        if not isinstance(shadow, Tensor) or shadow.dim() == 0 or shadow.shape[0] != EXAMPLE_BATCH:
            self._fail(node, "its result does not keep one row per example")
        return tuple(shadow.shape[1:])

    def _fail(self, node: fx.Node, reason: str = "") -> None:
        raise ValueError(unsupported(op_name(node, self.model), self.trace.paths.get(node, ""), reason))

    def _add(self, node: fx.Node, kind: str, inputs: list[int], **settings: Any) -> None:
        step = Step(len(self.steps), kind, self.trace.paths.get(node) or node.name, inputs, node, self._shape(node),
                    **settings)
        self.steps.append(step)
        self._env[node] = StepIndex(step.index)

    def _node(self, node: fx.Node) -> None:
        args = fx.node.map_arg(node.args, lambda n: self._env[n])
        kwargs = fx.node.map_arg(node.kwargs, lambda n: self._env[n])
        flat: list[Any] = []
        fx.node.map_aggregate((args, kwargs), flat.append)
        acts = [int(v) for v in flat if isinstance(v, StepIndex)]
        values = [v for v in flat if isinstance(v, ParamValue)]
        if values:
            self._parameter_node(node, args, kwargs, acts, values, _ADD)
            return
        if node.target is operator.getitem and isinstance(args[0], Outputs):
            if args[1] != 0:
                self._fail(node, "only the attention's output (item 0) is read; ask for need_weights=False")
            self._env[node] = StepIndex(args[0].index)
            return
        if not acts:
            self._env[node] = evaluate(self.model, node, args, kwargs)
            return
        static = all(a == INPUT or self.steps[a].static for a in acts)
        module = self.model.get_submodule(node.target) if node.op == "call_module" else None
        target = type(module) if module is not None else node.target
        has_params = module is not None and any(True for _ in module.parameters())
        if isinstance(module, nn.Linear):
            self._add(node, "linear", acts[:1], module=module)
        elif isinstance(module, nn.Conv2d):
            if module.padding_mode != "zeros":
                self._fail(node, f"padding_mode={module.padding_mode!r} (LIFTR reads only 'zeros')")
            self._add(node, "conv", acts[:1], module=module)
        elif isinstance(module, nn.LayerNorm):
            if len(module.normalized_shape) != 1 or not module.elementwise_affine:
                self._fail(node, "LIFTR reads LayerNorm over the last dim with an affine γ, β")
            self._add(node, "layernorm", acts[:1], module=module)
        elif isinstance(module, nn.MultiheadAttention):
            self._attention(node, module, args, kwargs)
        elif isinstance(module, ACTIVATION_MODULES) or (module is None and (
                target in ACTIVATION_FUNCTIONS or (node.op == "call_method" and target in ACTIVATION_METHODS))):
            if static:
                self._add(node, "static", acts[:1], fn=bind(node, args, kwargs, module))
            else:
                self._add(node, "activation", acts[:1], fn=bind(node, args, kwargs, module), relu=target in _RELU)
        elif isinstance(module, _IDENTITY_MODULES) or target is F.dropout:
            self._add(node, "static" if static else "identity", acts[:1], fn=lambda x: x)
        elif isinstance(module, (nn.Flatten, nn.Unflatten)) or (module is None and target in _RESHAPE):
            self._add(node, "reshape", acts[:1], fn=bind(node, args, kwargs, None))
            if static:
                self.steps[-1].kind = "static"
        elif module is None and target in _ADD and not static:
            self._add_or_sub(node, args, kwargs, _ADD[target])
        elif module is None and (target in _PERMUTE or target in _MEAN) and not static:
            fn = bind(node, args, kwargs, None)
            if not self._keeps_batch(node, fn, acts[0]):
                self._fail(node, "it mixes examples (acts on the batch dimension)")
            count = 1.0
            if target in _MEAN:
                count = math.prod(self._input_shape(acts[0])) / max(1, math.prod(self._shape(node)))
            self._add(node, "linear_map", acts[:1], fn=fn, factor=1.0 / count)
        elif module is None and target in _SCALE and not static:
            a, b = args[0], args[1]
            act, number = (a, b) if isinstance(a, StepIndex) else (b, a)
            if not isinstance(number, (int, float)) or (_SCALE[target] and act is not a):
                self._fail(node, "only multiplication or division by a number is linear")
            self._add(node, "scale", [int(act)], factor=1.0 / number if _SCALE[target] else float(number))
        elif static and not has_params:
            self._add(node, "static", acts)
        else:
            self._fail(node)

    def _add_or_sub(self, node: fx.Node, args: tuple, kwargs: dict, sign: float) -> None:
        a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
        if kwargs.get("alpha", 1) != 1:
            self._fail(node, "add/sub with alpha is not supported")
        if isinstance(a, StepIndex) and isinstance(b, StepIndex):
            self._add(node, "add", [int(a), int(b)], signs=(1.0, sign))
        elif isinstance(a, StepIndex):
            self._add(node, "identity", [int(a)])
        elif sign < 0:
            self._add(node, "scale", [int(b)], factor=-1.0)  # constant − activation
        else:
            self._add(node, "identity", [int(b)])

