"""Tracing a user's network into a torch.fx graph, with the per-example shape of every value.

``torch.fx.symbolic_trace`` records the ops a module's ``forward`` calls; torch.nn layers stay whole
(``call_module`` nodes), except torch.nn's composite transformer blocks (:data:`TRACED_THROUGH`:
``nn.TransformerEncoderLayer``, ``nn.TransformerEncoder``), whose Python forward is traced into the
layers it calls (``nn.MultiheadAttention``, ``nn.Linear``, ``nn.LayerNorm``, dropout, the
activation), with PyTorch's fused fast path off. Plain fx cannot answer ``x.shape`` or ``x.size(0)``
with numbers, and common code branches on them (Avalanche's ``MultiHeadClassifier`` compares its
head's width with its mask). :class:`ShapeTracer` therefore carries a *shadow* value along each
proxy: the real result of the op on a small example batch (``EXAMPLE_BATCH`` rows), so shapes are
concrete numbers while the graph stays symbolic. Branching on a traced *value* (``if x.sum() > 0``)
cannot be traced and raises :class:`TraceFailure` naming the module whose ``forward`` did it.

A model whose ``forward`` takes ``task_labels`` (Avalanche's ``MultiTaskModule``) is traced once
per task label, with the label as a constant: each trace is the network of that task's head.
"""
from __future__ import annotations

import inspect
import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
from torch import Tensor, nn

from laftr_cl.fsd.tensors import unfused_attention

EXAMPLE_BATCH = 2
"""Rows of the example batch the shadows are computed on (the batch size the shapes report)."""

TRACED_THROUGH = (nn.TransformerEncoderLayer, nn.TransformerEncoder)
"""torch.nn modules that are not leaves: their forward is traced (it calls only layers laftr-cl reads)."""

_UNKNOWN = object()
"""A shadow that could not be computed (an op failed on the example batch, or read such a value)."""


class TraceFailure(ValueError):
    """The network cannot be traced (data-dependent control flow, an untraceable call)."""


class _ShadowProxy(fx.Proxy):
    """An fx proxy that answers shape questions from its shadow value (``shadow``: a Tensor or None)."""

    shadow: Any = None

    @property
    def shape(self) -> Any:
        if isinstance(self.shadow, Tensor):
            return self.shadow.shape
        return self.tracer.create_proxy("call_function", getattr, (self, "shape"), {})

    @property
    def ndim(self) -> Any:
        return self.dim()

    @property
    def is_nested(self) -> Any:
        """Whether the value is a nested tensor (``nn.TransformerEncoder`` asks), from the shadow."""
        return self._attribute("is_nested")

    @property
    def dtype(self) -> Any:
        """The value's dtype (an encoder layer's mask is cast to it), from the shadow."""
        return self._attribute("dtype")

    def _attribute(self, name: str) -> Any:
        if isinstance(self.shadow, Tensor):
            return getattr(self.shadow, name)
        return self.tracer.create_proxy("call_function", getattr, (self, name), {})

    def size(self, dim: int | None = None) -> Any:
        if isinstance(self.shadow, Tensor):
            return self.shadow.size() if dim is None else self.shadow.size(dim)
        return self.tracer.create_proxy("call_method", "size", (self,) if dim is None else (self, dim), {})

    def dim(self) -> Any:
        if isinstance(self.shadow, Tensor):
            return self.shadow.dim()
        return self.tracer.create_proxy("call_method", "dim", (self,), {})

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value`` (e.g. a head's output mask), recorded as ``operator.setitem``."""
        self.tracer.create_proxy("call_function", operator.setitem, (self, index, value), {})

    def __len__(self) -> int:
        if isinstance(self.shadow, Tensor):
            return len(self.shadow)
        raise TraceFailure(f"len() of a traced value in '{self.tracer.current_path()}' cannot be traced.")


class ShapeTracer(fx.Tracer):
    """An fx tracer whose proxies carry shadow values (see the module docstring).

    After :meth:`trace`, ``shadows`` maps each node to its shadow (Tensor, Python value or None)
    and ``paths`` maps each node to the qualified name of the module whose forward made it.
    """

    def __init__(self, example: Tensor, task_label: int | None = None) -> None:
        super().__init__()
        self.example = example
        self.task_label = task_label
        self.shadows: dict[fx.Node, Any] = {}
        self.paths: dict[fx.Node, str] = {}
        self.shadow_errors: dict[fx.Node, str] = {}
        self.unknown: set[fx.Node] = set()
        self._stack: list[str] = []
        self._computing_shadow = False

    # ------------------------------------------------------------------ bookkeeping
    def current_path(self) -> str:
        return self._stack[-1] if self._stack else "<model>"

    def call_module(self, m: nn.Module, forward: Any, args: tuple, kwargs: dict) -> Any:
        self._stack.append(self.path_of_module(m) or "<model>")
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self._stack.pop()

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return not isinstance(m, TRACED_THROUGH) and super().is_leaf_module(m, module_qualified_name)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict) -> Any:
        if self._computing_shadow:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _ShadowProxy(node, self)

    def to_bool(self, obj: fx.Proxy) -> bool:
        origin = self.missing_shadow_origin(obj.node)
        if origin is not None:  # a shape question nobody could answer: blame the op that lost the shapes
            raise TraceFailure(
                f"The forward of '{self.current_path()}' needs a shape that is unknown because {origin}."
            )
        raise TraceFailure(
            f"The forward of '{self.current_path()}' branches on a traced value ({obj.node.format_node()}): "
            "data-dependent control flow cannot be linearized."
        )

    def missing_shadow_origin(self, node: fx.Node) -> str | None:
        """Why ``node`` has no shadow: the first op upstream whose own inputs had shadows but which failed
        on the example batch (None when ``node``'s value is a real data-dependent value)."""
        seen, stack = set(), [node]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            inputs = list(n.all_input_nodes)
            if n in self.shadow_errors and not any(i in self.unknown for i in inputs):
                where = self.paths.get(n, "<model>")
                return (f"{n.format_node()} in '{where}' failed on an example batch of shape "
                        f"{list(self.example.shape)} ({self.shadow_errors[n]})")
            stack.extend(i for i in inputs if i in self.unknown)
        return None

    def iter(self, obj: fx.Proxy) -> Any:
        raise TraceFailure(f"The forward of '{self.current_path()}' iterates over a traced value: this cannot be traced.")

    # ------------------------------------------------------------------ shadows
    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        node = proxy.node
        self.paths[node] = target if kind == "call_module" else self.current_path()
        try:
            shadow = self._shadow(kind, target, args, kwargs)
        except Exception as error:  # a shadow is a convenience: without it the op still traces symbolically
            shadow = _UNKNOWN
            self.shadow_errors[node] = f"{type(error).__name__}: {error}"
        if shadow is _UNKNOWN:
            self.unknown.add(node)
            shadow = None
        proxy.shadow = shadow
        self.shadows[node] = proxy.shadow
        return proxy

    def _shadow(self, kind: str, target: Any, args: tuple, kwargs: dict) -> Any:
        if kind == "placeholder":  # the input, task_labels (traced as a constant), or another argument at its default
            if target == self._input_name:
                return self.example
            if is_task_labels_placeholder(target) and self.task_label is not None:
                return self.task_label
            return args[0] if args else _UNKNOWN
        missing = False

        def to_shadow(v: Any) -> Any:
            nonlocal missing
            if isinstance(v, fx.Proxy):
                if v.node in self.unknown:
                    missing = True
                return v.shadow
            return v

        shadow_args = fx.node.map_aggregate(args, to_shadow)
        shadow_kwargs = fx.node.map_aggregate(kwargs, to_shadow)
        if missing:
            return _UNKNOWN
        self._computing_shadow = True
        try:
            with torch.no_grad():
                if kind == "get_attr":
                    return _attribute(self.root, target)
                if kind == "call_function":
                    return target(*shadow_args, **shadow_kwargs)
                if kind == "call_method":
                    return getattr(shadow_args[0], target)(*shadow_args[1:], **shadow_kwargs)
                if kind == "call_module":  # a leaf: one of torch.nn's own modules
                    return self.root.get_submodule(target).forward(*shadow_args, **shadow_kwargs)
        finally:
            self._computing_shadow = False
        return None

    def trace(self, root: nn.Module, concrete_args: dict[str, Any] | None = None) -> fx.Graph:  # type: ignore[override]
        self._input_name = next(iter(inspect.signature(root.forward).parameters))
        return super().trace(root, concrete_args)


def _attribute(root: nn.Module, target: str) -> Any:
    value: Any = root
    for atom in target.split("."):
        value = getattr(value, atom)
    return value


def is_task_labels_placeholder(target: str) -> bool:
    """Whether a placeholder is ``task_labels`` traced as a constant (fx names it ``task_labels_<n>`` and guards
    it with an assert, so it must take the traced value, whatever the forward's default for it is)."""
    name, _, count = target.rpartition("_")
    return name == "task_labels" and count.isdigit()


def takes_task_labels(model: nn.Module) -> bool:
    """Whether ``model.forward`` has a ``task_labels`` argument (Avalanche's ``MultiTaskModule``)."""
    return "task_labels" in inspect.signature(model.forward).parameters


def forward_with_task(model: nn.Module, x: Tensor, task_label: int | None) -> Tensor:
    """``model(x)``, or ``model(x, task_labels=task_label)`` (None: 0) when its forward takes task labels."""
    if takes_task_labels(model):
        return model(x, task_labels=0 if task_label is None else int(task_label))
    return model(x)


@dataclass
class Trace:
    """One traced forward: ``graph`` (fx), each node's ``shadow`` value (``shadow_errors``: why an op
    failed on the example batch) and module ``path``, the value of
    every ``get_attr`` node (``constants``: buffers, parameters, tensors the forward made), the
    ``task_label`` it was traced with and the per-example ``example_shape`` of the input."""

    graph: fx.Graph
    shadows: dict[fx.Node, Any]
    shadow_errors: dict[fx.Node, str]
    paths: dict[fx.Node, str]
    constants: dict[fx.Node, Any]
    task_label: int | None
    example_shape: tuple[int, ...]


def trace_model(model: nn.Module, input_shape: tuple[int, ...], task_label: int | None = None) -> Trace:
    """Trace ``model``'s forward on inputs ``[B, *input_shape]`` (with ``task_labels=task_label`` when
    the forward takes task labels), in eval mode (modes restored), with PyTorch's fused attention off
    (:func:`laftr_cl.fsd.tensors.unfused_attention`), so that a transformer block's forward takes its
    op-by-op path whatever its own fast-path checks would find.

    Raises:
        TraceFailure: the forward cannot be traced; the message names the module and the reason.
    """
    param = next(model.parameters())
    example = torch.zeros(EXAMPLE_BATCH, *input_shape, device=param.device, dtype=param.dtype)
    concrete = None
    if takes_task_labels(model):
        concrete = {"task_labels": 0 if task_label is None else int(task_label)}
    tracer = ShapeTracer(example, None if concrete is None else concrete["task_labels"])
    modes = {m: m.training for m in model.modules()}
    attributes = set(vars(model))
    model.eval()
    try:
        with unfused_attention():
            graph = tracer.trace(model, concrete_args=concrete)
        constants = {n: _attribute(model, n.target) for n in graph.nodes if n.op == "get_attr"}
    except TraceFailure:
        raise
    except Exception as error:  # fx's own TraceError and anything a forward raises on proxies
        raise TraceFailure(
            f"torch.fx could not trace the forward of '{tracer.current_path()}' ({type(error).__name__}: {error})."
        ) from None
    finally:
        for m, training in modes.items():
            m.train(training)
        for name in set(vars(model)) - attributes:  # tensor constants fx attached to the model
            delattr(model, name)
    label = None if concrete is None else concrete["task_labels"]
    return Trace(graph, tracer.shadows, tracer.shadow_errors, tracer.paths, constants, label, tuple(input_shape))
