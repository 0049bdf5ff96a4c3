"""Framework-free LAFTR core (imports torch only): summaries, input models, estimators, metrics.

Typical use::

    summary = summarize(model, (x, y), inputs="full", output_units=[0, 1])  # after task t
    loss = ce + lam * fsd(model, summaries, estimator="bernoulli", num_samples=40)  # task k > t

Modules: ``summary`` (summarize, TaskSummary), ``input_models`` (full, diag, lowrank, coreset),
``trace`` + ``view_builder`` + ``gated_view`` + ``ops``/``graph_ops`` (the network read from its
torch.fx graph), ``bank`` (summaries stacked once for
a batched pass), ``estimators`` (bernoulli, relu, exact), ``metrics`` (l2_prob, kl, l2_logit),
``api`` (fsd, true_fsd), ``noise`` (all random draws); ``liftr`` (the per-layer moment method, LIFTR).

Design choices (spec §2–§6 leaves them open):

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
from laftr_cl.fsd.api import fsd, true_fsd
from laftr_cl.fsd.bank import ANCHORS, CLASS_WEIGHTS, SummaryBank
from laftr_cl.fsd.estimators import ESTIMATORS, GATE_DRAWS, Estimator
from laftr_cl.fsd.gated_view import SUPPORTED_LAYERS, GatedView
from laftr_cl.fsd.input_models import (
    INPUT_MODELS,
    Coreset,
    DiagGaussian,
    FullGaussian,
    InputModel,
    LowRankGaussian,
)
from laftr_cl.fsd.liftr import COVARIANCES as LIFTR_COVARIANCES
from laftr_cl.fsd.liftr import MODES as LIFTR_MODES
from laftr_cl.fsd.metrics import METRICS
from laftr_cl.fsd.noise import Noise
from laftr_cl.fsd.summary import RATES, TaskSummary, summarize

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
    "LIFTR_MODES",
    "LIFTR_COVARIANCES",
]
