"""The FSD-accuracy study (Hydra app over ``configs/fsd_study.yaml``): see :mod:`laftr_cl.study.fsd.run`.

    python scripts/fsd_study.py                                   # Fashion-MNIST, MLP 784-512-512
    python scripts/fsd_study.py study=mnist_5k_mlp                # MNIST-5k
    python scripts/fsd_study.py study=cifar_net_synthetic         # the CIFAR net, synthetic data

Prints the table (memory, Pearson and Spearman correlation, median relative error against the
true FSD per method) and writes it with the plot into the run folder
(``logs/fsd_study/<benchmark>_<model>/<time>/``).
"""
from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from laftr_cl.cli import CONFIG_DIR
from laftr_cl.loggers.console import quiet
from laftr_cl.study.errors import reported


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="fsd_study")
def main(cfg: DictConfig) -> None:
    quiet()  # the known third-party warnings, as laftr-cl does
    from laftr_cl.study.fsd.run import run_study

    with reported("fsd_study"):
        run_study(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
