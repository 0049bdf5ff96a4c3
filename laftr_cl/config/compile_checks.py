"""What ``train.compile`` needs of the config, checked before any data is read.

A compiled step (``compile``, ``cudagraph``) runs forward, loss, backward and update as one function:

* every part of the regularizer must run inside it — its spec says so (``compiled_step``,
  :mod:`laftr_cl.regularizers.specs`); EWC, SI, LwF and the like act between the loss and the update;
* it has one minibatch shape, so each epoch's last partial minibatch is dropped: a task with fewer
  training examples than one minibatch would train no step at all. :func:`task_sizes` tells, from the
  config alone, how many training examples each task holds — exactly for synthetic data
  (``data.synthetic``), at most for the real datasets (their official training sets' largest class) —
  and :func:`check_full_batches` refuses a batch larger than a task. The run checks the real sizes again
  once the data is loaded. What it knows of each benchmark is what the builders build from
  (:mod:`laftr_cl.benchmarks.catalog`).

Light on purpose (no torch): the command-line checks call it before Hydra starts.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from laftr_cl.benchmarks.catalog import (
    CATALOG,
    DATASETS,
    SYNTHETIC_TRAIN_PER_CLASS,
    held_out_count,
    resolve_task_classes,
)
from laftr_cl.config.errors import ConfigError, fail
from laftr_cl.regularizers.combination import parts
from laftr_cl.regularizers.specs import compiled_step_names, spec_for


def check_compiled_step(cfg: Any, mode: str) -> None:
    """Refuses ``train.compile=mode`` (not ``none``) with a regularizer part that acts inside the step,
    or with a task smaller than one minibatch (see the module docstring).

    Raises:
        ConfigError: naming the setting and the fix.
    """
    for part in parts(cfg):
        plugin = part.config.get("plugin")
        spec = spec_for(str(part.config.get("name")), plugin.get("_target_") if plugin is not None else None)
        if plugin is None or spec is None or spec.compiled_step:  # an undeclared one is refused by its own check
            continue
        fail("train.compile", mode, f"it runs forward, loss, backward and update as one compiled step, but "
             f"{part.path}={spec.name} acts inside the step (between the loss and the update); compiled steps "
             f"take regularizer={', '.join(compiled_step_names())}", "train.compile=none")
    sizes = task_sizes(cfg)
    if sizes is not None:
        check_full_batches(mode, sizes[0], cfg.train.batch_size, exact=sizes[1])


def task_sizes(cfg: Any) -> tuple[list[int], bool] | None:
    """The training examples of each task of the run config ``cfg`` and whether they are exact (synthetic
    data) or at most (real data); None when the config does not say (an unknown benchmark, a class
    order or task count the benchmark's own checks refuse)."""
    bench, data = cfg.benchmark, cfg.data
    facts = CATALOG.get(str(bench.get("name")))
    if facts is None:
        return None
    tasks = bench.get("num_experiences")
    tasks = facts.default_experiences if tasks is None else tasks
    order = bench.get("class_order")
    every = facts.every_class_each_task
    if every and order is not None or type(tasks) is not int or tasks < 1:
        return None
    synthetic = data.get("synthetic")
    per_class = [int(synthetic.get("train_per_class", SYNTHETIC_TRAIN_PER_CLASS))] * facts.num_classes \
        if synthetic is not None else [DATASETS[name].largest_class for name in facts.class_datasets]
    fraction = data.get("validation_fraction") or 0.0
    kept = [n - held_out_count(fraction, n) for n in per_class]
    if every:
        return [sum(kept)] * tasks, synthetic is not None
    try:
        task_classes = resolve_task_classes(str(bench.name), facts.num_classes,
                                            list(order) if isinstance(order, Sequence) else order, tasks)
    except (TypeError, ValueError):  # the benchmark's own checks answer a bad class order or task count
        return None
    return [sum(kept[c] for c in classes) for classes in task_classes], synthetic is not None


def check_full_batches(mode: str, train_sizes: Sequence[int], batch_size: int, *, exact: bool = True) -> None:
    """Refuses ``train.compile=mode`` when a task holds fewer training examples than one minibatch:
    its only (partial) minibatch would be dropped and the task would train no step at all.

    ``train_sizes``: the number of training examples of each task, in order (``exact=False``: the most
    each can hold, as known before the data is read).

    Raises:
        ConfigError: naming the smallest task and the batch size that gives it one full minibatch.
    """
    if mode == "none" or not train_sizes:
        return
    smallest = min(train_sizes)
    if smallest >= batch_size:
        return
    short = [i + 1 for i, n in enumerate(train_sizes) if n < batch_size]
    holds = "holds" if exact else "can hold at most"
    raise ConfigError(
        f"Invalid setting train.batch_size={batch_size} with train.compile={mode}: a compiled step has one "
        f"minibatch shape, so each epoch's last partial minibatch is dropped, and task(s) {short} hold fewer "
        f"training examples than one minibatch (the smallest {holds} {smallest}): they would train no step at "
        f"all. Fix it on the command line, e.g. `laftr-cl ... train.batch_size={smallest}`, or train with "
        "train.compile=none, which keeps the partial minibatch.", "train.batch_size", f"train.batch_size={smallest}")
