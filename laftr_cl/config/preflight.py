"""The command line checked before Hydra runs anything: compose every job, validate it, or say why not.

:func:`preflight` composes the run config of each job a command asks for — one, or each
combination of a sweep (command-line sweeps and a preset's ``hydra.sweeper.params``) — with Hydra's
compose API and runs :func:`~laftr_cl.config.checks.validate_config` on it. Hydra's own failures
(an unknown key, an unknown option of a group, an override it cannot parse) become a
:class:`~laftr_cl.config.checks.ConfigError` in the project's words, with the valid names and the
closest one to a typo. Nothing is loaded or trained here.
"""
from __future__ import annotations

import itertools
import os
import re
from typing import Iterator

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from laftr_cl.config.checks import ConfigError, closest, regularizer_spec, unknown_option, validate_config
from laftr_cl.config.command import check_launcher, check_output_folders, check_sweep_needs_multirun

MAX_JOBS_CHECKED = 64
"""A sweep with more jobs has its first this many checked here (each job checks itself again)."""
HOME_KEYS = re.compile(r"^(\+{0,2}[\w.]+)=(~[^,]*)$")


def expand_home(overrides: list[str]) -> list[str]:
    """``data.root=~/data`` → ``data.root=/home/me/data``: the ``~`` a shell user expects expanded
    (bash leaves it, as ``data.root`` is no variable name, and Hydra's grammar cannot parse it)."""
    return [f"{m[1]}={os.path.expanduser(m[2])}" if (m := HOME_KEYS.match(o)) else o for o in overrides]


def preflight(config_dir: str, overrides: list[str], *, validate: bool = True, multirun: bool | None = None) -> int:
    """Composes (and with ``validate``, checks) each job of the command; returns how many it checked.

    ``multirun``: True for ``-m``, False for ``-r``, None to follow the config's ``hydra.mode`` (as
    Hydra does). A preset's ``hydra.sweeper.params`` only count in a multirun, and there a key the
    command line sets itself wins over the preset's list (Hydra's basic sweeper does the same).

    Raises:
        ConfigError: the first invalid setting, in one paragraph with a fix.
    """
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            checked = 0
            for job, composed in _jobs(overrides, multirun):
                cfg = composed if composed is not None else _compose(job)
                if validate:
                    _check_additions(cfg, job)
                    validate_config(cfg)
                checked += 1
            return checked
    finally:
        GlobalHydra.instance().clear()


def _check_additions(cfg: DictConfig, job: list[str]) -> None:
    """``+key=value`` overrides that add a key nothing reads (see :mod:`laftr_cl.config.targets`); a group
    added under a package (``+regularizer@combine.replay=replay``) is a choice, not a key."""
    from laftr_cl.config.targets import check_added_keys

    repository = GlobalHydra.instance().config_loader().repository
    added = {o.get_key_element().lstrip("+"): o.get_value_element_as_str() for o in _parse(job)
             if o.is_add() and not repository.group_exists(o.key_or_group.replace(".", "/"))}
    if added:
        kept = [o.input_line for o in _parse(job) if o.get_key_element().lstrip("+") not in added]
        check_added_keys(cfg, _compose(kept), added)


def _parse(overrides: list[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed.extend(parser.parse_overrides([text]))
        except OverrideParseException as err:
            key = text.split("=", 1)[0]
            raise ConfigError(
                f"laftr-cl cannot read the override `{text}` ({str(err).splitlines()[0]}). Values with spaces, "
                "braces, commas or other special characters need quotes that reach laftr-cl, e.g. "
                f"`'{key}=\"a value\"'` for a string or `'{key}=[1,2]'` for a list.", key) from None
    return parsed


def _jobs(overrides: list[str], multirun: bool | None) -> Iterator[tuple[list[str], DictConfig | None]]:
    """The override list of each job (the product of every enumerable sweep, capped), with its
    composed config when it is already at hand (a single run)."""
    parsed = _parse(overrides)
    _refuse_regularizer_list(parsed)
    base = [o.input_line for o in parsed if not o.is_sweep_override()]
    given = {o.get_key_element() for o in parsed}
    sweeps = {o.get_key_element(): o for o in parsed if o.is_sweep_override()}
    first = _compose(base + [f"{k}={v}" for k, o in sweeps.items() if (v := _first(o)) is not None])
    if multirun is None:
        multirun = OmegaConf.select(first, "hydra.mode") == RunMode.MULTIRUN
    check_sweep_needs_multirun([o.input_line for o in sweeps.values()], multirun, overrides)
    check_output_folders(first, multirun)
    check_launcher(first, multirun)
    if multirun:
        for key, value in (_config_sweeps(first) or {}).items():
            if key not in given:
                sweeps.update({o.get_key_element(): o for o in _parse([f"{key}={value}"])})
    axes = []
    for key, override in sweeps.items():
        try:
            axes.append([f"{key}={v}" for v in override.sweep_string_iterator()])
        except HydraException:  # intervals (Optuna) and globs: the job's own value is checked
            continue
    if not axes:
        yield base, first
        return
    for combination in itertools.islice(itertools.product(*axes), MAX_JOBS_CHECKED):
        yield base + list(combination), None


def _refuse_regularizer_list(parsed: list) -> None:
    """``regularizer=[laftr,replay]`` would merge the two yaml files into one node (Hydra's list of
    group options shares one package): refuse it, naming the spelling that keeps each part apart."""
    for override in parsed:
        if override.get_key_element().lstrip("+~") == "regularizer" and isinstance(override.value(), list):
            names = [str(v) for v in override.value()]
            if not names:
                continue
            fix = f"regularizer={names[0]} " + " ".join(f"+regularizer@combine.{n}={n}" for n in names[1:])
            raise ConfigError(
                f"Invalid setting regularizer={override.input_line.split('=', 1)[1]}: a list of regularizers "
                "would merge their options into one node. Combine regularizers by composing each further one "
                f"under its own key of combine: `laftr-cl ... {fix}` (docs/class_incremental.md).",
                "regularizer", fix)


def _first(override) -> str | None:
    """The first value of an enumerable sweep; None for an interval (Optuna) or a glob."""
    try:
        return next(iter(override.sweep_string_iterator()))
    except HydraException:
        return None


def _config_sweeps(cfg: DictConfig) -> dict[str, str] | None:
    sweeper = OmegaConf.select(cfg, "hydra.sweeper")
    if sweeper is None or "params" not in sweeper or sweeper.params is None:
        return None
    return {str(k): str(v) for k, v in sweeper.params.items()}


def _compose(overrides: list[str]) -> DictConfig:
    try:
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except MissingConfigException as err:
        raise _missing_option(str(err)) from None
    except HydraException as err:
        raise _hydra_failure(err, overrides) from None


def _missing_option(message: str) -> ConfigError:
    found = re.search(r"Could not (?:find|load) '([^']+)/([^'/]+)'", message)
    options = re.findall(r"^\t(\S+)$", message.split("Config search path")[0], flags=re.M)
    if not found:
        return ConfigError(f"laftr-cl cannot compose the config: {message.splitlines()[0]}")
    group, option = found.groups()
    guess = closest(option, options)
    fix = f"{group}={guess.split(chr(39))[1]}" if guess else None  # the closest option, never merely the first
    allowed = ", ".join(o for o in options if not o.startswith("_"))
    how = f"Fix it on the command line, e.g. `laftr-cl ... {fix}`." if fix else f"Pick one of them with {group}=..."
    return ConfigError(
        f"Invalid setting {group}={option!r}: {group} has no option {option!r}; its options are {allowed}."
        f"{guess} {how}", group, fix)


def _hydra_failure(err: HydraException, overrides: list[str]) -> ConfigError:
    found = re.search(r"Could not override '([^']+)'", str(err))
    if not found:
        first = str(err).splitlines()[0]
        return ConfigError(f"laftr-cl cannot compose the config from `{' '.join(overrides)}`: {first}")
    key = found.group(1)
    others = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key]
    parent, _, name = key.rpartition(".")
    try:
        node = OmegaConf.select(compose(config_name="config", overrides=others), parent) if parent else \
            compose(config_name="config", overrides=others)
    except HydraException:
        node = None
    value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+~") == key), "")
    shown = _value(value)
    if key.startswith("regularizer.plugin."):
        spec = regularizer_spec(compose(config_name="config", overrides=others))
        unknown_option(spec, name, _value(value))  # raises: the regularizer does not declare it
    keys = [str(k) for k in node] if isinstance(node, DictConfig) else []
    where = f"{parent} has no setting {name!r}" if parent else f"there is no setting {name!r}"
    allowed = f"; its settings are {', '.join(keys)}" if keys else ""
    guess = closest(name, keys)
    match = guess.split("'")[1] if guess else None
    fix = f"{parent + '.' if parent else ''}{match}={value}" if match else f"~{key}"
    return ConfigError(
        f"Invalid setting {key}={shown!r}: {where}{allowed}.{guess} Fix it on the command line, "
        f"e.g. `laftr-cl ... {fix}` (a `+{key}=...` would add a key that nothing reads).", key, fix)


def _value(text: str) -> object:
    """An override's value as YAML reads it (``1`` → 1), or the text."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text
