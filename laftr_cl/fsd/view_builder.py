"""From one traced graph (:mod:`laftr_cl.fsd.trace`) to the gated view's ops.

Each fx node becomes one op, or a *constant* when it reads no activation (buffers, masks, numbers:
evaluated once here). In-place ops (``relu_``, ``F.relu(inplace=True)``, ``x[mask] = v``) rebind
the value they mutate, so later readers see the result. Ops the output does not need are dropped.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.graph_ops import AddOp, CatOp, FillOp, PerExampleOp, ReshapeOp, ScaleOp
from laftr_cl.fsd.ops import INPUT, BatchNormOp, ConvOp, DropoutOp, GateOp, LinearOp, MaxPoolOp, Op, PoolSettings
from laftr_cl.fsd.trace import EXAMPLE_BATCH, Trace

SUPPORTED_SUMMARY = (
    "Linear, Conv2d, ReLU (nn.ReLU, F.relu, torch.relu, in place or not), BatchNorm1d/2d (eval mode), residual "
    "+/−, torch.cat, average / adaptive-average / max pooling, flatten/view/reshape, dropout and identity"
)

_RELU_FUNCTIONS = {F.relu, torch.relu, torch.relu_, F.relu_}
_ADD_FUNCTIONS = {operator.add: 1.0, operator.iadd: 1.0, torch.add: 1.0, operator.sub: -1.0, operator.isub: -1.0,
                  torch.sub: -1.0}
_ADD_METHODS = {"add": 1.0, "add_": 1.0, "__add__": 1.0, "__radd__": 1.0, "sub": -1.0, "sub_": -1.0}
_MUL_FUNCTIONS = {operator.mul, operator.imul, torch.mul}
_DIV_FUNCTIONS = {operator.truediv, operator.itruediv, torch.div}
_CAT_FUNCTIONS = {torch.cat, torch.concat, torch.concatenate}
_RESHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze}
_RESHAPE_METHODS = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "view_as", "reshape_as", "contiguous"}
_AVERAGE_FUNCTIONS = {F.avg_pool2d, F.adaptive_avg_pool2d}
_POOL_ARGS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")


@dataclass
class Act:
    """An activation: the value of op ``index`` (``INPUT``: the network input). ``static``: a fixed
    function of the input (no parameters or gates on the way), the same in both networks."""

    index: int
    static: bool


@dataclass
class Param:
    """A parameter read directly by the forward (not through its module): cannot be linearized."""

    name: str


def op_name(node: fx.Node, model: nn.Module) -> str:
    """A readable name of the node's op: ``nn.GELU``, ``torch.nn.functional.gelu``, ``Tensor.softmax``."""
    if node.op == "call_module":
        return f"nn.{type(model.get_submodule(node.target)).__name__}"
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    name = getattr(target, "__name__", str(target))
    for public, namespace in (("torch.nn.functional", F), ("torch", torch), ("operator", operator)):
        if getattr(namespace, name, None) is target:
            return f"{public}.{name}"
    return f"{getattr(target, '__module__', None) or ''}.{name}".lstrip(".")


def unsupported_op_message(op: str, path: str, reason: str = "") -> str:
    """The one-paragraph error for an op the gated view cannot linearize."""
    where = f"'{path}'" if path and path != "<model>" else "the model's own forward"
    return (
        f"LAFTR cannot linearize {op} in {where}{': ' + reason if reason else ''}. Its gated view is built from "
        f"{SUPPORTED_SUMMARY}; any other op works only before the first layer with parameters (a fixed "
        "preprocessing of the input, run as it is in both networks). Replace it (e.g. nn.GELU → nn.ReLU), or "
        "regularize this network with a method that runs it as it is (regularizer=coreset_fsd, ewc, si or lwf)."
    )


class _Builder:
    def __init__(self, model: nn.Module, trace: Trace) -> None:
        self.model, self.trace = model, trace
        self.ops: list[Op] = []
        self.env: dict[fx.Node, Any] = {}
        self.shapes: dict[int, tuple[int, ...]] = {}

    # ------------------------------------------------------------------ helpers
    def value(self, arg: Any) -> Any:
        return fx.node.map_arg(arg, lambda n: self.env[n])

    def fail(self, node: fx.Node, reason: str = "") -> None:
        raise ValueError(unsupported_op_message(op_name(node, self.model), self.trace.paths.get(node, ""), reason))

    def feature_shape(self, node: fx.Node) -> tuple[int, ...]:
        """Per-example shape of the node's value, from its shadow (checks it keeps the batch dim)."""
        shadow = self.trace.shadows.get(node)
        if node in self.trace.shadow_errors:
            raise ValueError(
                f"Inputs of shape {list(self.trace.example_shape)} do not fit this network at "
                f"'{self.trace.paths.get(node, node.name)}' ({self.trace.shadow_errors[node]}): the summary was "
                "made for another architecture, or the data does not match the model."
            )
        if not isinstance(shadow, Tensor) or shadow.dim() == 0 or shadow.shape[0] != EXAMPLE_BATCH:
            self.fail(node, "its result does not keep one row per example (it mixes or drops the batch dimension)")
        return tuple(shadow.shape[1:])

    def add(self, node: fx.Node, op_class: type[Op], inputs: list[Act], *args: Any, static: bool = False,
            rebind: Any = None) -> None:
        index = len(self.ops)
        op = op_class(index, self.trace.paths.get(node) or node.name, [a.index for a in inputs], *args)
        self.ops.append(op)
        shadow_node = rebind if isinstance(rebind, fx.Node) and not isinstance(self.trace.shadows.get(node), Tensor) else node
        self.shapes[index] = self.feature_shape(shadow_node)
        result = Act(index, static)
        self.env[node] = result
        if isinstance(rebind, fx.Node):
            self.env[rebind] = result

    # ------------------------------------------------------------------ nodes
    def build(self) -> tuple[list[Op], int, int, dict[int, tuple[int, ...]]]:
        first_input = True
        for node in self.trace.graph.nodes:
            if node.op == "placeholder":
                self.env[node] = Act(INPUT, True) if first_input else self.trace.task_label
                first_input = False
            elif node.op == "get_attr":
                value = self.trace.constants[node]
                self.env[node] = Param(node.target) if isinstance(value, nn.Parameter) else value
            elif node.op == "output":
                return self._finish(node)
            else:
                self._compute(node)
        raise ValueError("The traced graph has no output.")

    def _compute(self, node: fx.Node) -> None:
        args, kwargs = self.value(node.args), self.value(node.kwargs)
        flat: list[Any] = []
        fx.node.map_aggregate((args, kwargs), lambda v: flat.append(v))
        acts = [v for v in flat if isinstance(v, Act)]
        if any(isinstance(v, Param) for v in flat):
            self.fail(node, "it reads a parameter directly; LAFTR linearizes parameters inside nn.Linear, "
                            "nn.Conv2d and nn.BatchNorm modules")
        if node.op == "call_method" and node.target in ("expand_as", "expand") and not isinstance(args[0], Act):
            self.env[node] = args[0]  # a constant broadcast to an activation's shape: broadcasting does it later
            return
        if not acts:
            self.env[node] = self._evaluate(node, args, kwargs)
            return
        if node.op == "call_module":
            self._module(node, self.model.get_submodule(node.target), acts)
        else:
            self._function(node, args, kwargs, acts)

    def _evaluate(self, node: fx.Node, args: tuple, kwargs: dict) -> Any:
        """A node that reads no activation: its value, computed once."""
        with torch.no_grad():
            if node.op == "call_function":
                return node.target(*args, **kwargs)
            if node.op == "call_method":
                return getattr(args[0], node.target)(*args[1:], **kwargs)
            return self.model.get_submodule(node.target)(*args, **kwargs)

    def _module(self, node: fx.Node, module: nn.Module, acts: list[Act]) -> None:
        x = acts[0]
        if len(acts) != 1:
            self.fail(node, "it takes more than one activation")
        if isinstance(module, nn.Linear):
            self.add(node, LinearOp, acts, module)
        elif isinstance(module, nn.Conv2d):
            if module.padding_mode != "zeros":
                self.fail(node, f"padding_mode={module.padding_mode!r} (LAFTR supports only 'zeros')")
            self.add(node, ConvOp, acts, module)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if module.running_mean is None:
                self.fail(node, "track_running_stats=False: eval mode then normalizes with batch statistics")
            self.add(node, BatchNormOp, acts, module)
        elif isinstance(module, nn.ReLU):
            self._gate(node, acts, node.args[0] if module.inplace else None)
        elif isinstance(module, nn.MaxPool2d):
            if module.return_indices:
                self.fail(node, "return_indices=True")
            settings = PoolSettings(module.kernel_size, module.stride, module.padding, module.dilation, module.ceil_mode)
            self.add(node, MaxPoolOp, acts, settings, static=x.static)
        elif isinstance(module, nn.Dropout):
            self.add(node, DropoutOp, acts, float(module.p))
        elif isinstance(module, nn.Flatten):
            self.add(node, ReshapeOp, acts, self.feature_shape(node), static=x.static)
        elif isinstance(module, (nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Identity)):
            self.add(node, PerExampleOp, acts, module, static=x.static)
        elif x.static and not any(True for _ in module.parameters()):
            self.add(node, PerExampleOp, acts, module, static=True)
        else:
            self.fail(node)

    def _gate(self, node: fx.Node, acts: list[Act], mutated: Any) -> None:
        relu_index = sum(isinstance(op, GateOp) for op in self.ops)
        self.add(node, GateOp, acts, relu_index, rebind=mutated)

    def _function(self, node: fx.Node, args: tuple, kwargs: dict, acts: list[Act]) -> None:
        target, method = node.target, node.op == "call_method"
        first = args[0] if args else None
        static = all(a.static for a in acts)
        in_place = method and target.endswith("_") and not target.startswith("__")
        mutated = node.args[0] if in_place or target is operator.setitem else None
        if (method and target in ("relu", "relu_")) or (not method and target in _RELU_FUNCTIONS):
            inplace = kwargs.get("inplace", args[1] if len(args) > 1 else False) if target is F.relu else False
            self._gate(node, acts, node.args[0] if (inplace or target in (torch.relu_, F.relu_, "relu_")) else mutated)
        elif (method and target in _ADD_METHODS) or (not method and target in _ADD_FUNCTIONS):
            sign = _ADD_METHODS[target] if method else _ADD_FUNCTIONS[target]
            self._add(node, args, kwargs, sign, static, mutated)
        elif (method and target in ("mul", "mul_", "div", "div_")) or (not method and target in _MUL_FUNCTIONS | _DIV_FUNCTIONS):
            self._scale(node, args, target in _DIV_FUNCTIONS or target in ("div", "div_"), static, mutated)
        elif not method and target in _CAT_FUNCTIONS:
            tensors, dim = args[0], kwargs.get("dim", args[1] if len(args) > 1 else 0)
            if dim == 0 or not all(isinstance(t, Act) for t in tensors):
                self.fail(node, "only activations concatenated along a feature dimension are linear")
            self.add(node, CatOp, list(tensors), dim, static=static)
        elif (method and target in _RESHAPE_METHODS) or (not method and target in _RESHAPE_FUNCTIONS):
            self.add(node, ReshapeOp, [first], self.feature_shape(node), static=static)
        elif (not method and target in _AVERAGE_FUNCTIONS) or (target in ("mean",) or target is torch.mean):
            if target in ("mean",) or target is torch.mean:
                self._check_mean_dims(node, args, kwargs)
            self.add(node, PerExampleOp, [first], _bind(node, args, kwargs), static=static)
        elif not method and target is F.max_pool2d:
            options = dict(zip(_POOL_ARGS, args[1:])) | kwargs
            if options.get("return_indices"):
                self.fail(node, "return_indices=True")
            settings = PoolSettings(options["kernel_size"], options.get("stride"), options.get("padding", 0),
                                    options.get("dilation", 1), options.get("ceil_mode", False))
            self.add(node, MaxPoolOp, [first], settings, static=static)
        elif not method and target is F.dropout:
            self.add(node, DropoutOp, [first], float(kwargs.get("p", args[1] if len(args) > 1 else 0.5)))
        elif (method and target in ("masked_fill", "masked_fill_")) or (not method and target is operator.setitem):
            self._fill(node, args, kwargs, static, mutated)
        elif static and len(acts) == 1:
            self.add(node, PerExampleOp, acts, _bind(node, args, kwargs), static=True)
        else:
            self.fail(node)

    def _add(self, node, args, kwargs, sign, static, mutated) -> None:
        a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
        if kwargs.get("alpha", 1) != 1 or len(args) > 2:
            self.fail(node, "add/sub with alpha is not supported")
        if isinstance(a, Act) and isinstance(b, Act):
            self.add(node, AddOp, [a, b], (1.0, sign), static=static, rebind=mutated)
        elif isinstance(a, Act):
            self.add(node, AddOp, [a], (1.0,), sign * b, static=static, rebind=mutated)
        else:  # constant ± activation
            self.add(node, AddOp, [b], (sign,), a, static=static, rebind=mutated)

    def _scale(self, node, args, divide, static, mutated) -> None:
        a, b = args[0], args[1]
        act, factor = (a, b) if isinstance(a, Act) else (b, a)
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or (divide and act is not a):
            self.fail(node, "only multiplication or division by a number is linear")
        self.add(node, ScaleOp, [act], 1.0 / factor if divide else float(factor), static=static, rebind=mutated)

    def _fill(self, node, args, kwargs, static, mutated) -> None:
        x, index, value = args[0], args[1] if len(args) > 1 else kwargs.get("mask"), (
            args[2] if len(args) > 2 else kwargs.get("value"))
        if node.target is operator.setitem and isinstance(index, tuple) and len(index) == 2 and index[0] is Ellipsis:
            index = index[1]
        if not isinstance(index, Tensor) or index.dtype != torch.bool or not isinstance(value, (int, float)):
            self.fail(node, "only a constant boolean mask filled with a number is supported")
        self.add(node, FillOp, [x], index, float(value), static=static, rebind=mutated)

    def _check_mean_dims(self, node, args, kwargs) -> None:
        dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
        dims = (dims,) if isinstance(dims, int) else dims
        ndim = len(self.shapes.get(args[0].index, self.trace.example_shape)) + 1
        if dims is None or any(d % ndim == 0 for d in dims):
            self.fail(node, "a mean over the batch dimension mixes examples")

    def _finish(self, node: fx.Node) -> tuple[list[Op], int, int, dict[int, tuple[int, ...]]]:
        out = self.env.get(node.args[0]) if isinstance(node.args[0], fx.Node) else None
        if not isinstance(out, Act) or out.index == INPUT:
            raise ValueError(
                f"LAFTR needs the model's forward to return logits [B, outputs] computed from its input "
                f"(got {type(node.args[0]).__name__})."
            )
        shape = self.shapes[out.index]
        if len(shape) != 1:
            dims = ", ".join(map(str, shape))
            raise ValueError(f"LAFTR needs the model to output logits [B, outputs]; it outputs [B, {dims}].")
        return _prune(self.ops, out.index, self.shapes) + (shape[0],)


def _bind(node: fx.Node, args: tuple, kwargs: dict) -> Callable[[Tensor], Tensor]:
    """The node's call as a function of its one activation (first argument)."""
    target, method = node.target, node.op == "call_method"
    if method:
        return lambda x: getattr(x, target)(*args[1:], **kwargs)
    return lambda x: target(x, *args[1:], **kwargs)


def _prune(ops: list[Op], output: int, shapes: dict[int, tuple[int, ...]]):
    """Drops the ops the output does not need and renumbers the rest (and the ReLU indices)."""
    needed, stack = set(), [output]
    while stack:
        i = stack.pop()
        if i != INPUT and i not in needed:
            needed.add(i)
            stack.extend(ops[i].inputs)
    kept = [op for op in ops if op.index in needed]
    renumber = {op.index: new for new, op in enumerate(kept)} | {INPUT: INPUT}
    new_shapes, relus = {}, 0
    for op in kept:
        new_shapes[renumber[op.index]] = shapes[op.index]
        op.index, op.inputs = renumber[op.index], [renumber[i] for i in op.inputs]
        if isinstance(op, GateOp):
            op.relu_index, relus = relus, relus + 1
    return kept, renumber[output], new_shapes


def build_ops(model: nn.Module, trace: Trace) -> tuple[list[Op], int, dict[int, tuple[int, ...]], int]:
    """``(ops, output index, per-example output shape of each op, number of logits)`` of one trace."""
    ops, output, shapes, width = _Builder(model, trace).build()
    return ops, output, shapes, width
