"""Corrupt data files, foreign or damaged checkpoints and ill-fitting summaries: clear errors."""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest
import torch

from laftr_cl.benchmarks import BenchmarkDataNotFoundError, build_benchmark
from laftr_cl.config.checks import ConfigError
from laftr_cl.models import MLP, TaskMaskedClassifier
from laftr_cl.regularizers.laftr import LaftrPlugin
from laftr_cl.run.checkpoint import CheckpointError
from laftr_cl.run.folder import RunFolder
from reliability.fault_runs import FOUR_TASKS, REGULARIZERS, run_here

TWO_TASKS_LAFTR = [*FOUR_TASKS, "benchmark.num_experiences=2", *REGULARIZERS["laftr"]]


# ---------------------------------------------------------------- dataset files
def _write_idx(path: Path, data: bytes, dims: tuple[int, ...]) -> None:
    path.write_bytes(bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}i", *dims) + data)


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    """A valid tiny MNIST in torchvision's layout: 20 training and 10 test digits, labels 0..9."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, count in (("train", 20), ("t10k", 10)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", bytes(range(256)) * (count * 784 // 256)
                   + bytes(count * 784 % 256), (count, 28, 28))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", bytes(i % 10 for i in range(count)), (count,))
    return tmp_path


def test_valid_tiny_mnist_loads(mnist_root):
    assert build_benchmark("split_mnist", root=str(mnist_root)).num_experiences == 5


@pytest.mark.parametrize("damage, problem", [
    (lambda data: data[:5000], "is truncated: its header announces 20 x 28 x 28 bytes of data "
                               "(15696 bytes in all) but it has 5000 bytes"),
    (lambda data: data + bytes(100), "is longer than its header says"),
    (lambda data: b"GIF89a" + data[6:], "is not an idx file of unsigned bytes (wrong magic number)"),
    (lambda data: data[:10], "is truncated inside its header"),
])
def test_damaged_idx_file_is_named_with_what_is_wrong(mnist_root, damage, problem):
    path = mnist_root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(BenchmarkDataNotFoundError) as caught:
        build_benchmark("split_mnist", root=str(mnist_root))
    assert f"{path} {problem}" in str(caught.value) and "\n" not in str(caught.value)


def test_labels_out_of_range_are_an_error_not_a_wrong_result(mnist_root):
    _write_idx(mnist_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", bytes([3] * 9 + [200]), (10,))
    with pytest.raises(BenchmarkDataNotFoundError, match=r"their test split is corrupt: 1 labels outside "
                                                         r"0\.\.9 \(e\.g\. 200\)"):
        build_benchmark("split_mnist", root=str(mnist_root))


def test_image_and_label_counts_must_agree(mnist_root):
    _write_idx(mnist_root / "MNIST" / "raw" / "train-labels-idx1-ubyte", bytes(range(10)) * 3, (30,))
    with pytest.raises(BenchmarkDataNotFoundError,
                       match="their training split is corrupt: 20 images but 30 labels"):
        build_benchmark("split_mnist", root=str(mnist_root))


# ---------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def finished_laftr_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a finished 2-task LAFTR run (its checkpoint holds two summaries)."""
    folder = tmp_path_factory.mktemp("laftr")
    run_here(TWO_TASKS_LAFTR, folder)
    return folder


@pytest.fixture
def run_copy(finished_laftr_run: Path, tmp_path: Path) -> Path:
    shutil.copy(finished_laftr_run / RunFolder.CHECKPOINT, tmp_path / RunFolder.CHECKPOINT)
    return tmp_path


def _edit_checkpoint(folder: Path, edit) -> None:
    path = folder / RunFolder.CHECKPOINT
    saved = torch.load(path, weights_only=False)
    edit(saved)
    torch.save(saved, path)


def test_truncated_checkpoint_is_refused_naming_the_file(run_copy):
    path = run_copy / RunFolder.CHECKPOINT
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=rf"The checkpoint {path} cannot be read .*truncated"):
        run_here(TWO_TASKS_LAFTR, run_copy)


def test_a_file_that_is_no_checkpoint_is_refused(run_copy):
    torch.save([1, 2, 3], run_copy / RunFolder.CHECKPOINT)
    with pytest.raises(CheckpointError, match="is not a laftr-cl checkpoint"):
        run_here(TWO_TASKS_LAFTR, run_copy)


def test_checkpoint_of_another_config_names_the_settings(run_copy):
    with pytest.raises(CheckpointError) as caught:
        run_here([*TWO_TASKS_LAFTR, "train.epochs=2", "seed=5"], run_copy)
    message = str(caught.value)
    assert "another config" in message and "\n" not in message
    assert "seed: checkpoint 0, this run 5" in message and "train.epochs: checkpoint 1, this run 2" in message


def test_settings_that_may_change_on_resume_are_accepted(run_copy):
    resumable = ["logger=[csv,text]", "num_workers=1", "guard.check_every=7"]
    payload = run_here([*TWO_TASKS_LAFTR, *resumable], run_copy)
    assert payload["complete"]


@pytest.mark.parametrize("field, value, pattern", [
    ("laftr_cl_version", "0.0.1", r"written by laftr-cl 0\.0\.1 \(checkpoint format 1\); this is laftr-cl"),
    ("format", 99, r"written by laftr-cl .* \(checkpoint format 99\)"),
    ("device", "cuda", r"written by a run on cuda but this run is on cpu: resume it with device=cuda"),
])
def test_checkpoint_of_another_version_or_device_is_refused(run_copy, field, value, pattern):
    _edit_checkpoint(run_copy, lambda saved: saved.__setitem__(field, value))
    with pytest.raises(CheckpointError, match=pattern):
        run_here(TWO_TASKS_LAFTR, run_copy)


def test_summaries_that_do_not_fit_the_model_are_refused(finished_laftr_run):
    state = torch.load(finished_laftr_run / RunFolder.CHECKPOINT, weights_only=False)["state"]["regularizer"]
    wider = TaskMaskedClassifier(MLP(784, [32], 10))
    with pytest.raises(ValueError, match=r"summaries of tasks \[0, 1\] do not fit the model "
                                         r"TaskMaskedClassifier: .*another architecture"):
        LaftrPlugin().load_state_dict(state, model=wider)


def test_checkpoint_with_summaries_of_another_architecture_is_refused(run_copy):
    def narrow_rates(saved):
        for summary in saved["state"]["regularizer"]["summaries"].values():
            summary["firing_rates"] = [rates[:, :8] for rates in summary["firing_rates"]]

    _edit_checkpoint(run_copy, narrow_rates)
    with pytest.raises(CheckpointError, match=r"does not fit this run \(ValueError: The LAFTR summaries"):
        run_here(TWO_TASKS_LAFTR, run_copy)


def test_resume_true_without_a_checkpoint_says_how_to_point_at_one(tmp_path):
    with pytest.raises(CheckpointError) as caught:
        run_here([*TWO_TASKS_LAFTR, "resume=true"], tmp_path)
    message = str(caught.value)
    assert message.startswith(f"resume=true but there is no checkpoint {tmp_path / RunFolder.CHECKPOINT}")
    assert "hydra.run.dir" in message and "\n" not in message


@pytest.mark.parametrize("override, setting", [
    ("resume=maybe", "resume"),
    ("checkpoint.every_n_epochs=-1", "checkpoint.every_n_epochs"),
    ("checkpoint.enabled=sometimes", "checkpoint.enabled"),
    ("guard.check_every=0", "guard.check_every"),
    ("guard.max_regularizer_ratio=0", "guard.max_regularizer_ratio"),
])
def test_bad_reliability_settings_name_the_setting(override, setting, tmp_path):
    with pytest.raises(ConfigError, match=rf"Invalid setting {setting.replace('.', '[.]')}="):
        run_here([*FOUR_TASKS, override], tmp_path)
