"""The view builder's rules for arithmetic (mixed into :class:`laftr_cl.fsd.view_builder._Builder`): adds and
subtractions, products and divisions, constant masks, means, and parameters meeting activations."""
from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx as fx
from torch import Tensor

from laftr_cl.fsd.graph_ops import AddOp, FillOp, ScaleOp
from laftr_cl.fsd.ops_pointwise import ElementwiseOp, ProductOp
from laftr_cl.fsd.view_values import Act, ParamValue


class ArithmeticRules:
    """Methods of the builder (``self.add``, ``self.fail``, ``self.shapes``, ...)."""

    def _materialize(self, node: fx.Node, args: tuple, kwargs: dict, acts: list[Act]):
        """Parameter values that meet activations become ops (aligned to the activations' dims)."""
        if any(a.batch_dim != 0 for a in acts):
            self.fail(node, "it combines a parameter with a value whose batch is not the first dimension")
        ndim = max(len(self.shapes.get(a.index, self.trace.example_shape)) + 1 for a in acts)
        made: dict[int, Act] = {}

        def materialize(v: Any) -> Any:
            if isinstance(v, ParamValue):
                if id(v) not in made:
                    made[id(v)] = self.param_act(node, v, ndim)
                return made[id(v)]
            return v

        args, kwargs = fx.node.map_aggregate(args, materialize), fx.node.map_aggregate(kwargs, materialize)
        return args, kwargs, acts + list(made.values())

    def _add(self, node, args, kwargs, sign, static, mutated) -> None:
        a, b = args[0], args[1] if len(args) > 1 else kwargs.get("other")
        if kwargs.get("alpha", 1) != 1 or len(args) > 2:
            self.fail(node, "add/sub with alpha is not supported")
        batch = {v.batch_dim for v in (a, b) if isinstance(v, Act)}
        constant = b if isinstance(a, Act) and not isinstance(b, Act) else a if not isinstance(a, Act) else None
        if len(batch) > 1 or (batch != {0} and isinstance(constant, Tensor)):
            self.fail(node, "it adds values whose batch dimensions are in different places")
        batch_dim = batch.pop()
        if isinstance(a, Act) and isinstance(b, Act):
            self.add(node, AddOp, [a, b], (1.0, sign), static=static, rebind=mutated, batch_dim=batch_dim)
        elif isinstance(a, Act):
            self.add(node, AddOp, [a], (1.0,), sign * b, static=static, rebind=mutated, batch_dim=batch_dim)
        else:  # constant ± activation
            self.add(node, AddOp, [b], (sign,), a, static=static, rebind=mutated, batch_dim=batch_dim)

    def _scale(self, node, args, divide, static, mutated) -> None:
        """``a * b`` or ``a / b``: by a number or constant tensor (linear), or of two values (a product;
        dividing by a value multiplies by its linearized reciprocal)."""
        a, b = args[0], args[1]
        if isinstance(b, Act) and (divide or not isinstance(a, Act)):
            if divide:
                b = self.add(node, ElementwiseOp, [b], torch.reciprocal, batch_dim=b.batch_dim, bind=False,
                             shape=self.shapes.get(b.index, self.trace.example_shape))
            if not isinstance(a, Act):
                a, b = b, a
                divide = False
        if isinstance(a, Act) and isinstance(b, Act):
            if a.batch_dim != b.batch_dim:
                self.fail(node, "it multiplies values whose batch dimensions are in different places")
            self.add(node, ProductOp, [a, b], static=static, rebind=mutated, batch_dim=a.batch_dim)
            return
        factor = b
        number = isinstance(factor, (int, float)) and not isinstance(factor, bool)
        features = len(self.shapes.get(a.index, self.trace.example_shape))
        if not number and not (isinstance(factor, Tensor) and factor.dim() <= features and a.batch_dim == 0):
            self.fail(node, "only multiplication or division by a number, a constant or another value is supported")
        factor = float(factor) if number else factor
        self.add(node, ScaleOp, [a], 1.0 / factor if divide else factor, static=static, rebind=mutated,
                 batch_dim=a.batch_dim)

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
