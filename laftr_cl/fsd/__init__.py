"""Framework-free LAFTR core (imports torch only): summaries, input models, estimators, metrics.

Typical use::

    summary = summarize(model, (x, y), inputs="full", output_units=[0, 1])  # after task t
    loss = ce + lam * fsd(model, summaries, estimator="bernoulli", num_samples=40)  # task k > t

Modules: ``summary`` (summarize, TaskSummary), ``input_models`` (full, diag, lowrank, coreset),
``trace`` + ``view_builder`` + ``gated_view`` + ``ops``/``graph_ops`` (the network read from its
torch.fx graph), ``bank`` (summaries stacked once for
a batched pass), ``estimators`` (bernoulli, relu, exact), ``metrics`` (l2_prob, kl, l2_logit),
``api`` (fsd, true_fsd), ``noise`` (all random draws).

Design choices where the paper leaves them open (docs/method.md, "Choices made here"):

* Firing rates count ``s > 0`` (the reference code: ``s ≥ 0``), measured in eval mode at θ_t.
* MaxPool is linearized: the current network is read at the reference network's argmax
  positions, as ReLUs share the reference's gates (the reference code pools each separately).
* ``exact`` with a coreset uses the coreset's empirical mean and (1/m) covariance: exactly the
  moments of what the coreset's sampler draws, so ``exact`` = E[``bernoulli``] there too.
* ``anchor="latest"`` regularizes every task against the newest summary's snapshot; older
  summaries can drop theirs (``TaskSummary.without_snapshot``).
* Dropout inside the regularizer is off unless ``same_dropout``; masks follow ``gate_draws``.
* The network is read from its torch.fx graph (any ReLU network; see ``gated_view``). BatchNorm is
  linearized in eval mode: both networks normalize with the reference's running statistics.
  An op the view cannot linearize is allowed only before the first layer with parameters.
* A model whose forward takes ``task_labels`` gets one head per summary's task label; slots run
  through their own task's head (``TaskHeadOp``), all tasks still in one batched pass.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "fsd": "api", "true_fsd": "api",
    "ANCHORS": "bank", "CLASS_WEIGHTS": "bank", "SummaryBank": "bank",
    "ESTIMATORS": "estimators", "GATE_DRAWS": "estimators", "Estimator": "estimators",
    "SUPPORTED_LAYERS": "gated_view", "GatedView": "gated_view",
    "INPUT_MODELS": "input_models", "Coreset": "input_models", "DiagGaussian": "input_models",
    "FullGaussian": "input_models", "InputModel": "input_models", "LowRankGaussian": "input_models",
    "METRICS": "metrics",
    "Noise": "noise",
    "RATES": "summary", "TaskSummary": "summary", "summarize": "summary",
}
"""Each public name's module: loaded on first use (PEP 562), so importing ``laftr_cl.fsd.registry``
(which the torch-free config checks do) does not import torch."""


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "summarize",
    "fsd",
    "true_fsd",
    "TaskSummary",
    "SummaryBank",
    "GatedView",
    "Noise",
    "InputModel",
    "FullGaussian",
    "DiagGaussian",
    "LowRankGaussian",
    "Coreset",
    "Estimator",
    "INPUT_MODELS",
    "ESTIMATORS",
    "METRICS",
    "ANCHORS",
    "CLASS_WEIGHTS",
    "GATE_DRAWS",
    "RATES",
    "SUPPORTED_LAYERS",
]
