"""Checks of the command as a whole, before Hydra runs it: a sweep without ``-m``, an empty output
folder, a launcher that cannot start on this machine. Each raises a
:class:`~laftr_cl.config.errors.ConfigError` in one paragraph with the command that works."""
from __future__ import annotations

import shlex
import shutil

from omegaconf import DictConfig, OmegaConf

from laftr_cl.config.errors import ConfigError

SLURM_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"


def check_sweep_needs_multirun(sweeps: list[str], multirun: bool, overrides: list[str]) -> None:
    """``seed=0,1`` without ``-m`` (``sweeps``: such overrides among the command's ``overrides``):
    Hydra would stop on an "ambiguous value"."""
    if multirun or not sweeps:
        return
    args = " ".join(shlex.quote(a) for a in overrides)
    raise ConfigError(
        f"`{' '.join(sweeps)}` gives several values, which makes a sweep (one run per value), but the command has "
        f"no -m. Run the sweep with `laftr-cl -m {args}`, or give one value for a single run.", sweeps[0].split("=")[0])


def check_output_folders(cfg: DictConfig, multirun: bool) -> None:
    """``hydra.run.dir=`` (what an unset ``$RUN_DIR`` gives) would write the run into the current folder."""
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    try:
        folder = OmegaConf.select(cfg, key)
    except Exception:  # noqa: BLE001 - ${now:...} and friends resolve only in a run; nothing to check here
        return
    if folder is None or (isinstance(folder, str) and not folder.strip()):
        raise ConfigError(
            f"Invalid setting {key}={folder!r}: the {'sweep' if multirun else 'run'} folder is empty, so the "
            "checkpoint, results.json, "
            f".hydra/ and the logs would land in the current folder (an unset shell variable, e.g. {key}=$RUN_DIR, "
            f"gives this). Give a folder, e.g. `laftr-cl ... {key}=logs/my_run`, or leave {key} at its default.",
            key, f"{key}=logs/my_run")


def check_launcher(cfg: DictConfig, multirun: bool) -> None:
    """``hydra/launcher=slurm`` on a machine without SLURM's ``sbatch``."""
    target = OmegaConf.select(cfg, "hydra.launcher._target_")
    if multirun and target == SLURM_LAUNCHER and shutil.which("sbatch") is None:
        raise ConfigError(
            "hydra/launcher=slurm submits each job with SLURM's sbatch, which is not on this machine's PATH: run "
            "the command on a SLURM login node, or run the jobs here with hydra/launcher=local_parallel (in "
            "parallel) or without hydra/launcher (one after another).", "hydra/launcher")
