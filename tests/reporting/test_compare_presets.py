"""experiment=paper_compare_* presets: multiruns over existing regularizers × 5 seeds with the
protocol of the matching README preset."""
import pytest

from helpers import REPO_ROOT, compose_run_config

REGULARIZERS = {p.stem for p in (REPO_ROOT / "configs" / "regularizer").glob("*.yaml")}


@pytest.mark.parametrize("preset, protocol", [
    ("paper_compare_split_mnist", "split_mnist_5k"),
    ("paper_compare_split_fmnist", "split_fmnist"),
    ("paper_compare_permuted_mnist", "permuted_mnist_5k"),
])
def test_preset_is_a_multirun_over_regularizers_and_seeds_with_the_protocol(preset, protocol, tmp_path):
    cfg = compose_run_config([f"experiment={preset}"], tmp_path)
    assert cfg.hydra.mode.name == "MULTIRUN"
    params = cfg.hydra.sweeper.params
    swept = params.regularizer.split(",")
    assert set(swept) <= REGULARIZERS and {"none", "laftr", "coreset_fsd", "replay"} <= set(swept)
    assert params.seed == "0,1,2,3,4"
    # the MNIST comparisons feed raw [0, 1] pixels, as the LAFTR authors' code does
    raw = ["data.preprocessing=raw"] if "mnist" in protocol and "fmnist" not in protocol else []
    reference = compose_run_config([f"experiment={protocol}", *raw], tmp_path)
    for key in ("benchmark", "model", "data", "train", "optimizer"):
        assert cfg[key] == reference[key], f"{preset} differs from experiment={protocol} in {key}"
