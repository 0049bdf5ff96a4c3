"""data.validation_fraction: a per-class validation split of each task's training data replaces the test set."""
import pytest
import torch

from laftr_cl.benchmarks import build_benchmark

SYNTHETIC = {"train_per_class": 10, "test_per_class": 3}


def _build(name="split_mnist", fraction=0.0, **kwargs):
    return build_benchmark(name, root="unused", synthetic=SYNTHETIC, validation_fraction=fraction, **kwargs)


def _rows(x):
    return {tuple(row.tolist()) for row in x.flatten(1)}


@pytest.mark.parametrize("name", ["split_mnist", "permuted_mnist"])
def test_validation_is_held_out_of_training_per_class_and_replaces_the_test_set(name):
    plain = _build(name, num_experiences=2)
    split = _build(name, 0.2, num_experiences=2)
    assert split.extra["eval_split"] == "validation" and "eval_split" not in plain.extra
    for before, train, held, test in zip(plain.train, split.train, split.test, plain.test):
        assert train.y.shape[0] + held.y.shape[0] == before.y.shape[0]
        for label in before.y.unique().tolist():
            assert int((held.y == label).sum()) == round(0.2 * int((before.y == label).sum()))
        assert _rows(train.x) | _rows(held.x) == _rows(before.x)
        assert not _rows(train.x) & _rows(held.x)
        assert not _rows(held.x) & _rows(test.x)  # nothing of the test set is evaluated
        assert train.task_label == held.task_label == before.task_label
    eval_sizes = [len(exp.dataset) for exp in split.scenario.test_stream]
    assert eval_sizes == [t.y.shape[0] for t in split.test]
    assert [len(exp.dataset) for exp in split.scenario.train_stream] == [t.y.shape[0] for t in split.train]


def test_the_split_depends_on_the_seed_only():
    a, b, c = _build(fraction=0.3, seed=1), _build(fraction=0.3, seed=1), _build(fraction=0.3, seed=2)
    assert torch.equal(a.test[0].x, b.test[0].x) and not torch.equal(a.test[0].x, c.test[0].x)


def test_fraction_zero_changes_nothing():
    plain, zero = _build(), _build(fraction=0.0)
    assert all(torch.equal(p.x, z.x) for p, z in zip(plain.test, zero.test))


@pytest.mark.parametrize("fraction, match", [
    (1.0, r"data\.validation_fraction=1\.0 must be a number in \[0, 1\)"),
    (-0.1, r"data\.validation_fraction=-0\.1"),
    ("0.1", r"data\.validation_fraction='0\.1'"),
    (0.95, r"leaves no training example of class 0"),
])
def test_bad_fractions_name_the_setting(fraction, match):
    with pytest.raises(ValueError, match=match):
        _build(fraction=fraction)
