"""``train.compile``: the whole training step — forward, cross-entropy, λ·FSD, backward, optimizer
step — as one compiled function (``compile``) or one replayed CUDA graph (``cudagraph``).

* ``none``: Avalanche's own loop, every plugin hook called (the reference).
* ``compile``: ``torch.compile`` of forward + loss + regularizer (AOTAutograd compiles its
  backward too) and of the optimizer step; works on CPU and CUDA.
* ``cudagraph`` (CUDA only): the eager step captured once per task in a CUDA graph after
  :data:`CUDAGRAPH_WARMUP` eager steps and replayed for every later minibatch — one launch per step.
  The optimizer is made capturable (Adam's step count lives on the device), the FSD's random
  draws come from the device's generator, whose state the graph advances on every replay.

Both need fixed shapes: the strategy drops each epoch's last partial minibatch, and a task with
no full minibatch is refused before training (:mod:`laftr_cl.config.compile_checks`). The regularizer
is inside the step, so plugins that act between forward and update (Avalanche's ``before_backward``
and the like: EWC, SI, LwF, MAS) cannot be used with them; the step's regularizer is any plugin
with ``penalty(model)`` / ``record_penalty(value)`` / ``prepare(model)`` (LAFTR and the FSD
baselines). Which regularizers can run here is declared by their spec (``compiled_step``), which the
config checks read before anything runs; :func:`check_step_settings` checks the plugins a script
hands the strategy itself. The NaN guard receives each step's loss terms on the device, as in the eager loop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import torch
from avalanche.core import SupervisedPlugin
from avalanche.models.utils import avalanche_forward
from torch import Tensor, nn

from laftr_cl.config.options import COMPILE_MODES
from laftr_cl.regularizers.specs import compiled_step_names
from laftr_cl.training.guards import TrainingGuard
from laftr_cl.training.precision import autocast

CUDAGRAPH_WARMUP = 3
"""Eager steps (on real minibatches, on a side stream) before a task's step is captured."""
STEP_HOOKS = ("before_forward", "after_forward", "before_backward", "after_backward", "before_update", "after_update")
RECOMPILE_LIMIT = 64
"""Dynamo recompiles the step once per task (the regularizer holds one more summary): 8, its
default limit, would fall back to eager from the ninth task on."""


class StepPenalty(Protocol):
    """A regularizer that the compiled step calls: ``loss = CE + fsd_lambda · penalty(model)``."""

    fsd_lambda: float

    def prepare(self, model: nn.Module) -> None: ...

    def penalty(self, model: nn.Module) -> Tensor | None: ...

    def record_penalty(self, value: Tensor) -> None: ...


def is_step_penalty(plugin: Any) -> bool:
    return all(hasattr(plugin, name) for name in ("prepare", "penalty", "record_penalty", "fsd_lambda"))


def check_step_settings(mode: str, device: torch.device, plugins: Sequence[Any]) -> None:
    """ValueError naming the setting when ``train.compile=mode`` cannot run with ``plugins`` on ``device``."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"train.compile={mode!r} is not a mode: choose one of {', '.join(COMPILE_MODES)}.")
    if mode == "cudagraph" and device.type != "cuda":
        raise ValueError(f"train.compile=cudagraph captures the step in a CUDA graph but this run is on {device}: "
                         "use train.compile=compile (or none) on a CPU, or device=cuda.")
    if mode == "none":
        return
    for plugin in plugins:
        if isinstance(plugin, TrainingGuard) or is_step_penalty(plugin):
            continue
        hooks = [h for h in STEP_HOOKS if getattr(type(plugin), h, None) is not getattr(SupervisedPlugin, h)]
        if hooks:
            raise ValueError(
                f"train.compile={mode} runs forward, loss, backward and update as one step, but the plugin "
                f"{type(plugin).__name__} acts inside the step ({', '.join(hooks)}): use train.compile=none with "
                f"this regularizer (compiled steps support regularizer={', '.join(compiled_step_names())}).")


@dataclass
class StepOutput:
    """One step's results, on the device: logits ``[B, C]``, cross-entropy and total loss (0-d),
    and each penalty plugin's term before λ (0-d, or None where it had nothing to regularize)."""

    logits: Tensor
    cross_entropy: Tensor
    total: Tensor
    terms: list[Tensor | None]


class TrainStep:
    """The training step of one task (build a new one when the regularizer's summaries change)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, criterion: nn.Module,
                 penalties: Sequence[StepPenalty], *, mode: str, precision: str, device: torch.device) -> None:
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.penalties = list(penalties)
        self.mode, self.precision, self.device = mode, precision, device
        for plugin in self.penalties:
            plugin.prepare(model)
        if mode == "compile":
            _raise_recompile_limit()
            self._losses = torch.compile(self._eager_losses, dynamic=False)
            self._update = torch.compile(self._eager_update, dynamic=False)
        else:
            self._losses, self._update = self._eager_losses, self._eager_update
        if mode == "cudagraph":
            _make_capturable(optimizer)
        self._graph: torch.cuda.CUDAGraph | None = None
        self._static: tuple[tuple[Tensor, ...], StepOutput] | None = None
        self._warm = 0

    def __call__(self, x: Tensor, y: Tensor, t: Tensor) -> StepOutput:
        """Trains on ``x [B, ...]``, ``y [B]``, task labels ``t [B]``; returns the step's outputs."""
        if self.mode != "cudagraph":
            return self._step(x, y, t)
        return self._graph_step(x, y, t)

    # ------------------------------------------------------------------ the step
    def _eager_losses(self, x: Tensor, y: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor, list[Tensor | None]]:
        with autocast(self.device, self.precision):
            logits = avalanche_forward(self.model, x, t)
            cross_entropy = self.criterion(logits, y)
            terms = [plugin.penalty(self.model) for plugin in self.penalties]
        total = cross_entropy
        for plugin, term in zip(self.penalties, terms):
            if term is not None:
                total = total + plugin.fsd_lambda * term
        return logits, cross_entropy, total, terms

    def _eager_update(self) -> None:
        self.optimizer.step()

    def _step(self, x: Tensor, y: Tensor, t: Tensor) -> StepOutput:
        self.optimizer.zero_grad(set_to_none=True)
        logits, cross_entropy, total, terms = self._losses(x, y, t)
        total.backward()
        self._update()
        return StepOutput(logits.detach(), cross_entropy.detach(), total.detach(),
                          [None if term is None else term.detach() for term in terms])

    # ------------------------------------------------------------------ CUDA graph
    def _graph_step(self, x: Tensor, y: Tensor, t: Tensor) -> StepOutput:
        if self._graph is None and self._warm < CUDAGRAPH_WARMUP:
            self._warm += 1
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                out = self._step(x, y, t)
            torch.cuda.current_stream(self.device).wait_stream(side)
            return out
        if self._graph is None:
            self._capture(x, y, t)
        inputs, out = self._static
        if x.shape != inputs[0].shape:
            raise ValueError(f"train.compile=cudagraph needs one minibatch shape per task: captured "
                             f"{tuple(inputs[0].shape)}, got {tuple(x.shape)}.")
        for static, value in zip(inputs, (x, y, t)):
            static.copy_(value)
        self._graph.replay()
        return StepOutput(out.logits.clone(), out.cross_entropy.clone(), out.total.clone(),
                          [None if term is None else term.clone() for term in out.terms])

    def _capture(self, x: Tensor, y: Tensor, t: Tensor) -> None:
        inputs = (x.clone(), y.clone(), t.clone())
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            logits, cross_entropy, total, terms = self._eager_losses(*inputs)
            total.backward()
            self.optimizer.step()
        self._graph = graph
        self._static = (inputs, StepOutput(logits.detach(), cross_entropy.detach(), total.detach(),
                                           [None if term is None else term.detach() for term in terms]))


def run_compiled_epoch(strategy: Any, step: TrainStep, **kwargs: Any) -> None:
    """One epoch of ``strategy`` through ``step``: the iteration hooks, then the step, then the
    guard's and the penalties' records — all without reading a value on the host."""
    guards = [p for p in strategy.plugins if isinstance(p, TrainingGuard)]
    for batch in strategy.dataloader:
        if strategy._stop_training:
            break
        strategy.mbatch = batch
        strategy._unpack_minibatch()
        strategy._before_training_iteration(**kwargs)
        out = step(strategy.mb_x, strategy.mb_y, strategy.mb_task_id)
        strategy.mb_output = out.logits
        for guard in guards:
            strategy.loss = out.cross_entropy
            guard.before_backward(strategy)
            strategy.loss = out.total
            guard.after_backward(strategy)
        strategy.loss = out.total
        for plugin, term in zip(step.penalties, out.terms):
            if term is not None:
                plugin.record_penalty(term)
        strategy._after_training_iteration(**kwargs)


def _make_capturable(optimizer: torch.optim.Optimizer) -> None:
    """Sets ``capturable`` where the optimizer has it and moves its step counts to the device."""
    for group in optimizer.param_groups:
        if "capturable" in group:
            group["capturable"] = True
            for param in group["params"]:
                state = optimizer.state.get(param, {})
                if isinstance(state.get("step"), Tensor) and state["step"].device != param.device:
                    state["step"] = state["step"].to(param.device, torch.float32)


def _raise_recompile_limit() -> None:
    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))
