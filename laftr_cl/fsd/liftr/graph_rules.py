"""The walk's rules for transformer pieces (mixed into :class:`laftr_cl.fsd.liftr.graph.Network`):
parameters read directly, per-example linear token ops, ``nn.MultiheadAttention``."""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.fx as fx
from torch import Tensor, nn

from laftr_cl.fsd.liftr.interpret import evaluate
from laftr_cl.fsd.liftr.steps import INPUT, Outputs, ParamValue, Step, StepIndex
from laftr_cl.fsd.trace import EXAMPLE_BATCH

CAT = {torch.cat, torch.concat, torch.concatenate}


class TransformerRules:
    """Methods of the walk (``self._add``, ``self._fail``, ``self._env``, ``self.steps``, ...)."""

    def _parameter_node(self, node: fx.Node, args: tuple, kwargs: dict, acts: list[int],
                        values: list[ParamValue], adds: dict) -> None:
        """A node that reads parameters directly: a function of the parameters alone, or ``cat``/``+``/``−``
        of one activation and such values (an ``affine`` step: its change is linear in the activation's
        plus the change of the parameters' values)."""
        names = tuple(dict.fromkeys(n for v in values for n in v.names))

        def call(x: Any, params: dict[str, Tensor]) -> Any:
            def resolve(v: Any) -> Any:
                if isinstance(v, ParamValue):
                    value = v.fn(params)
                    if isinstance(x, Tensor) and value.dim() and value.shape[0] == EXAMPLE_BATCH != x.shape[0]:
                        value = value[:1].expand(x.shape[0], *value.shape[1:])  # expanded to the example batch
                    return value
                return x if isinstance(v, StepIndex) else v
            return evaluate(self.model, node, fx.node.map_aggregate(args, resolve),
                            fx.node.map_aggregate(kwargs, resolve), grad=True)

        if not acts:
            self._env[node] = ParamValue(names, lambda params: call(None, params))
            return
        target = node.target
        if len(acts) != 1 or not (target in CAT or target in adds):
            self._fail(node, "it reads a parameter directly; LIFTR reads parameters inside modules, or added to "
                             "(or concatenated with) one value")
        source = next(n for n in node.all_input_nodes if isinstance(self._env.get(n), StepIndex))
        self._add(node, "affine", acts, fn=call, extra={"params": names, "source": source})

    def _input_shape(self, index: int) -> tuple[int, ...]:
        return self.input_shape if index == INPUT else self.steps[index].shape

    def _keeps_batch(self, node: fx.Node, fn: Callable[[Tensor], Tensor], source: int) -> bool:
        """Whether ``fn`` treats each example alone: rows of a distinct batch stay rows of the output."""
        example = torch.arange(3 * math.prod(self._input_shape(source)), dtype=torch.float64)
        example = example.reshape(3, *self._input_shape(source))
        try:
            together = fn(example)
            apart = torch.cat([fn(example[i:i + 1]) for i in range(3)])
        except (RuntimeError, IndexError):
            return False
        return together.shape == apart.shape and torch.equal(together, apart)

    def _attention(self, node: fx.Node, module: nn.MultiheadAttention, args: tuple, kwargs: dict) -> None:
        inputs = list(args[:3]) + [kwargs.get(k) for k in ("query", "key", "value") if k in kwargs]
        masks = [kwargs.get(k, args[i] if len(args) > i else None) for i, k in ((3, "key_padding_mask"),
                                                                            (5, "attn_mask"))]
        if len(inputs) != 3 or not all(isinstance(v, StepIndex) for v in inputs) or len(set(inputs)) != 1:
            self._fail(node, "LIFTR reads self-attention attn(h, h, h) of one value")
        if not module.batch_first or not module._qkv_same_embed_dim or module.bias_k is not None or any(
                m is not None for m in masks) or kwargs.get("is_causal", False):
            self._fail(node, "LIFTR reads nn.MultiheadAttention with batch_first=True, one in-projection and no "
                             "masks or added key/value biases")
        index = len(self.steps)
        shape = tuple(self._values[node][0].shape[1:])
        self.steps.append(Step(index, "attention", self.trace.paths.get(node) or node.name, [int(inputs[0])], node,
                               shape, module=module))
        self._env[node] = Outputs(index)
