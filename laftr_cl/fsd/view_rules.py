"""The view builder's rules for the ops of transformers and smooth networks (mixed into
:class:`laftr_cl.fsd.view_builder._Builder`): gated activations beyond ReLU, elementwise functions,
products, LayerNorm/RMSNorm, softmax, matmul, attention (``nn.MultiheadAttention``,
``F.scaled_dot_product_attention``), parameters read directly, and token ops (indexing, transpose,
permute, unbind/chunk/split, expand). The maths is in ``docs/transformers.md``.
"""
from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import Tensor, nn

from laftr_cl.fsd.activations import function_activation, in_place_activation, module_activation
from laftr_cl.fsd.graph_ops import PerExampleOp
from laftr_cl.fsd.ops_attention import AttentionCore, AttentionOp, MatmulOp, MultiheadAttentionOp, SoftmaxOp
from laftr_cl.fsd.ops_norm import FunctionalNormOp, Normalizer, NormOp
from laftr_cl.fsd.ops_pointwise import ELEMENTWISE_FUNCTIONS, ELEMENTWISE_METHODS, ElementwiseOp
from laftr_cl.fsd.ops_tokens import ParamOp
from laftr_cl.fsd.trace import EXAMPLE_BATCH
from laftr_cl.fsd.view_values import Act, ParamValue, Pending, internal_dim, internal_permutation

_SOFTMAX = {F.softmax, torch.softmax}
_MATMUL = {torch.matmul, operator.matmul, torch.bmm}
_SPLITS = {"unbind": torch.unbind, "chunk": torch.chunk, "split": torch.split, "tensor_split": torch.tensor_split}
_PERMUTES = {"transpose", "swapaxes", "swapdims", "permute", "movedim", "t"}
BATCH_AGNOSTIC_MODULES = (nn.Linear, nn.LayerNorm, nn.RMSNorm, nn.Dropout, nn.Identity, nn.MultiheadAttention)
"""Modules that act on the last dims only, so they accept values whose batch is not the first dim."""
BATCH_AGNOSTIC_CALLS = {
    "relu", "relu_", "gelu", "silu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "dropout", "add", "sub",
    "__add__", "__radd__", "iadd", "isub", "mul", "__mul__", "contiguous", "softmax", "getitem", "__getitem__",
    "transpose", "swapaxes", "swapdims", "permute", "movedim", "t", "unbind", "chunk", "split", "tensor_split",
}
"""Functions and methods (by name) that accept values whose batch is not the first dim."""


def _dim(args: tuple, kwargs: dict, position: int, default: Any = None) -> Any:
    return kwargs.get("dim", args[position] if len(args) > position else default)


class TransformerRules:
    """Methods of the builder (``self.add``, ``self.fail``, ``self.feature_shape``, ``self.ops``, ...)."""

    # ------------------------------------------------------------------ parameters read directly
    def param_value(self, node: fx.Node, args: tuple, kwargs: dict) -> ParamValue:
        """A node that reads parameters and no activation: a function of the parameters."""
        names: list[str] = []
        fx.node.map_aggregate((args, kwargs), lambda v: names.extend(v.names) if isinstance(v, ParamValue) else None)

        def resolve(value: Any, params: dict[str, Tensor]) -> Any:
            return fx.node.map_aggregate(value, lambda v: v.fn(params) if isinstance(v, ParamValue) else v)

        if node.op == "call_module":
            module, prefix = self.model.get_submodule(node.target), f"{node.target}."
            own = [f"{prefix}{n}" for n, _ in module.named_parameters()]
            names += own

            def fn(params, module=module, own=own):
                local = {n[len(prefix):]: params[n] for n in own}
                return torch.func.functional_call(module, local, resolve(args, params), resolve(kwargs, params))
        elif node.op == "call_method":
            def fn(params, target=node.target):
                a = resolve(args, params)
                return getattr(a[0], target)(*a[1:], **resolve(kwargs, params))
        else:
            def fn(params, target=node.target):
                return target(*resolve(args, params), **resolve(kwargs, params))
        names = tuple(dict.fromkeys(names))
        with torch.no_grad():
            value = fn({n: self.model.get_parameter(n) for n in names})
        return ParamValue(names, fn, value)

    def param_act(self, node: fx.Node, value: ParamValue, ndim: int) -> Act:
        """``value`` as a view op, aligned to an ``ndim``-dim batch-first activation (broadcasting from the right)."""
        v = value.value
        if not isinstance(v, Tensor) or v.dim() > ndim:
            self.fail(node, "it combines activations with a parameter value of more dimensions than they have")
        shape = (1,) * (ndim - v.dim()) + tuple(v.shape)
        if shape[0] not in (1, EXAMPLE_BATCH) or (shape[0] > 1 and not bool((v.reshape(shape) == v.reshape(shape)[:1]).all())):
            self.fail(node, "a parameter value differs between the examples of a batch")
        fn = value.fn

        def per_example(params: dict[str, Tensor]) -> Tensor:
            return fn(params).reshape(shape)[0]

        index = len(self.ops)
        names = {n: self.model.get_parameter(n).shape for n in value.names}
        self.ops.append(ParamOp(index, f"{self.trace.paths.get(node) or node.name}:{'+'.join(value.names)}", [],
                                per_example, names, self.model))
        self.shapes[index] = shape[1:]
        return Act(index, False)

    # ------------------------------------------------------------------ modules
    def transformer_module(self, node: fx.Node, module: nn.Module, acts: list[Act]) -> bool:
        activation = module_activation(module)
        if activation is not None:  # (a static input runs as it is: the builder's fallback)
            self.gate(node, acts, node.args[0] if getattr(module, "inplace", False) else None, activation)
        elif isinstance(module, (nn.LayerNorm, nn.RMSNorm)):
            centered = isinstance(module, nn.LayerNorm)
            if acts[0].batch_dim >= self._ndim(acts[0]) - len(module.normalized_shape):
                self.fail(node, "it normalizes over the batch dimension")
            self.add(node, NormOp, acts, module, centered, batch_dim=acts[0].batch_dim)
        elif isinstance(module, nn.MultiheadAttention):
            self._multihead(node, module, acts)
        elif isinstance(module, nn.Softmax):
            self._softmax(node, acts[0], module.dim)
        elif isinstance(module, nn.Embedding):
            self.fail(node, "it reads token ids from an activation; LAFTR's input models draw real-valued inputs "
                            "(nn.Embedding of constant positions is supported)")
        else:
            return False
        return True

    def _multihead(self, node: fx.Node, module: nn.MultiheadAttention, acts: list[Act]) -> None:
        args, kwargs = self.value(node.args), self.value(node.kwargs)
        options = dict(zip(("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
                            "average_attn_weights", "is_causal"), args)) | kwargs
        inputs = [options.get(k) for k in ("query", "key", "value")]
        if not all(isinstance(a, Act) for a in inputs) or len({a.batch_dim for a in inputs}) != 1:
            self.fail(node, "query, key and value must be activations with the batch in the same place")
        if options.get("key_padding_mask") is not None or module.bias_k is not None or module.add_zero_attn:
            self.fail(node, "key_padding_mask, add_bias_kv and add_zero_attn are not supported")
        mask = options.get("attn_mask")
        if mask is not None and (not isinstance(mask, Tensor) or mask.dim() != 2):
            self.fail(node, "only a constant [L, S] attn_mask is supported")
        expected = 0 if module.batch_first else 1
        if inputs[0].batch_dim != expected:
            self.fail(node, f"its input has the batch in dim {inputs[0].batch_dim} but batch_first={module.batch_first}")
        core = AttentionCore(mask, bool(options.get("is_causal", False)) and mask is None, None)
        index = len(self.ops)
        self.ops.append(MultiheadAttentionOp(index, self.trace.paths.get(node) or node.name,
                                             [a.index for a in inputs], module, core))
        self.shapes[index] = self.shapes.get(inputs[0].index, self.trace.example_shape)
        result = Act(index, False, inputs[0].batch_dim)

        def item(i: int) -> Act:
            if i != 0:
                self.fail(node, "its attention weights (the second output) are not linearized; use need_weights=False")
            return result

        self.env[node] = Pending(item)

    # ------------------------------------------------------------------ functions and methods
    def transformer_function(self, node: fx.Node, args: tuple, kwargs: dict, acts: list[Act]) -> bool:
        target, method = node.target, node.op == "call_method"
        first = args[0] if args else None
        activation = function_activation(target, method, args, kwargs)
        if activation is not None and isinstance(first, Act):
            self.gate(node, acts, node.args[0] if in_place_activation(target, method, args, kwargs) else None, activation)
        elif (method and target in ELEMENTWISE_METHODS) or (not method and target in ELEMENTWISE_FUNCTIONS):
            if len(acts) != 1 or not isinstance(first, Act):
                self.fail(node, "only an elementwise function of one activation (and constants) is supported")
            self.add(node, ElementwiseOp, [first], self.bind(node, args, kwargs), batch_dim=first.batch_dim)
        elif (method and target in ("softmax",)) or (not method and target in _SOFTMAX):
            self._softmax(node, first, _dim(args, kwargs, 1))
        elif (method and target in ("matmul", "__matmul__", "bmm")) or (not method and target in _MATMUL):
            self._matmul(node, args)
        elif not method and target is F.scaled_dot_product_attention:
            self._attention(node, args, kwargs)
        elif not method and target in (F.layer_norm, F.rms_norm):
            self._functional_norm(node, args, kwargs, centered=target is F.layer_norm)
        elif target is operator.getitem or (method and target == "__getitem__"):
            self._getitem(node, first, args[1])
        elif method and target in _PERMUTES or (not method and target in (torch.transpose, torch.permute, torch.swapaxes,
                                                                           torch.movedim, torch.t)):
            self._permute(node, first, args, kwargs, target if method else target.__name__)
        elif (method and target in _SPLITS) or (not method and target in _SPLITS.values()):
            self._split(node, first, args, kwargs, target if method else target.__name__)
        elif method and target in ("expand", "expand_as"):
            if first.batch_dim != 0:
                self.fail(node, "expand of a value whose batch is not the first dimension")
            shape = self.feature_shape(node)
            self.add(node, PerExampleOp, [first], lambda x: x.expand(x.shape[0], *shape), static=first.static)
        else:
            return False
        return True

    def bind(self, node: fx.Node, args: tuple, kwargs: dict):
        """The node's call as a function of its first argument (an activation)."""
        target = node.target
        if node.op == "call_method":
            return lambda x: getattr(x, target)(*args[1:], **kwargs)
        return lambda x: target(x, *args[1:], **kwargs)

    def _ndim(self, act: Act) -> int:
        """Dims of the user's value (batch included)."""
        return len(self.shapes.get(act.index, self.trace.example_shape)) + 1

    def _softmax(self, node: fx.Node, x: Any, dim: Any) -> None:
        if not isinstance(x, Act) or not isinstance(dim, int):
            self.fail(node, "softmax needs an activation and an explicit dim")
        ndim = self._ndim(x)
        inner = internal_dim(dim, ndim, x.batch_dim)
        if inner == 0:
            self.fail(node, "a softmax over the batch dimension mixes examples")
        self.add(node, SoftmaxOp, [x], inner - ndim, batch_dim=x.batch_dim)

    def _matmul(self, node: fx.Node, args: tuple) -> None:
        a, b = args[0], args[1]
        pair = [v for v in (a, b) if isinstance(v, Act)]
        if any(v.batch_dim != 0 for v in pair):
            self.fail(node, "matmul of a value whose batch is not the first dimension")
        if len(pair) == 2:
            self.add(node, MatmulOp, [a, b])
        elif isinstance(a, Act) and isinstance(b, Tensor) and b.dim() <= 2:
            self.add(node, MatmulOp, [a], None, b)
        elif isinstance(b, Act) and isinstance(a, Tensor) and a.dim() <= 2:
            self.add(node, MatmulOp, [b], a, None)
        else:
            self.fail(node, "only matmul of two activations, or of an activation and a constant matrix, is supported")

    def _attention(self, node: fx.Node, args: tuple, kwargs: dict) -> None:
        names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
        options = dict(zip(names, args)) | kwargs
        inputs = [options.get(k) for k in names[:3]]
        mask = options.get("attn_mask")
        if not all(isinstance(a, Act) and a.batch_dim == 0 for a in inputs) or isinstance(mask, Act):
            self.fail(node, "query, key and value must be batch-first activations and attn_mask a constant")
        if options.get("enable_gqa"):
            self.fail(node, "enable_gqa=True is not supported")
        core = AttentionCore(mask, bool(options.get("is_causal", False)), options.get("scale"))
        self.add(node, AttentionOp, inputs, core)

    def _functional_norm(self, node: fx.Node, args: tuple, kwargs: dict, centered: bool) -> None:
        names = ("input", "normalized_shape", "weight", "bias", "eps") if centered else (
            "input", "normalized_shape", "weight", "eps")
        options = dict(zip(names, args)) | kwargs
        x, weight, bias = options["input"], options.get("weight"), options.get("bias")
        if not isinstance(x, Act) or any(isinstance(v, Tensor) for v in (weight, bias)):
            self.fail(node, "the normalized value must be an activation and weight/bias parameters")
        shape = options["normalized_shape"]
        num_dims = 1 if isinstance(shape, int) else len(shape)
        if x.batch_dim >= self._ndim(x) - num_dims:
            self.fail(node, "it normalizes over the batch dimension")
        normalizer = Normalizer(num_dims, options.get("eps", 1e-5 if centered else None), centered)
        inputs = [x] + [v for v in (weight, bias) if isinstance(v, Act)]
        self.add(node, FunctionalNormOp, inputs, normalizer, (isinstance(weight, Act), isinstance(bias, Act)),
                 batch_dim=x.batch_dim)

    def _getitem(self, node: fx.Node, source: Any, index: Any) -> None:
        if isinstance(source, Pending):
            self.env[node] = source.get(index)
            return
        if not isinstance(source, Act) or isinstance(index, (Act, ParamValue)):
            self.fail(node, "only indexing an activation with constants is supported")
        ndim, batch = self._ndim(source), source.batch_dim
        entries = list(index) if isinstance(index, tuple) else [index]
        if any(e is Ellipsis or e is None for e in entries) and batch != 0:
            self.fail(node, "indexing with ... or None a value whose batch is not the first dimension")
        if batch >= len(entries) or entries[batch] == slice(None):
            if batch < len(entries):
                entries.pop(batch)
            kept_before = sum(1 for e in entries[:batch] if not isinstance(e, int))
            inner = tuple([slice(None)] + entries)
            self.add(node, PerExampleOp, [source], lambda x: x[inner], static=source.static,
                     batch_dim=kept_before if ndim > 1 else 0)
        else:
            self.fail(node, "indexing that selects examples (the batch dimension) mixes examples")

    def _permute(self, node: fx.Node, x: Any, args: tuple, kwargs: dict, name: str) -> None:
        ndim = self._ndim(x)
        order = list(range(ndim))
        if name in ("transpose", "swapaxes", "swapdims", "t"):
            a, b = (0, 1) if name == "t" else (args[1], args[2])
            order[a % ndim], order[b % ndim] = order[b % ndim], order[a % ndim]
        elif name == "permute":
            order = list(args[1]) if len(args) == 2 and isinstance(args[1], (tuple, list)) else list(args[1:])
            order = list(kwargs.get("dims", order))
        else:  # movedim
            source, destination = args[1], args[2]
            order = [d for d in order if d != source % ndim]
            order.insert(destination % ndim, source % ndim)
        inner, batch = internal_permutation(order, ndim, x.batch_dim)
        self.add(node, PerExampleOp, [x], lambda v: v.permute(inner), static=x.static, batch_dim=batch)

    def _split(self, node: fx.Node, x: Any, args: tuple, kwargs: dict, name: str) -> None:
        ndim = self._ndim(x)
        dim = _dim(args, kwargs, 1 if name == "unbind" else 2, 0)
        inner = internal_dim(dim, ndim, x.batch_dim)
        if inner == 0:
            self.fail(node, f"{name} along the batch dimension mixes examples")
        rest = args[1:2] if name != "unbind" else ()
        removed = name == "unbind" and dim % ndim < x.batch_dim

        def item(i: int) -> Act:
            fn = (lambda v: v.select(inner, i)) if name == "unbind" else (lambda v: getattr(v, name)(*rest, dim=inner)[i])
            shadow = self.trace.shadows.get(node)
            if not isinstance(shadow, (tuple, list)):
                self.fail(node, "the shapes of its results are unknown")
            batch = x.batch_dim - int(removed)
            shape = tuple(d for k, d in enumerate(shadow[i].shape) if k != batch)
            return self.add(node, PerExampleOp, [x], fn, static=x.static, batch_dim=batch, shape=shape, bind=False)

        self.env[node] = Pending(item)
