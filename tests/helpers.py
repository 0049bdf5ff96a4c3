"""Shared test helpers: composing the project's Hydra config and locating ../shared data."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from laftr_cl.cli import CONFIG_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    """Path of ``../shared/datasets/<name>``; skips the test cleanly when it is absent."""
    path = SHARED_DATASETS / name
    if not (path.is_dir() and any(path.rglob("*-ubyte*"))):
        pytest.skip(f"{path} is not present (the shared datasets sit beside the repository)")
    return path


def compose_run_config(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """Composes ``configs/config.yaml`` as the CLI would, with Hydra's runtime output dir set.

    With ``output_dir`` the config is also registered as the current Hydra config, so that
    ``${hydra:runtime.output_dir}`` in logger configs resolves to it.
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(output_dir)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
    return cfg
