"""Mislabeled-example detection by self-influence (Hydra app over ``configs/mislabeled_study.yaml``):
see :mod:`laftr_cl.study.influence.mislabeled`.

    python scripts/mislabeled.py                                  # Fashion-MNIST (paths.data_dir)
    python scripts/mislabeled.py data=mnist_5k
    python scripts/mislabeled.py data=synthetic num_train=60 num_test=20 solver.steps=5

Prints the table and writes ``results.json`` and ``detection_curves.png`` into the run folder
(``logs/mislabeled/<data>/<time>/``).
"""
from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from laftr_cl.cli import CONFIG_DIR
from laftr_cl.loggers.console import quiet
from laftr_cl.study.errors import reported


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="mislabeled_study")
def main(cfg: DictConfig) -> None:
    quiet()  # the known third-party warnings, as laftr-cl does
    from laftr_cl.study.influence.mislabeled import run_mislabeled

    with reported("mislabeled"):
        run_mislabeled(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
