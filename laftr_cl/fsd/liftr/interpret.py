"""Running a traced graph node by node (the statistics pass, shapes), and a node's call as a function."""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.fx as fx
from torch import Tensor, nn

from laftr_cl.fsd.trace import Trace


def run_graph(model: nn.Module, trace: Trace, x: Tensor, visit: Callable[[fx.Node, tuple], None] | None = None,
              values: dict[fx.Node, Any] | None = None,
              overrides: dict[fx.Node, Callable[[dict], Any]] | None = None) -> Tensor:
    """The traced forward on ``x [B, *input_shape]``, node by node: returns the logits ``[B, K]``;
    ``visit(node, args)`` sees each node's argument values before it runs, ``values`` (if given)
    receives every node's value, ``overrides[node](values)`` computes a node's value instead of its call
    (a parameter expanded to the traced example's batch, concatenated with a value of batch B)."""
    overrides = overrides or {}
    env: dict[fx.Node, Any] = {} if values is None else values
    first = True
    for node in trace.graph.nodes:
        if node.op == "placeholder":
            env[node], first = (x if first else None), False
            continue
        if node.op == "get_attr":
            env[node] = trace.constants[node]
            continue
        args = fx.node.map_arg(node.args, lambda n: env[n])
        if node.op == "output":
            return args[0]
        kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n])
        if visit is not None:
            visit(node, args)
        env[node] = overrides[node](env) if node in overrides else evaluate(model, node, args, kwargs, grad=True)
    raise ValueError("The traced graph has no output.")


def evaluate(model: nn.Module, node: fx.Node, args: tuple, kwargs: dict, grad: bool = False) -> Any:
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        return model.get_submodule(node.target)(*args, **kwargs)


def bind(node: fx.Node, args: tuple, kwargs: dict, module: nn.Module | None) -> Callable[[Tensor], Tensor]:
    """The node's call as a function of its one activation (its first argument)."""
    if module is not None:
        return module
    target = node.target
    if node.op == "call_method":
        return lambda x: getattr(x, target)(*args[1:], **kwargs)
    return lambda x: target(x, *args[1:], **kwargs)
