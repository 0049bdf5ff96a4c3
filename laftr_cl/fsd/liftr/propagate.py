"""The change of every step's output, propagated through the network's steps for all tasks at once.

``stochastic``: ``dx [T, S, *f]``, S draws per task; each layer draws its own input (or Jacobian) from
the task's stored statistics, independently of the other layers (LIFTR's mean-field reading).
``deterministic``: the mean ``[T, *f]`` and covariance ``[T, F, F]`` (``full``) or variance ``[T, *f]``
(``diag``: cross-feature covariances dropped after every step) of those draws, in closed form.

Per step, with θ_t's values ``W0, b0, γ0, β0`` (``dW = W − W0`` …) and the stored statistics:

* linear, conv: ``dout = W·dx + dW·x + db``, x ~ N(mean, covariance) of the layer's input.
* activation: ``dout = g ⊙ dx``; ReLU: g ~ Bernoulli(rate); smooth σ: g ~ N(E[σ'], Var[σ']) per unit.
* layernorm: ``dout = γ ⊙ (J̄·dx) + dγ ⊙ x̂ + dβ``, J̄ the average normalization Jacobian, x̂ ~ N(mean,
  covariance) of the normalized input.
* attention: :mod:`laftr_cl.fsd.liftr.attention`.
* add: the sum (deterministic: branches independent); reshape, identity, scale, linear maps (token
  indexing, transpose, mean) as they are; affine (parameters read directly): plus their change.

A value that is a fixed function of the input (``None`` here) has change 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from laftr_cl.fsd.liftr.attention import AttentionStep
from laftr_cl.fsd.liftr.bank import LiftrBank
from laftr_cl.fsd.liftr.states import Map, Moments, apply, per_task, sandwich
from laftr_cl.fsd.liftr.steps import INPUT, Step
from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.trace import EXAMPLE_BATCH

LIFTR_MODES = ("deterministic", "stochastic")


class Propagation:
    """One pass for ``bank`` at the model's current parameters (read live from the steps' modules).

    Args:
        bank: the stacked summaries. mode: ``deterministic`` or ``stochastic``.
        num_samples: S draws per task (stochastic). noise: the random draws (stochastic).
    """

    def __init__(self, bank: LiftrBank, mode: str, num_samples: int, noise: Noise) -> None:
        if mode not in LIFTR_MODES:
            raise ValueError(f"Unknown mode={mode!r}: choose one of {', '.join(LIFTR_MODES)}.")
        if mode == "stochastic" and not bank.sampling:
            raise ValueError("mode=stochastic draws from the bank's factors: build it with LiftrBank(..., sampling=True).")
        self.bank, self.mode, self.samples, self.noise = bank, mode, num_samples, noise
        self.stats, self.derived = bank.statistics, bank.derived
        self.full = bank.covariance == "full"

    # ------------------------------------------------------------------ the pass
    def fsd(self) -> Tensor:
        """½ E‖dout[O_t]‖² per task, ``[T]`` (differentiable w.r.t. the model's parameters)."""
        values: dict[int, object] = {INPUT: None}
        for step in self.bank.network.steps:
            values[step.index] = self._step(step, [values[i] for i in step.inputs])
        out, mask = values[self.bank.network.output], self.bank.output_mask
        if out is None:
            return mask.new_zeros(self.bank.num_tasks)
        if isinstance(out, Moments):
            spread = torch.diagonal(out.cov, dim1=1, dim2=2) if out.cov is not None else out.var
            return 0.5 * ((out.mean.pow(2) + spread) * mask).sum(-1)
        return 0.5 * (out.pow(2) * mask.unsqueeze(1)).sum(-1).mean(1)

    def _step(self, step: Step, xs: list):
        kind = step.kind
        if kind == "static":
            return None
        if kind == "linear":
            return self._linear(step, xs[0])
        if kind == "conv":
            return self._conv(step, xs[0])
        if kind == "affine":
            return self._affine(step, xs[0])
        if kind == "activation":
            return None if xs[0] is None else self._activation(step, xs[0])
        if kind == "layernorm":
            return self._layernorm(step, xs[0])
        if kind == "attention":
            attend = AttentionStep(self, step)
            shape = self._input_shape(step)
            return attend.stochastic(xs[0], shape) if self.mode == "stochastic" else attend.deterministic(xs[0], shape)
        if kind == "add":
            return self._sum([(s, x) for s, x in zip(step.signs, xs) if x is not None])
        if xs[0] is None:
            return None
        if kind == "scale":
            return self._sum([(step.factor, xs[0])])
        if kind == "linear_map":
            return self._linear_map(step, xs[0])
        return self._reshape(xs[0], step.shape)  # reshape, identity

    # ------------------------------------------------------------------ shared pieces
    def _draw(self, key: str, count: int) -> Tensor:
        """``[T, S, *f]`` draws from the stored N(``key``.mean, covariance)."""
        mean = self.stats[f"{key}.mean"]
        t, shape = mean.shape[0], mean.shape[1:]
        if f"{key}.factor" in self.derived:
            factor = self.derived[f"{key}.factor"]
            z = self.noise.normal((t, count, factor.shape[-1]))
            return mean.unsqueeze(1) + (z @ factor.mT).reshape(t, count, *shape)
        return mean.unsqueeze(1) + self.noise.normal((t, count, *shape)) * self.derived[f"{key}.std"].unsqueeze(1)

    def _propagate(self, x, fn: Map, fn_squared: Map, shape: tuple[int, ...]):
        """``fn(dx)`` of a state (``fn_squared``: the map with squared coefficients, for variances)."""
        if x is None:
            return None
        if isinstance(x, Moments):
            if self.full:
                return Moments(apply(fn, x.mean), cov=sandwich(fn, x.cov, shape))
            return Moments(apply(fn, x.mean), var=apply(fn_squared, x.var))
        return fn(x)

    def _plus_noise(self, y, key: str, fn: Map, fn_squared: Map, shift: Tensor, shape: tuple[int, ...]):
        """``y + fn(x) + shift``, x drawn from the stored moments ``key`` (``shift [T, *f_out]``)."""
        if self.mode == "stochastic":
            noise = fn(self._draw(key, self.samples)) + shift.unsqueeze(1)
            return noise if y is None else y + noise
        mean = apply(fn, self.stats[f"{key}.mean"]) + shift
        if self.full:
            added = Moments(mean, cov=sandwich(fn, self.stats[f"{key}.cov"], shape))
        else:
            added = Moments(mean, var=apply(fn_squared, self.stats[f"{key}.var"]))
        return added if y is None else self._sum([(1.0, y), (1.0, added)])

    def _sum(self, terms: list[tuple[float, object]]):
        if not terms:
            return None
        if not isinstance(terms[0][1], Moments):
            return sum(sign * x for sign, x in terms)
        mean = sum(sign * x.mean for sign, x in terms)
        if self.full:
            return Moments(mean, cov=sum(sign * sign * x.cov for sign, x in terms))
        return Moments(mean, var=sum(sign * sign * x.var for sign, x in terms))

    def _reshape(self, x, shape: tuple[int, ...]):
        if isinstance(x, Moments):
            t = x.mean.shape[0]
            var = None if x.var is None else x.var.reshape(t, *shape)
            return Moments(x.mean.reshape(t, *shape), cov=x.cov, var=var)
        return x.reshape(*x.shape[:2], *shape)

    def _linear_map(self, step: Step, x):
        """A per-example linear op ``fn`` (its squared map: ``factor``·fn, as its coefficients are 0, 1 or 1/k)."""
        def fn(v: Tensor) -> Tensor:
            return _fold(step.fn, v)

        return self._propagate(x, fn, lambda v: fn(v) * step.factor, self._input_shape(step))

    def _input_shape(self, step: Step) -> tuple[int, ...]:
        source = step.inputs[0]
        return self.bank.network.input_shape if source == INPUT else self.bank.network.steps[source].shape

    # ------------------------------------------------------------------ the steps with statistics
    def _linear(self, step: Step, dx):
        module, key, shape = step.module, step.node.name, self._input_shape(step)
        path = self.bank.paths[id(module)]
        weight, bias = module.weight, module.bias
        delta_w = weight - self.bank.snapshot[f"{path}.weight"]  # [T, o, i]
        middle = (1,) * (len(shape) - 1)
        if bias is None:
            delta_b = weight.new_zeros(self.bank.num_tasks, *middle, weight.shape[0])
        else:
            delta_b = (bias - self.bank.snapshot[f"{path}.bias"]).reshape(-1, *middle, weight.shape[0])
        y = self._propagate(dx, lambda v: v @ weight.T, lambda v: v @ weight.pow(2).T, shape)
        return self._plus_noise(y, key, lambda v: per_task(v, delta_w), lambda v: per_task(v, delta_w.pow(2)),
                                delta_b, shape)

    def _conv(self, step: Step, dx):
        module, shape = step.module, self._input_shape(step)
        path, t = self.bank.paths[id(module)], self.bank.num_tasks
        weight, bias = module.weight, module.bias
        delta_w = weight - self.bank.snapshot[f"{path}.weight"]  # [T, O, C/g, k, k]
        delta_b = weight.new_zeros(t, weight.shape[0]) if bias is None else bias - self.bank.snapshot[f"{path}.bias"]

        def conv(v: Tensor, w: Tensor, groups: int) -> Tensor:
            out = F.conv2d(v, w, None, module.stride, module.padding, module.dilation, groups)
            return out

        def shared(w: Tensor) -> Map:
            return lambda v: _fold(lambda u: conv(u, w, module.groups), v)

        def per_task_conv(w: Tensor) -> Map:
            def fn(v: Tensor) -> Tensor:  # [T, B, C, H, W] → one grouped convolution over the T tasks
                b = v.shape[1]
                out = conv(v.transpose(0, 1).reshape(b, -1, *v.shape[3:]), w.reshape(-1, *w.shape[2:]), t * module.groups)
                return out.reshape(b, t, -1, *out.shape[2:]).transpose(0, 1)
            return fn

        y = self._propagate(dx, shared(weight), shared(weight.pow(2)), shape)
        return self._plus_noise(y, step.node.name, per_task_conv(delta_w), per_task_conv(delta_w.pow(2)),
                                delta_b[:, :, None, None], shape)

    def _affine(self, step: Step, dx):
        """``fn(x, params)`` affine in x: ``fn(dx, 0)`` plus the change of ``fn(0, params)`` per task."""
        params = dict(self.bank.network.model.named_parameters())
        zero_params = {n: torch.zeros_like(params[n]) for n in step.extra["params"]}
        shape = self._input_shape(step)
        y = self._propagate(dx, lambda v: _fold(lambda u: step.fn(u, zero_params), v),
                            lambda v: _fold(lambda u: step.fn(u, zero_params), v), shape)
        zero = params[step.extra["params"][0]].new_zeros(EXAMPLE_BATCH, *shape)
        now = step.fn(zero, params)[0]
        shift = torch.stack([now - step.fn(zero, {n: self.bank.snapshot[n][t] for n in step.extra["params"]})[0]
                             for t in range(self.bank.num_tasks)])  # [T, *f]
        if y is None:
            if self.mode == "stochastic":
                return shift.unsqueeze(1).expand(-1, self.samples, *shift.shape[1:])
            flat = shift.reshape(shift.shape[0], -1)
            spread = {"cov": flat.new_zeros(*flat.shape, flat.shape[1])} if self.full else {"var": torch.zeros_like(shift)}
            return Moments(shift, **spread)
        if isinstance(y, Moments):
            return Moments(y.mean + shift, cov=y.cov, var=y.var)
        return y + shift.unsqueeze(1)

    def _activation(self, step: Step, dx):
        key = step.node.name
        mean = self.stats[f"{key}.rate" if step.relu else f"{key}.jacobian"]  # [T, *f]
        if self.mode == "stochastic":
            if step.relu:
                gates = (self.noise.uniform(dx.shape) < mean.unsqueeze(1)).to(dx.dtype)
            else:
                gates = mean.unsqueeze(1) + self.noise.normal(dx.shape) * self.derived[f"{key}.jacobian_std"].unsqueeze(1)
            return gates * dx
        second = mean if step.relu else self.stats[f"{key}.jacobian_sq"]
        spread = (second - mean * mean).clamp_min(0)  # Var[g]
        out_mean = mean * dx.mean
        if self.full:
            flat = mean.reshape(mean.shape[0], -1)
            diagonal = torch.diagonal(dx.cov, dim1=1, dim2=2)
            extra = spread.reshape(flat.shape) * (diagonal + dx.mean.reshape(flat.shape).pow(2))
            cov = flat.unsqueeze(2) * dx.cov * flat.unsqueeze(1) + torch.diag_embed(extra)
            return Moments(out_mean, cov=cov)
        return Moments(out_mean, var=mean * mean * dx.var + spread * (dx.var + dx.mean.pow(2)))

    def _layernorm(self, step: Step, dx):
        module, key, shape = step.module, step.node.name, self._input_shape(step)
        path = self.bank.paths[id(module)]
        jacobian = self.derived[f"{key}.normalization"].unsqueeze(1)  # [T, 1, *p, d, d]
        gamma, beta = module.weight, module.bias
        middle = (1,) * (len(shape) - 1)
        delta_gamma = (gamma - self.bank.snapshot[f"{path}.weight"]).reshape(-1, 1, *middle, shape[-1])
        delta_beta = (beta - self.bank.snapshot[f"{path}.bias"]).reshape(-1, *middle, shape[-1])

        def fn(v: Tensor) -> Tensor:
            return (jacobian @ v.unsqueeze(-1)).squeeze(-1) * gamma

        def fn_squared(v: Tensor) -> Tensor:
            return (jacobian.pow(2) @ v.unsqueeze(-1)).squeeze(-1) * gamma.pow(2)

        y = self._propagate(dx, fn, fn_squared, shape)
        return self._plus_noise(y, f"{key}.normalized", lambda v: v * delta_gamma,
                                lambda v: v * delta_gamma.pow(2), delta_beta, shape)


def _fold(fn: Map, v: Tensor) -> Tensor:
    """A per-example op ``fn [N, *f] → [N, *f']`` on ``v [T, B, *f]`` (T·B examples) → ``[T, B, *f']``."""
    out = fn(v.reshape(-1, *v.shape[2:]))
    return out.reshape(*v.shape[:2], *out.shape[1:])
