"""Which outputs a function-space regularizer compares: the task's head (task-incremental), every class
seen so far (one head, class-incremental), or all outputs (one head, every class seen: domain-incremental)."""
from __future__ import annotations

from types import SimpleNamespace

from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.regularizers.fsd_plugin import head_units


def strategy(model, task_label, seen):
    return SimpleNamespace(model=model, experience=SimpleNamespace(task_label=task_label, classes_seen_so_far=set(seen)))


def test_one_head_compares_the_classes_seen_so_far():
    model = TaskMaskedClassifier(MLP(4, [3], 10))
    assert head_units(strategy(model, 0, {0, 1})) == [0, 1]
    assert head_units(strategy(model, 0, {3, 0, 2, 1})) == [0, 1, 2, 3]
    assert head_units(strategy(model, 0, range(10))) is None  # every output: nothing to select


def test_a_head_per_task_compares_that_tasks_head():
    model = TaskMaskedClassifier(MLP(4, [3], 10), [[0, 1], [2, 3]])
    assert head_units(strategy(model, 1, {0, 1, 2, 3})) == [2, 3]
