"""laftr-cl: continual learning with LAFTR function-space regularization.

The names a script needs, importable from here::

    from laftr_cl import LaftrPlugin, summarize, fsd

* Avalanche plugins: :class:`LaftrPlugin`, :class:`LiftrPlugin`, :class:`CoresetFsdPlugin`, :class:`NtkFsdPlugin`,
  :class:`SynapticIntelligence`, and their base :class:`FsdRegularizerPlugin`.
* The framework-free FSD core (torch only): the package :mod:`fsd` itself (``fsd.fsd(...)``: the
  estimate from summaries; ``from laftr_cl.fsd import fsd`` for the function), :func:`summarize`
  (a task's summary), :func:`true_fsd` (on real data), :class:`TaskSummary`,
  :class:`SummaryBank`, :func:`fsd_method` / :data:`FSD_METHODS` / :class:`FsdMethod` (every FSD
  method behind one interface) and the registries of its string options (:data:`INPUT_MODELS`,
  :data:`ESTIMATORS`, :data:`METRICS`).
* Declaring a regularizer: :class:`RegularizerSpec`, :class:`Option`, :class:`Requirement`,
  :func:`register`, :func:`spec_for`, :func:`memory_bytes`; :class:`Registry` (every choice by name).
* Benchmarks and models: :func:`build_benchmark`, :data:`BENCHMARKS`, :class:`MLP`,
  :class:`CifarNet`, :class:`BnCnn`, :class:`ResNet18`, :class:`ViT`, :class:`TaskMaskedClassifier`.

Each name is imported on first use (PEP 562), so ``import laftr_cl`` (the CLI starts from it) loads
neither torch nor Avalanche.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "LaftrPlugin": "laftr_cl.regularizers.laftr",
    "CoresetFsdPlugin": "laftr_cl.regularizers.coreset_fsd",
    "NtkFsdPlugin": "laftr_cl.regularizers.ntk_fsd",
    "LiftrPlugin": "laftr_cl.regularizers.liftr",
    "SynapticIntelligence": "laftr_cl.regularizers.si",
    "FsdRegularizerPlugin": "laftr_cl.regularizers.fsd_plugin",
    "summarize": "laftr_cl.fsd",
    "fsd": "laftr_cl.fsd",  # the subpackage (a function here would shadow it for ``import laftr_cl.fsd``)
    "true_fsd": "laftr_cl.fsd",
    "TaskSummary": "laftr_cl.fsd",
    "SummaryBank": "laftr_cl.fsd",
    "INPUT_MODELS": "laftr_cl.fsd",
    "ESTIMATORS": "laftr_cl.fsd",
    "METRICS": "laftr_cl.fsd",
    "fsd_method": "laftr_cl.fsd.methods",
    "FSD_METHODS": "laftr_cl.fsd.methods",
    "FsdMethod": "laftr_cl.fsd.methods",
    "Registry": "laftr_cl.fsd.registry",
    "RegularizerSpec": "laftr_cl.regularizers.specs",
    "Option": "laftr_cl.regularizers.specs",
    "Requirement": "laftr_cl.regularizers.specs",
    "register": "laftr_cl.regularizers.specs",
    "spec_for": "laftr_cl.regularizers.specs",
    "memory_bytes": "laftr_cl.regularizers.memory",
    "build_benchmark": "laftr_cl.benchmarks",
    "BENCHMARKS": "laftr_cl.benchmarks",
    "MLP": "laftr_cl.models",
    "CifarNet": "laftr_cl.models",
    "ResNet18": "laftr_cl.models",
    "BnCnn": "laftr_cl.models",
    "ViT": "laftr_cl.models",
    "TaskMaskedClassifier": "laftr_cl.models",
}
"""Each public name's module (``fsd`` is the module itself)."""

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports on first use
    from laftr_cl import fsd
    from laftr_cl.benchmarks import BENCHMARKS, build_benchmark
    from laftr_cl.fsd import ESTIMATORS, INPUT_MODELS, METRICS, SummaryBank, TaskSummary, summarize, true_fsd
    from laftr_cl.fsd.methods import FSD_METHODS, FsdMethod, fsd_method
    from laftr_cl.fsd.registry import Registry
    from laftr_cl.models import MLP, BnCnn, CifarNet, ResNet18, TaskMaskedClassifier, ViT
    from laftr_cl.regularizers.coreset_fsd import CoresetFsdPlugin
    from laftr_cl.regularizers.fsd_plugin import FsdRegularizerPlugin
    from laftr_cl.regularizers.laftr import LaftrPlugin
    from laftr_cl.regularizers.liftr import LiftrPlugin
    from laftr_cl.regularizers.memory import memory_bytes
    from laftr_cl.regularizers.ntk_fsd import NtkFsdPlugin
    from laftr_cl.regularizers.si import SynapticIntelligence
    from laftr_cl.regularizers.specs import Option, RegularizerSpec, Requirement, register, spec_for


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
