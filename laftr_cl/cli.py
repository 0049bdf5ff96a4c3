"""The ``laftr-cl`` command: a Hydra app over ``configs/``."""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from laftr_cl.config_check import ConfigError

_SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs"  # an installed wheel: configs/ ships as laftr_cl/configs
CONFIG_DIR = str(_SHIPPED_CONFIGS if _SHIPPED_CONFIGS.is_dir() else _SHIPPED_CONFIGS.parent.parent / "configs")
"""The Hydra config root: inside the package when installed from a wheel, the checkout's ``configs/`` otherwise."""


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Composes the config, runs the experiment, returns the final average accuracy (for sweeps)."""
    from laftr_cl.checkpointing import CheckpointError
    from laftr_cl.experiment import run_experiment
    from laftr_cl.training.guards import NonFiniteLossError

    try:
        payload = run_experiment(cfg, HydraConfig.get().runtime.output_dir)
    except (ConfigError, FileNotFoundError, CheckpointError) as err:
        print(f"laftr-cl: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except NonFiniteLossError as err:  # the run diverged: its last good checkpoint is kept
        print(f"laftr-cl: {err}", file=sys.stderr)
        raise SystemExit(3) from None
    return payload["final"]["average_accuracy"]


if __name__ == "__main__":
    main()
