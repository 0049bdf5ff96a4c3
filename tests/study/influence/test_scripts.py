"""Both study scripts run end to end on synthetic data (subprocess, tiny overrides) and write their
outputs; the data loader reads the real MNIST-5k when it is present."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import REPO_ROOT, run_python, shared_dataset
from laftr_cl.study.influence.data import flip_labels, load_split

TINY = ["data=synthetic", "data.synthetic.train_per_class=6", "data.synthetic.test_per_class=2",
        "model.net.hidden_sizes=[8]", "train.epochs=2", "solver.steps=3", "methods.subset.size=10",
        "methods.laftr_coreset.coreset_size=2"]


def run_script(name: str, tmp_path, overrides: list[str]) -> dict:
    result = run_python([str(REPO_ROOT / "scripts" / name), *TINY, *overrides, f"hydra.run.dir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((tmp_path / "results.json").read_text()) | {"stdout": result.stdout}


@pytest.mark.slow
def test_influence_script_end_to_end(tmp_path):
    out = run_script("influence.py", tmp_path, ["num_train=40", "num_queries=3", "num_test=8",
                                                "select=[true_fsd,laftr_diag,laftr_coreset,fisher,subset,none]"])
    assert (tmp_path / "influence_scatter.png").stat().st_size > 0
    rows = {row["method"]: row for row in out["table"]}
    assert list(rows) == ["true_fsd", "laftr_diag", "laftr_coreset", "fisher", "subset", "none"]
    assert rows["none"]["stored_kb"] == 0
    reference = np.asarray(out["loss_changes"]["true_fsd"]).ravel()
    assert not np.allclose(np.asarray(out["loss_changes"]["laftr_diag"]).ravel(), reference)
    for name, row in rows.items():  # the table's correlations are those of the recorded loss changes
        estimate = np.asarray(out["loss_changes"][name]).ravel()
        assert row["pearson"] == pytest.approx(np.corrcoef(estimate, reference)[0, 1], abs=1e-9), name
    assert all(-1 <= row[key] <= 1 for row in rows.values() for key in ("pearson", "spearman"))
    assert torch.tensor(out["loss_changes"]["laftr_diag"]).shape == (3, 8)
    assert "| laftr_coreset |" in out["stdout"]


@pytest.mark.slow
def test_mislabeled_script_end_to_end(tmp_path):
    out = run_script("mislabeled.py", tmp_path, ["num_train=40", "num_test=8", "flip_fraction=0.2",
                                                 "select=[true_fsd,laftr_coreset,none]"])
    assert (tmp_path / "detection_curves.png").stat().st_size > 0
    assert [row["method"] for row in out["table"]] == ["random", "loss", "true_fsd", "laftr_coreset", "none"]
    assert len(out["flipped"]) == 8
    for name, found in out["curves"].items():
        assert len(found) == 41 and found[0] == 0 and found[-1] == 1, name
    assert all(0 < row["area"] < 1 for row in out["table"])


@pytest.mark.slow
def test_unknown_selection_names_the_setting(tmp_path):
    result = run_python([str(REPO_ROOT / "scripts" / "influence.py"), *TINY, "select=[none]", f"hydra.run.dir={tmp_path}"])
    assert result.returncode == 2 and "reference='true_fsd' is not among the selected methods" in result.stderr
    assert "Traceback" not in result.stderr


def test_flip_labels_changes_exactly_the_stated_fraction():
    y = torch.arange(100) % 10
    noisy, flipped = flip_labels(y, 0.1, 10, torch.Generator().manual_seed(0))
    assert int(flipped.sum()) == 10
    assert bool((noisy[flipped] != y[flipped]).all()) and bool((noisy[~flipped] == y[~flipped]).all())


def test_load_split_reads_mnist_5k():
    root = shared_dataset("mnist-5k")
    split = load_split("split_mnist", root=str(root), num_train=50, num_test=20, seed=0)
    assert split.x_train.shape == (50, 1, 28, 28) and split.x_test.shape == (20, 1, 28, 28)
    assert split.num_classes == 10 and abs(float(split.x_train.mean())) < 0.5
