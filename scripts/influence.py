"""Influence estimation with LAFTR (Hydra app over ``configs/influence_study.yaml``): see
:mod:`laftr_cl.study.influence.responses`.

    python scripts/influence.py                                  # Fashion-MNIST (paths.data_dir)
    python scripts/influence.py data=mnist_5k
    python scripts/influence.py data=synthetic num_train=60 num_queries=4 num_test=10 solver.steps=5

Prints the table and writes ``results.json`` and ``influence_scatter.png`` into the run folder
(``logs/influence/<data>/<time>/``).
"""
from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from laftr_cl.cli import CONFIG_DIR
from laftr_cl.loggers.console import quiet
from laftr_cl.study.errors import reported


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="influence_study")
def main(cfg: DictConfig) -> None:
    quiet()  # the known third-party warnings, as laftr-cl does
    from laftr_cl.study.influence.responses import run_influence

    with reported("influence"):
        run_influence(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
