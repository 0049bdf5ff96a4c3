"""Runs → comparison groups: same resolved config but the seed, named by what differs between groups.

A run is a ``results.json``-shaped dict (``config``: the resolved run config). Its group key is the
flattened config without :data:`laftr_cl.config.settings.NOT_GROUPED` (seed, paths, logger,
checkpoint/resume, device and other plumbing), with ``data.root`` replaced by the dataset's name
(:func:`dataset_label`). Runs in one group differ only in their seed.

:func:`seed_groups` and :func:`seed_stat` are the one grouping over seeds and the one mean ± std:
``laftr-cl-compare``, the frontier (:mod:`laftr_cl.reporting.frontier`) and the influence studies'
aggregate use them.

Groups are named by the settings that differ between them (:func:`differing_settings`): a
setting under ``benchmark``, ``model``, ``optimizer``, ``regularizer`` or ``batchnorm`` counts only between groups
with the same choice of that node (its ``name``, else its ``_target_``), so that EWC's
``ewc_lambda`` is no column beside LAFTR's ``fsd_lambda`` unless two EWC groups differ in it. A
combination's ``regularizer.name`` is its method name (``laftr+replay``), and its parts' settings
(``combine.<part>.*``) count only between groups of the same combination.
"""
from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, TypeVar

from laftr_cl.config.settings import NOT_GROUPED, flatten, without
from laftr_cl.regularizers.combination import COMBINE, run_method_name

Run = dict[str, Any]

DATASETS = {"split_mnist": "MNIST", "permuted_mnist": "MNIST", "split_fmnist": "Fashion-MNIST",
            "split_cifar10": "CIFAR-10", "split_cifar100": "CIFAR-100", "split_cifar110_6": "CIFAR-10/100"}
"""The dataset each benchmark splits (what a table calls it)."""

FIXED = ("benchmark.name", "dataset", "regularizer.name")
"""Settings every table shows, differing or not."""

SETTINGS_ADDED = ({"batchnorm.name": "track", "batchnorm.plugin": None},)
"""Settings that runs of older laftr-cl versions do not record, each with the values that do what those
runs did (``batchnorm=track``: PyTorch's own BatchNorm behaviour): such a run is grouped as if it held them."""

CHOICE_NODES = ("benchmark", "model", "optimizer", "regularizer", "batchnorm")
"""Config nodes picked as a whole (a config group): their other settings belong to the choice."""


DUPLICATES_FIX = ("Compare one sweep folder at a time, delete the extra runs, or pass --duplicates latest "
                  "to keep the newest run of each seed (the table then marks the group).")

R = TypeVar("R")


class DuplicateSeedsError(ValueError):
    """A group holds two runs with the same seed; the message names them and the way out."""


def dataset_label(config: dict[str, Any]) -> str:
    """The data a run used, as a user would say it: ``MNIST-5k``, ``Fashion-MNIST``,
    ``synthetic MNIST-shaped``; `` (validation 10%)`` when scored on a held-out validation split.

    The name comes from the benchmark's dataset and the folder given as ``data.root``: a folder
    named after the dataset with a suffix (``mnist-5k``) names a subset of it.
    """
    data = config.get("data") or {}
    family = DATASETS.get((config.get("benchmark") or {}).get("name", ""), "")
    family = family or str((config.get("benchmark") or {}).get("name", "?"))
    if data.get("synthetic"):
        label = f"synthetic {family}-shaped"
    else:
        label = family
        folder = Path(str(data.get("root") or "")).name.lower()
        for slug in {family.lower(), family.lower().replace("-", ""), "fmnist"}:
            if folder.startswith(slug) and len(folder) > len(slug) and folder[len(slug)] in "-_":
                label = family + "-" + folder[len(slug) + 1:]
                break
    fraction = data.get("validation_fraction") or 0
    return f"{label} (validation {100 * fraction:g}%)" if fraction > 0 else label


def group_key(run: Run) -> dict[str, Any]:
    """The settings that define a run's group (flattened, see the module docstring). A setting named
    ``seed`` that holds the run's seed (``regularizer.plugin.seed: ${seed}``) goes with the seed."""
    config = run["config"]
    flat = without(flatten(config), NOT_GROUPED + ("data.validation_fraction",))
    flat = {key: value for key, value in flat.items()
            if not (key.rsplit(".", 1)[-1] == "seed" and value == config.get("seed"))}
    flat["dataset"] = dataset_label(config)
    flat["regularizer.name"] = run_method_name(config)  # laftr+replay for a combination
    if flat.get(COMBINE) == {}:
        del flat[COMBINE]  # no further part: the same group as a run from before combinations
    for added in SETTINGS_ADDED:
        if not any(key in flat for key in added):
            flat.update(added)  # a run from before the setting: what it did, said the way runs say it now
    return flat


class Stat(NamedTuple):
    """One metric over a group's seeds: mean, sample standard deviation (0 for one seed), min, n."""

    mean: float
    std: float
    min: float
    n: int


def seed_stat(values: Iterable[float | None]) -> Stat | None:
    """Mean ± std (and min, n) of the seeds' values; a missing or non-finite value is left out
    (None when none is left). Every mean ± std of laftr-cl's tables comes from here."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return Stat(statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else 0.0, min(finite), len(finite))


def seed_groups(runs: Iterable[R], key: Callable[[R], Any]) -> list[tuple[Any, list[R]]]:
    """``[(key, runs)]``: the runs with equal ``key(run)`` (their settings but the seed, compared as
    JSON), groups and runs in first-seen order. Every grouping of runs over seeds comes from here."""
    groups: dict[str, tuple[Any, list[R]]] = {}
    for run in runs:
        settings = key(run)
        groups.setdefault(json.dumps(settings, sort_keys=True, default=str), (settings, []))[1].append(run)
    return list(groups.values())


def by_seed(members: Iterable[R], seed: Callable[[R], Any]) -> dict[Any, list[R]]:
    """The runs of one group by their seed (a list longer than one: a repeated seed)."""
    seeds: dict[Any, list[R]] = defaultdict(list)
    for run in members:
        seeds[seed(run)].append(run)
    return dict(seeds)


def refuse_repeated_seeds(members: Iterable[R], seed: Callable[[R], Any], where: Callable[[R], str], what: str,
                          fix: str) -> None:
    """Raises :class:`DuplicateSeedsError` when a seed appears twice among ``members`` (``what``: the
    group, in words; ``fix``: the way out)."""
    repeated = {s: rs for s, rs in by_seed(members, seed).items() if len(rs) > 1}
    if repeated:
        first, rs = next(iter(repeated.items()))
        raise DuplicateSeedsError(
            f"{len(rs)} runs of {what} have seed {first} ({', '.join(where(r) for r in rs)}); averaging them would "
            f"count one seed {len(rs)} times ({len(repeated)} seed(s) are repeated in this group). {fix}")


def _where(run: Run) -> str:
    return str(run.get("path", run.get("name", "a wandb run")))


def group_runs(runs: Iterable[Run], *, duplicates: str = "refuse") -> list[tuple[dict[str, Any], list[Run]]]:
    """``[(settings, runs)]``, one entry per group (:func:`group_key`), runs sorted by seed.

    ``duplicates``: ``refuse`` raises :class:`DuplicateSeedsError` when a group holds a seed twice;
    ``latest`` keeps the last of them (runs come in load order, oldest first) and notes on the kept
    run how many it replaced (see :func:`dropped_duplicates`).
    """
    out = []
    for settings, members in seed_groups(runs, group_key):
        if duplicates == "refuse":
            refuse_repeated_seeds(members, _seed, _where, "the same settings", DUPLICATES_FIX)
        seeds = by_seed(members, _seed)
        kept = [rs[-1] for rs in seeds.values()]
        for run in kept:
            run["_dropped_duplicates"] = len(seeds[_seed(run)]) - 1
        out.append((settings, sorted(kept, key=lambda r: str(_seed(r)))))
    return out


def _seed(run: Run) -> Any:
    return run["config"].get("seed")


def dropped_duplicates(members: list[Run]) -> int:
    """How many runs :func:`group_runs` left out of a group as repeated seeds."""
    return sum(run.get("_dropped_duplicates", 0) for run in members)


def _choice(settings: dict[str, Any], node: str) -> Any:
    return settings.get(f"{node}.name", settings.get(f"{node}._target_"))





def differing_settings(groups: list[dict[str, Any]]) -> list[str]:
    """The settings that tell ``groups`` (their settings dicts) apart, in :data:`FIXED` order then
    alphabetically; a setting of a choice node only between groups of the same choice."""
    keys = sorted({key for settings in groups for key in settings} - set(FIXED))
    differ = []
    for key in keys:
        node = key.split(".", 1)[0]
        if node == COMBINE:  # a part of a combination: compared between groups of that combination only
            node = "regularizer"
            by_choice = True
        else:
            by_choice = node in CHOICE_NODES and key not in (f"{node}.name", f"{node}._target_")
        buckets: dict[str, set[str]] = defaultdict(set)
        for settings in groups:
            choice = json.dumps(_choice(settings, node), default=str) if by_choice else ""
            buckets[choice].add(json.dumps(settings.get(key, "<absent>"), default=str))
        if any(len(values) > 1 for values in buckets.values()):
            differ.append(key)
    return list(FIXED) + differ


def row_label(row: dict[str, Any], *, include: Iterable[str] = ("regularizer.name",)) -> str:
    """``ewc, benchmark.scenario=class`` — the regularizer and the row's other differing settings."""
    parts = [str(row["settings"][key]) for key in include]
    parts += [f"{key}={row['settings'][key]}" for key in row["columns"]
              if key not in ("benchmark.name", "dataset", "regularizer.name") and row["settings"][key] is not None]
    return ", ".join(parts)
