"""The ``laftr-cl`` command: a Hydra app over ``configs/``.

Before Hydra runs anything, :func:`main` composes and validates every job the command asks for
(:mod:`laftr_cl.config.preflight`): a bad setting is answered in one paragraph — the setting, what is
allowed, a corrected command — with exit code 2 and no traceback (``LAFTR_CL_TRACEBACK=1`` shows
it). Only then does Hydra start the run or sweep. Imports stay light until a run needs them; Ctrl-C
or SIGTERM while they load ends the command with one line (:mod:`laftr_cl.run.interrupts`).
"""
from __future__ import annotations

import sys
from pathlib import Path

from laftr_cl.run.interrupts import catch_while_starting

if __name__ == "__main__" or Path(sys.argv[0]).name == "laftr-cl":  # the command, not a module imported by a test
    catch_while_starting()

# ruff: noqa: E402 (the imports below come after the start-up handler)
import hydra
from omegaconf import DictConfig

from laftr_cl.config.errors import TRACEBACK_ENV, corrected_command, paragraph, show_traceback
from laftr_cl.config.root import CONFIG_DIR, HIDDEN_GROUPS, SHOWN_HYDRA_GROUPS

__all__ = ["CONFIG_DIR", "TRACEBACK_ENV", "corrected_command", "main"]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _run(cfg: DictConfig) -> float | None:
    """Runs the composed experiment; returns the final average accuracy (for sweeps).

    Failures become one paragraph and an exit status (2 refused, 3 diverged, 4 unwritable, 130
    Ctrl-C, 143 SIGTERM); in a sweep a failed job ends alone (see :mod:`laftr_cl.run.outcome`)."""
    from hydra.core.hydra_config import HydraConfig

    from laftr_cl.loggers.console import quiet

    quiet()  # again: a launcher may run this job in a process of its own
    from laftr_cl.run.outcome import run_job

    return run_job(cfg, HydraConfig.get().runtime.output_dir)


def main() -> None:
    """``laftr-cl [hydra flags] [overrides]``: checks the command, then hands it to Hydra.

    SIGTERM is handled as Ctrl-C (:mod:`laftr_cl.run.interrupts`); either one before the run starts
    (while the command is checked or Hydra sets up) ends the process with one line."""
    import signal

    from laftr_cl.run.interrupts import catch_sigterm, exit_status, startup_message

    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here Ctrl-C raises KeyboardInterrupt
    catch_sigterm()
    try:
        _main()
    except KeyboardInterrupt as err:  # a run's own interruption is handled (and said) by the run
        if show_traceback():
            raise
        print(f"laftr-cl: {startup_message(err)}", file=sys.stderr)
        raise SystemExit(exit_status(err)) from None


def _main() -> None:
    from hydra._internal.utils import get_args_parser

    from laftr_cl.config.preflight import expand_home
    from laftr_cl.loggers.console import quiet

    args, _ = get_args_parser().parse_known_args(sys.argv[1:])
    expanded = expand_home(args.overrides)
    renamed = dict(zip(args.overrides, expanded))
    sys.argv = [sys.argv[0], *(renamed.get(a, a) for a in sys.argv[1:])]
    if args.help:
        _help(expanded)
        return
    quiet()
    _register_optuna_sweeper()
    own_config = args.config_name or args.config_path or args.config_dir  # checked by the run itself
    if not (args.hydra_help or args.info or args.shell_completion or own_config):
        multirun = True if args.multirun else (False if args.run else None)
        _preflight(expanded, validate=args.cfg is None, multirun=multirun)
    _run()


def _register_optuna_sweeper() -> None:
    """Hands laftr-cl's Optuna sweeper to Hydra directly, whatever the command: Hydra looks for sweepers by
    scanning the ``hydra_plugins`` namespace, and an editable install (``pip install -e .``, setuptools'
    import hook) hides the project's part of that namespace from the scan, so any config choosing the
    sweeper (``hparams_search=...``, a user's own file under ``--config-dir``) would stop at "Unknown plugin
    class". Cheap: Hydra's scan imports hydra-optuna-sweeper's modules anyway (not Optuna itself, which the
    sweeper imports when a search starts), and registering is one entry in Hydra's plugin table. Without
    hydra-optuna-sweeper, Hydra's own message about the sweeper stands."""
    from hydra.core.plugins import Plugins

    try:
        from hydra_plugins.laftr_cl_optuna import LaftrOptunaSweeper
    except ImportError:
        return
    Plugins.instance().register(LaftrOptunaSweeper)


def _preflight(overrides: list[str], validate: bool, multirun: bool | None = None) -> None:
    from laftr_cl.config.checks import ConfigError
    from laftr_cl.config.preflight import preflight

    try:
        preflight(CONFIG_DIR, overrides, validate=validate, multirun=multirun)
    except ConfigError as err:
        _report(err)
        raise SystemExit(2) from None


def _report(err: Exception) -> None:
    """Prints ``err`` as one paragraph, its example fix turned into the corrected command."""
    if show_traceback():
        raise err
    print(f"laftr-cl: {paragraph(err)}", file=sys.stderr)


def _help(overrides: list[str]) -> None:
    """Hydra's ``--help`` without the groups a run cannot use (see :data:`HIDDEN_GROUPS`)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    _preflight(overrides, validate=False)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        groups = [g for g in sorted(loader.list_groups("")) if g not in HIDDEN_GROUPS] + list(SHOWN_HYDRA_GROUPS)
        lines = [f"{g}: {', '.join(loader.get_group_options(g))}" for g in groups]
    header = cfg.hydra.help.header
    OmegaConf.set_struct(cfg, False)
    cfg.pop("hydra")
    print(f"{header}\n== Configuration groups ==\nCompose your configuration from those groups (group=option)\n\n"
          + "\n".join(lines) + "\n\n== Config ==\nOverride anything in the config (foo.bar=value)\n\n"
          + OmegaConf.to_yaml(cfg))


if __name__ == "__main__":
    main()
