"""The ``laftr-cl`` command: a Hydra app over ``configs/``."""
from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

_SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs"  # an installed wheel: configs/ ships as laftr_cl/configs
CONFIG_DIR = str(_SHIPPED_CONFIGS if _SHIPPED_CONFIGS.is_dir() else _SHIPPED_CONFIGS.parent.parent / "configs")
"""The Hydra config root: inside the package when installed from a wheel, the checkout's ``configs/`` otherwise."""


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Composes the config, runs the experiment, returns the final average accuracy (for sweeps).

    Failures become one paragraph and an exit status (2 refused, 3 diverged, 4 unwritable, 130
    Ctrl-C); in a sweep a failed job ends alone (see :mod:`laftr_cl.run_outcome`)."""
    from laftr_cl.run_outcome import run_job

    return run_job(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
