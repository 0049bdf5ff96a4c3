"""The settings every builder receives, checked once, and the checks that depend on a benchmark.

Error messages name the config setting (``benchmark.scenario``, ``data.synthetic``, ...) and the
fix.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from laftr_cl.benchmarks.base import ScenarioKind
from laftr_cl.benchmarks.catalog import SYNTHETIC_TEST_PER_CLASS, SYNTHETIC_TRAIN_PER_CLASS
from laftr_cl.config.options import PREPROCESSING

_SCENARIO_MEANING = {
    "task": "task label = experience index, one head per task",
    "class": "task label 0, one head over all classes",
    "domain": "task label 0, the same classes in every experience",
}


@dataclass(frozen=True)
class SyntheticSpec:
    """Size of the random stand-in data (``data.synthetic``): samples per class and split."""

    train_per_class: int = SYNTHETIC_TRAIN_PER_CLASS
    test_per_class: int = SYNTHETIC_TEST_PER_CLASS

    @classmethod
    def from_setting(cls, setting: Mapping) -> SyntheticSpec:
        """Reads ``{train_per_class: int, test_per_class: int}``; missing keys take the defaults."""
        if not isinstance(setting, Mapping):
            raise ValueError(
                f"data.synthetic={setting!r} must be a mapping such as "
                "{train_per_class: 20, test_per_class: 10}, or null to use the real files."
            )
        known = {"train_per_class", "test_per_class"}
        unknown = sorted(set(setting) - known)
        if unknown:
            raise ValueError(
                f"data.synthetic has unknown keys {unknown}: the keys are {sorted(known)} "
                "(samples per class in the train and test split)."
            )
        spec = cls(**{key: setting[key] for key in known if key in setting})
        for key in sorted(known):
            value = getattr(spec, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"data.synthetic.{key}={value!r} must be a positive integer.")
        return spec


@dataclass(frozen=True)
class BenchmarkSettings:
    """What ``build_benchmark`` was asked for, checked independently of the benchmark.

    ``scenario``, ``num_experiences`` and ``class_order`` are None where the benchmark's default
    applies; ``synthetic`` is None for real data; ``preprocessing`` is a key of ``PREPROCESSING``.
    """

    root: str
    scenario: str | None
    num_experiences: int | None
    class_order: tuple[int, ...] | None
    seed: int
    synthetic: SyntheticSpec | None
    device: torch.device
    download: bool
    preprocessing: str = "standardize"


def make_settings(
    *,
    root: str,
    scenario: str | None,
    num_experiences: int | None,
    class_order: Sequence[int] | None,
    seed: int,
    synthetic: Mapping | None,
    device: str | torch.device,
    download: bool,
    preprocessing: str = "standardize",
) -> BenchmarkSettings:
    """Checks the benchmark-independent settings and returns them normalised."""
    if num_experiences is not None and (type(num_experiences) is not int or num_experiences < 1):
        raise ValueError(
            f"benchmark.num_experiences={num_experiences!r} must be a positive integer, or null "
            "for the benchmark's default."
        )
    if preprocessing not in PREPROCESSING:
        choices = "; ".join(f"{name} ({meaning})" for name, meaning in PREPROCESSING.items())
        raise ValueError(
            f"data.preprocessing={preprocessing!r} is not an input preprocessing: choose one of: {choices}."
        )
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} but CUDA is not available here: set device=cpu (or auto)."
        )
    return BenchmarkSettings(
        root=str(root),
        scenario=scenario,
        num_experiences=num_experiences,
        class_order=None if class_order is None else tuple(class_order),
        seed=int(seed),
        synthetic=None if synthetic is None else SyntheticSpec.from_setting(synthetic),
        device=device,
        download=bool(download),
        preprocessing=preprocessing,
    )


def resolve_scenario(
    benchmark: str, scenario: str | None, supported: Sequence[ScenarioKind]
) -> ScenarioKind:
    """``scenario``, or the benchmark's default ``supported[0]`` when it is None."""
    if scenario is None:
        return supported[0]
    if scenario not in supported:
        choices = "; ".join(f"{kind} ({_SCENARIO_MEANING[kind]})" for kind in supported)
        raise ValueError(
            f"benchmark.scenario={scenario!r} is not supported by {benchmark!r}: choose one of: "
            f"{choices}."
        )
    return scenario  # type: ignore[return-value]


def task_labels(kind: ScenarioKind, num_experiences: int) -> list[int]:
    """Each experience's task label: its index in the ``task`` scenario, else 0."""
    return list(range(num_experiences)) if kind == "task" else [0] * num_experiences
