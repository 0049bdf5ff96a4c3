"""From one traced graph (:mod:`laftr_cl.fsd.trace`) to the gated view's ops.

Each fx node becomes one op, or a *constant* when it reads no activation (buffers, masks, numbers:
evaluated once here). In-place ops (``relu_``, ``F.relu(inplace=True)``, ``x[mask] = v``) rebind
the value they mutate, so later readers see the result. Ops the output does not need are dropped.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.activations import RELU, Pointwise, module_activation
from laftr_cl.fsd.graph_ops import CatOp, PerExampleOp, ReshapeOp
from laftr_cl.fsd.ops import INPUT, BatchNormOp, ConvOp, DropoutOp, GateOp, LinearOp, MaxPoolOp, Op, PoolSettings
from laftr_cl.fsd.trace import EXAMPLE_BATCH, Trace, is_task_labels_placeholder
from laftr_cl.fsd.view_arithmetic import ArithmeticRules
from laftr_cl.fsd.view_rules import BATCH_AGNOSTIC_CALLS, BATCH_AGNOSTIC_MODULES, TransformerRules
from laftr_cl.fsd.view_values import Act, ParamValue, Pending

SUPPORTED_SUMMARY = (
    "Linear, Conv2d, activations (ReLU, LeakyReLU, GELU, SiLU, Tanh, Sigmoid, ELU, Softplus; modules or functions), "
    "BatchNorm1d/2d (eval mode), LayerNorm, RMSNorm, nn.MultiheadAttention, nn.TransformerEncoderLayer and "
    "nn.TransformerEncoder (read through their forward), scaled_dot_product_attention, softmax, "
    "matmul, products, exp/sqrt/rsqrt/pow, residual +/−, torch.cat, parameters read directly (class tokens, "
    "positional embeddings), indexing, transpose/permute/unbind/chunk, average / adaptive-average / max / adaptive-max pooling, "
    "mean, flatten/view/reshape, dropout and identity"
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
        "preprocessing of the input, run as it is in both networks). Replace it with one of these, or "
        "regularize this network with a method that runs it as it is (regularizer=coreset_fsd, ewc, si or lwf)."
    )


class _Builder(TransformerRules, ArithmeticRules):
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

    def adaptive_max_pool(self, node: fx.Node, output_size: Any) -> PoolSettings:
        """``AdaptiveMaxPool2d(output_size)`` as the plain max pooling it is when the output size divides the
        input's height and width (windows of input/output, no overlap): read at the reference's argmax."""
        height, width = self.feature_shape(node.args[0])[-2:]
        out = output_size if isinstance(output_size, tuple) else (output_size, output_size)
        out_h, out_w = (height if out[0] is None else out[0]), (width if out[1] is None else out[1])
        if height % out_h or width % out_w:
            self.fail(node, f"output_size {tuple(out)} does not divide the input's {height}×{width} (its windows "
                      "would overlap unevenly)")
        kernel = (height // out_h, width // out_w)
        return PoolSettings(kernel, kernel)

    def feature_shape(self, node: fx.Node, batch_dim: int = 0) -> tuple[int, ...]:
        """Per-example shape of the node's value (the batch at ``batch_dim``), from its shadow (checks
        it keeps the batch dim)."""
        shadow = self.trace.shadows.get(node)
        if node in self.trace.shadow_errors:
            raise ValueError(
                f"Inputs of shape {list(self.trace.example_shape)} do not fit this network at "
                f"'{self.trace.paths.get(node, node.name)}' ({self.trace.shadow_errors[node]}): the summary was "
                "made for another architecture, or the data does not match the model."
            )
        if not isinstance(shadow, Tensor) or shadow.dim() <= batch_dim or shadow.shape[batch_dim] != EXAMPLE_BATCH:
            self.fail(node, "its result does not keep one row per example (it mixes or drops the batch dimension)")
        return tuple(d for k, d in enumerate(shadow.shape) if k != batch_dim)

    def add(self, node: fx.Node, op_class: type[Op], inputs: list[Act], *args: Any, static: bool = False,
            rebind: Any = None, batch_dim: int = 0, shape: tuple[int, ...] | None = None, bind: bool = True) -> Act:
        """Appends ``op_class(index, path, inputs, *args)`` and binds the node to its value (unless not
        ``bind``); ``shape``: its per-example shape (None: from the node's shadow)."""
        index = len(self.ops)
        op = op_class(index, self.trace.paths.get(node) or node.name, [a.index for a in inputs], *args)
        self.ops.append(op)
        shadow_node = rebind if isinstance(rebind, fx.Node) and not isinstance(self.trace.shadows.get(node), Tensor) else node
        self.shapes[index] = self.feature_shape(shadow_node, batch_dim) if shape is None else tuple(shape)
        result = Act(index, static, batch_dim)
        if bind:
            self.env[node] = result
        if isinstance(rebind, fx.Node):
            self.env[rebind] = result
        return result

    # ------------------------------------------------------------------ nodes
    def build(self) -> tuple[list[Op], int, int, dict[int, tuple[int, ...]]]:
        first_input = True
        for node in self.trace.graph.nodes:
            if node.op == "placeholder":
                if first_input:
                    self.env[node] = Act(INPUT, True)
                elif is_task_labels_placeholder(node.target) and self.trace.task_label is not None:
                    self.env[node] = self.trace.task_label  # traced as a constant (whatever its default)
                else:  # another argument at its default value
                    self.env[node] = node.args[0] if node.args else self.trace.task_label
                first_input = False
            elif node.op == "get_attr":
                value = self.trace.constants[node]
                self.env[node] = (ParamValue((node.target,), lambda p, n=node.target: p[n], value)
                                  if isinstance(value, nn.Parameter) else value)
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
        pending = [v for v in flat if isinstance(v, Pending)]
        if pending and not (node.op == "call_function" and node.target is operator.getitem):
            self.fail(node, "it reads a tuple of values as a whole (pick its items first)")
        has_params = any(isinstance(v, ParamValue) for v in flat)
        module_params = node.op == "call_module" and any(True for _ in self.model.get_submodule(node.target).parameters())
        if not acts and not pending and (has_params or module_params):
            self.env[node] = self.param_value(node, args, kwargs)
            return
        if node.op == "call_method" and node.target in ("expand_as", "expand") and not isinstance(args[0], Act):
            self.env[node] = args[0]  # a constant broadcast to an activation's shape: broadcasting does it later
            return
        if not acts and not pending:
            self.env[node] = self._evaluate(node, args, kwargs)
            return
        if has_params:
            args, kwargs, acts = self._materialize(node, args, kwargs, acts)
        if any(a.batch_dim != 0 for a in acts) and not self._batch_agnostic(node):
            self.fail(node, "the batch is not the first dimension of its input here (only transposes, indexing, "
                            "pointwise ops, Linear, norms and attention accept that)")
        if node.op == "call_module":
            self._module(node, self.model.get_submodule(node.target), acts)
        else:
            self._function(node, args, kwargs, acts)

    def _batch_agnostic(self, node: fx.Node) -> bool:
        """Whether the node accepts a value whose batch is not its first dimension."""
        if node.op == "call_module":
            module = self.model.get_submodule(node.target)
            return isinstance(module, BATCH_AGNOSTIC_MODULES) or module_activation(module) is not None
        name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
        return name in BATCH_AGNOSTIC_CALLS

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
        if isinstance(module, nn.MultiheadAttention):
            self.transformer_module(node, module, acts)
            return
        if len(acts) != 1:
            self.fail(node, "it takes more than one activation")
        if isinstance(module, nn.Linear):
            self.add(node, LinearOp, acts, module, batch_dim=x.batch_dim)
        elif isinstance(module, nn.Conv2d):
            if module.padding_mode != "zeros":
                self.fail(node, f"padding_mode={module.padding_mode!r} (LAFTR supports only 'zeros')")
            self.add(node, ConvOp, acts, module)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if module.running_mean is None:
                self.fail(node, "track_running_stats=False: eval mode then normalizes with batch statistics")
            self.add(node, BatchNormOp, acts, module)
        elif isinstance(module, nn.ReLU):
            self.gate(node, acts, node.args[0] if module.inplace else None, RELU)
        elif not (x.static and module_activation(module) is not None) and self.transformer_module(node, module, acts):
            return  # a transformer layer: transformer_module added its op
        elif isinstance(module, nn.MaxPool2d):
            if module.return_indices:
                self.fail(node, "return_indices=True")
            settings = PoolSettings(module.kernel_size, module.stride, module.padding, module.dilation, module.ceil_mode)
            self.add(node, MaxPoolOp, acts, settings, static=x.static)
        elif isinstance(module, nn.AdaptiveMaxPool2d):
            if module.return_indices:
                self.fail(node, "return_indices=True")
            self.add(node, MaxPoolOp, acts, self.adaptive_max_pool(node, module.output_size), static=x.static)
        elif isinstance(module, nn.Dropout):
            self.add(node, DropoutOp, acts, float(module.p), batch_dim=x.batch_dim)
        elif isinstance(module, nn.Flatten):
            self.add(node, ReshapeOp, acts, self.feature_shape(node), static=x.static)
        elif isinstance(module, (nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Identity)):
            self.add(node, PerExampleOp, acts, module, static=x.static, batch_dim=x.batch_dim)
        elif x.static and not any(True for _ in module.parameters()):
            self.add(node, PerExampleOp, acts, module, static=True)
        else:
            self.fail(node)

    def gate(self, node: fx.Node, acts: list[Act], mutated: Any, activation: Pointwise) -> None:
        """A gated activation (the j-th gate of the network) on ``acts[0]``."""
        gate_index = sum(isinstance(op, GateOp) for op in self.ops)
        self.add(node, GateOp, acts[:1], gate_index, activation, rebind=mutated, batch_dim=acts[0].batch_dim)

    def _function(self, node: fx.Node, args: tuple, kwargs: dict, acts: list[Act]) -> None:
        target, method = node.target, node.op == "call_method"
        first = args[0] if args else None
        static = all(a.static for a in acts)
        in_place = method and target.endswith("_") and not target.startswith("__")
        mutated = node.args[0] if in_place or target is operator.setitem else None
        if (method and target in ("relu", "relu_")) or (not method and target in _RELU_FUNCTIONS):
            inplace = kwargs.get("inplace", args[1] if len(args) > 1 else False) if target is F.relu else False
            self.gate(node, acts, node.args[0] if (inplace or target in (torch.relu_, F.relu_, "relu_")) else mutated,
                      RELU)
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
            self.add(node, DropoutOp, [first], float(kwargs.get("p", args[1] if len(args) > 1 else 0.5)),
                     batch_dim=first.batch_dim)
        elif (method and target in ("masked_fill", "masked_fill_")) or (not method and target is operator.setitem):
            self._fill(node, args, kwargs, static, mutated)
        elif not (static and len(acts) == 1) and self.transformer_function(node, args, kwargs, acts):
            return  # a transformer function: transformer_function added its op
        elif static and len(acts) == 1:
            self.add(node, PerExampleOp, acts, _bind(node, args, kwargs), static=True)
        else:
            self.fail(node)

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
