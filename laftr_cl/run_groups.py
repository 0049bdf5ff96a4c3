"""Runs → comparison groups: same resolved config but the seed, named by what differs between groups.

A run is a ``results.json``-shaped dict (``config``: the resolved run config). Its group key is the
flattened config without :data:`laftr_cl.run_settings.NOT_GROUPED` (seed, paths, logger,
checkpoint/resume, device and other plumbing), with ``data.root`` replaced by the dataset's name
(:func:`dataset_label`). Runs in one group differ only in their seed.

Groups are named by the settings that differ between them (:func:`differing_settings`): a
setting under ``benchmark``, ``model``, ``optimizer`` or ``regularizer`` counts only between groups
with the same choice of that node (its ``name``, else its ``_target_``), so that EWC's
``ewc_lambda`` is no column beside LAFTR's ``fsd_lambda`` unless two EWC groups differ in it. A
combination's ``regularizer.name`` is its method name (``laftr+replay``), and its parts' settings
(``combine.<part>.*``) count only between groups of the same combination.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from laftr_cl.regularizers.combination import COMBINE, run_method_name
from laftr_cl.run_settings import NOT_GROUPED, flatten, without

Run = dict[str, Any]

DATASETS = {"split_mnist": "MNIST", "permuted_mnist": "MNIST", "split_fmnist": "Fashion-MNIST",
            "split_cifar10": "CIFAR-10", "split_cifar100": "CIFAR-100", "split_cifar110_6": "CIFAR-10/100"}
"""The dataset each benchmark splits (what a table calls it)."""

FIXED = ("benchmark.name", "dataset", "regularizer.name")
"""Settings every table shows, differing or not."""

CHOICE_NODES = ("benchmark", "model", "optimizer", "regularizer")
"""Config nodes picked as a whole (a config group): their other settings belong to the choice."""


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
    return flat


def _hashable(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def group_runs(runs: Iterable[Run], *, duplicates: str = "refuse") -> list[tuple[dict[str, Any], list[Run]]]:
    """``[(settings, runs)]``, one entry per group, runs sorted by seed.

    ``duplicates``: ``refuse`` raises :class:`DuplicateSeedsError` when a group holds a seed twice;
    ``latest`` keeps the last of them (runs come in load order, oldest first) and notes on the kept
    run how many it replaced (see :func:`dropped_duplicates`).
    """
    groups: dict[str, tuple[dict[str, Any], list[Run]]] = {}
    for run in runs:
        settings = group_key(run)
        groups.setdefault(_hashable(settings), (settings, []))[1].append(run)
    out = []
    for settings, members in groups.values():
        by_seed: dict[Any, list[Run]] = defaultdict(list)
        for run in members:
            by_seed[run["config"].get("seed")].append(run)
        repeated = {seed: rs for seed, rs in by_seed.items() if len(rs) > 1}
        if repeated and duplicates == "refuse":
            seed, rs = next(iter(repeated.items()))
            where = ", ".join(str(r.get("path", r.get("name", "a wandb run"))) for r in rs)
            raise DuplicateSeedsError(
                f"{len(rs)} runs of the same settings have seed {seed} ({where}); averaging them would "
                f"count one seed {len(rs)} times ({len(repeated)} seed(s) are repeated in this group). "
                "Compare one sweep folder at a time, delete the extra runs, or pass --duplicates latest "
                "to keep the newest run of each seed (the table then marks the group).")
        kept = [rs[-1] for rs in by_seed.values()]
        for run in kept:
            run["_dropped_duplicates"] = len(by_seed[run["config"].get("seed")]) - 1
        out.append((settings, sorted(kept, key=lambda r: str(r["config"].get("seed")))))
    return out


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
