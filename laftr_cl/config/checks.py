"""Checks of the composed config that Hydra's own checks do not cover, before any data is loaded.

Each failure raises :class:`~laftr_cl.config.errors.ConfigError` with one paragraph naming the setting, the value, what is
allowed (with the closest valid name to a typo) and the command-line override that fixes it. The
regularizer's options are checked against what it declares (:mod:`laftr_cl.regularizers.specs`).
"""
from __future__ import annotations

import difflib
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from omegaconf import DictConfig, ListConfig, OmegaConf

from laftr_cl.config.compile_checks import check_compiled_step
from laftr_cl.config.errors import ConfigError, closest, fail
from laftr_cl.config.options import COMPILE_MODES, PRECISIONS, PREPROCESSING, STRATEGIES
from laftr_cl.config.targets import check_class_order, check_targets
from laftr_cl.regularizers.combination import Part, combination_problem, parts
from laftr_cl.regularizers.specs import RegularizerSpec, registered, spec_for

MAX_SEED = 2**32 - 1
"""NumPy's seeds are 32-bit; Avalanche seeds NumPy with ``seed``."""
CHECKED_BLOCKS = ("train", "data", "checkpoint", "guard")
"""Blocks of ``configs/config.yaml`` whose keys are all known: ``+train.epoch=5`` is a typo, not a setting."""
DEVICES = "auto, cpu, cuda or cuda:N"


def _get(cfg: DictConfig, path: str) -> Any:
    return OmegaConf.select(cfg, path, throw_on_missing=False)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int_at_least(cfg: DictConfig, path: str, low: int, high: int | None = None) -> None:
    value = _get(cfg, path)
    if not _is_int(value) or value < low or (high is not None and value > high):
        allowed = f"it must be an integer >= {low}" + (f" and <= {high}" if high is not None else "")
        fail(path, value, allowed, f"{path}={max(low, 1)}")


@lru_cache(maxsize=1)
def _base_config() -> DictConfig:
    from laftr_cl.config.root import CONFIG_DIR

    return OmegaConf.load(Path(CONFIG_DIR) / "config.yaml")


def _check_known_keys(cfg: DictConfig) -> None:
    """``+train.epoch=5`` adds a key nothing reads: refuse it, naming the keys that exist."""
    base = _base_config()
    for block in CHECKED_BLOCKS:
        known = list(base.get(block) or {})
        for key in cfg.get(block) or {}:
            if key not in known:
                guess = (difflib.get_close_matches(key, known, 1, 0) or known)[0]
                fail(f"{block}.{key}", cfg[block][key], f"{block} has no setting {key!r}; its settings are "
                     f"{', '.join(known)}", f"{block}.{guess}={_yaml(cfg[block][key])}", closest(key, known))


def validate_config(cfg: DictConfig) -> None:
    """Raises :class:`ConfigError` on the first invalid setting of a composed run config."""
    _check_known_keys(cfg)
    _check_int_at_least(cfg, "train.epochs", 1)
    if cfg.train.first_task_epochs is not None:
        _check_int_at_least(cfg, "train.first_task_epochs", 1)
    _check_int_at_least(cfg, "train.batch_size", 1)
    _check_int_at_least(cfg, "train.eval_batch_size", 1)
    _check_int_at_least(cfg, "num_workers", 0)
    _check_int_at_least(cfg, "seed", 0, MAX_SEED)
    _check_device(cfg.device)
    lr = cfg.optimizer.get("lr")
    if lr is not None and not (_is_number(lr) and lr > 0):
        fail("optimizer.lr", lr, "the learning rate must be a number > 0", "optimizer.lr=0.001")
    _check_data(cfg)
    _check_benchmark(cfg)
    _check_model(cfg)
    _check_training(cfg)
    check_regularizer(cfg)
    _check_reliability(cfg)
    check_class_order(cfg)
    check_targets(cfg)


def _check_choice(setting: str, value: Any, options: dict[str, str], example: str) -> None:
    if not isinstance(value, str) or value not in options:
        meanings = "; ".join(f"{name} ({meaning})" for name, meaning in options.items())
        fail(setting, value, f"it must be one of: {meanings}", f"{setting}={example}", closest(value, options))


def _check_training(cfg: DictConfig) -> None:
    """``train.precision``, ``train.compile`` and ``regularizer.strategy``, alone and together."""
    precision, compile_mode = cfg.train.precision, cfg.train.compile
    _check_choice("train.precision", precision, PRECISIONS, "fp32")
    _check_choice("train.compile", compile_mode, COMPILE_MODES, "none")
    for part in parts(cfg):
        _check_choice(part.setting("strategy"), part.config.get("strategy"), STRATEGIES, "naive")
    strategy = next((s for s in (p.config.get("strategy") for p in parts(cfg)) if s != "naive"), "naive")
    if compile_mode == "cudagraph" and not _runs_on_cuda(cfg.device):
        fail("train.compile", compile_mode, f"it captures the step in a CUDA graph but this run is on "
             f"device={cfg.device} without CUDA", "train.compile=compile", " Or use device=cuda.")
    if strategy != "naive" and (compile_mode != "none" or precision != "fp32"):
        setting, value, fix = (("train.compile", compile_mode, "train.compile=none") if compile_mode != "none"
                               else ("train.precision", precision, "train.precision=fp32"))
        fail(setting, value, f"regularizer.strategy={strategy} trains with Avalanche's own loop, which takes "
             "train.compile=none and train.precision=fp32", fix)
    if compile_mode != "none":
        check_compiled_step(cfg, compile_mode)


def _runs_on_cuda(device: str) -> bool:
    if device.startswith("cuda"):
        return True
    if device != "auto":
        return False
    import torch

    return torch.cuda.is_available()


def _check_device(device: Any) -> None:
    if not isinstance(device, str) or (device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:")):
        fail("device", device, f"it must be {DEVICES}", "device=auto", closest(device, ("auto", "cpu", "cuda")))
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            fail("device", device, "CUDA is not available on this machine", "device=cpu")


def _check_data(cfg: DictConfig) -> None:
    data = cfg.data
    if not isinstance(data.root, str) or not data.root:
        fail("data.root", data.root, "it must be a folder path", "data.root=../shared/datasets/mnist-5k")
    if not isinstance(data.download, bool):
        fail("data.download", data.download, "it must be true or false", "data.download=false")
    synthetic = data.synthetic
    example = "data.synthetic={train_per_class: 20, test_per_class: 10}"
    if synthetic is not None:
        if not isinstance(synthetic, DictConfig):
            fail("data.synthetic", synthetic, "it must be null or a mapping {train_per_class: N, test_per_class: M} "
                 "(quote it: unquoted, bash splits {a, b} into two words)", example)
        for key in synthetic:
            if key not in ("train_per_class", "test_per_class"):
                fail(f"data.synthetic.{key}", synthetic[key], "data.synthetic takes train_per_class and "
                     "test_per_class", _synthetic_fix(synthetic), closest(key, ("train_per_class", "test_per_class")))
            _check_int_at_least(cfg, f"data.synthetic.{key}", 1)
    fraction = data.get("validation_fraction", 0.0)
    if not _is_number(fraction) or not 0 <= fraction < 1:
        fail("data.validation_fraction", fraction, "it must be a number in [0, 1)", "data.validation_fraction=0.1")
    preprocessing = data.get("preprocessing", "standardize")
    _check_choice("data.preprocessing", preprocessing, PREPROCESSING, "standardize")


def _synthetic_fix(synthetic: DictConfig) -> str:
    """``data.synthetic={...}`` with each misspelt key replaced by the one meant (missing ones at their default)."""
    names, fixed = ("train_per_class", "test_per_class"), {"train_per_class": 20, "test_per_class": 10}
    for key, value in synthetic.items():
        meant = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
        if meant:
            fixed[meant[0]] = value
    return "data.synthetic={" + ", ".join(f"{k}: {v}" for k, v in fixed.items()) + "}"


def _check_benchmark(cfg: DictConfig) -> None:
    """What a benchmark refuses whatever its data (the builders check the rest before loading any)."""
    if cfg.benchmark.name == "permuted_mnist" and cfg.benchmark.get("scenario") == "task":
        from laftr_cl.benchmarks.permuted import NO_TASK_SCENARIO

        raise ConfigError(NO_TASK_SCENARIO + " Fix it on the command line, e.g. `laftr-cl ... benchmark.scenario=domain`.",
                          "benchmark.scenario", "benchmark.scenario=domain")


def _check_model(cfg: DictConfig) -> None:
    net = cfg.model.get("net") or {}
    if "hidden_sizes" in net:
        sizes = net.hidden_sizes
        if not isinstance(sizes, ListConfig) or not all(_is_int(h) and h >= 1 for h in sizes):
            fail("model.net.hidden_sizes", sizes, "it must be a list of layer widths >= 1 ([] for a linear model)",
                 "model.net.hidden_sizes=[512,512]")
    dropout = net.get("dropout")
    if dropout is not None and not (_is_number(dropout) and 0 <= dropout < 1):
        fail("model.net.dropout", dropout, "it must be a number in [0, 1)", "model.net.dropout=0.0")


# ---------------------------------------------------------------------------- the regularizer
def regularizer_spec(cfg: DictConfig, part: Part | None = None) -> RegularizerSpec:
    """The declaration of the configured regularizer (or of one ``part`` of a combination); a
    :class:`ConfigError` when it has none."""
    part = part or parts(cfg)[0]
    reg = part.config
    plugin = reg.get("plugin")
    target = plugin.get("_target_") if isinstance(plugin, DictConfig) else None
    spec = spec_for(str(reg.get("name")), target)
    if spec is None:
        raise ConfigError(
            f"{part.path}={reg.get('name')} declares nothing: every regularizer registers a RegularizerSpec "
            "(laftr_cl.regularizers.specs.register) in the module of its plugin, named as its yaml's "
            f"`name:`. Known regularizers: {', '.join(sorted(registered()))}.", part.path, "regularizer=none")
    return spec


def check_regularizer(cfg: DictConfig, net: Any = None) -> None:
    """Every part of the regularizer (:mod:`laftr_cl.regularizers.combination`) on its own — its
    options against its declaration — then whether the parts can form one strategy."""
    found = [(part, regularizer_spec(cfg, part)) for part in parts(cfg)]
    for part, spec in found:
        check_part(cfg, part, spec, net)
    problem = combination_problem(found)
    if problem is not None:
        setting, why, fix = problem
        names = "+".join(part.name for part, _ in found)
        raise ConfigError(
            f"The regularizers {names} cannot be combined: {why}. Fix it on the command line, e.g. "
            f"`laftr-cl ... {fix}`, or pick parts that can run in one strategy (plugins such as laftr, "
            "replay, ewc, lwf, agem or gdumb, with at most one of der, er_ace, icarl).", setting, fix)


def check_part(cfg: DictConfig, part: Part, spec: RegularizerSpec, net: Any = None) -> None:
    """One part's options against its declaration: known keys, types, ranges, choices, the declared
    cross-option checks, and (with ``net``, else a freshly built one when it matters) the structure
    it needs of the model. Settings are named by the part's key (``combine.replay.plugin.mem_size``)."""
    plugin = part.config.get("plugin")
    if plugin is None:
        return
    prefix = part.setting("plugin")
    options = {k: v for k, v in plugin.items() if k != "_target_"}
    for key, value in options.items():
        if key not in spec.options:
            unknown_option(spec, key, value, prefix)
        option = spec.options[key]
        if not option.accepts(value):
            choices = option.allowed_choices() or []
            fail(f"{prefix}.{key}", value, f"regularizer={spec.name} takes {option.describe()}",
                 f"{prefix}.{key}={_yaml(option.example())}", closest(value, choices) if choices else "")
    if spec.check is not None:
        problem = spec.check(options, cfg)
        if problem is not None:
            setting, value, allowed, fix = problem
            fail(_in_part(setting, prefix), value, allowed, _in_part(fix, prefix))
    needs = [r for r in spec.requires if r.applies(options)]
    if needs:
        from hydra.utils import instantiate

        from laftr_cl.regularizers.structure import lacks

        net = net if net is not None else instantiate(cfg.model.net)
        for need in needs:
            reason = lacks(need.structure, net)
            if reason is not None:
                when = ", ".join(f"{k}={v}" for k, v in need.when.items())
                raise ConfigError(
                    f"regularizer={spec.name}{' with ' + when if when else ''} {reason} (model={cfg.model.name}). "
                    "Pick another model, e.g. `laftr-cl ... model=mlp`"
                    + (f", or another {next(iter(need.when))}" if need.when else "") + ".", "model", "model=mlp")


def _in_part(setting: str, prefix: str) -> str:
    """A spec's ``regularizer.plugin.<key>`` spelled for the part whose options are at ``prefix``."""
    return prefix + setting[len("regularizer.plugin"):] if setting.startswith("regularizer.plugin") else setting


def unknown_option(spec: RegularizerSpec, key: str, value: Any, prefix: str = "regularizer.plugin") -> NoReturn:
    """Raises the :class:`ConfigError` for an option ``key`` that regularizer ``spec`` does not have
    (``prefix``: where the part's options are, ``combine.<name>.plugin`` for a further part)."""
    setting = f"{prefix}.{key}"
    others = sorted(name for name, s in registered().items() if key in s.options)
    where = f" {key} is an option of regularizer={', '.join(others)}." if others else ""
    if not spec.options:
        fail(setting, value, f"regularizer={spec.name} has no options", f"~{setting}", where)
    names = list(spec.options)
    guess = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    fix = f"{prefix}.{guess[0]}={_yaml(value)}" if guess else f"~{setting}"
    fail(setting, value, f"regularizer={spec.name} has no option {key!r}; its options are {', '.join(names)}", fix,
         closest(key, names) + where)


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else str(value)


def _check_reliability(cfg: DictConfig) -> None:
    """``resume``, ``checkpoint.*`` and ``guard.*`` (resume, checkpoints and the loss guard)."""
    if cfg.resume not in (True, False, "auto"):
        fail("resume", cfg.resume, "it must be auto, true or false", "resume=auto")
    if not isinstance(cfg.checkpoint.enabled, bool):
        fail("checkpoint.enabled", cfg.checkpoint.enabled, "it must be true or false", "checkpoint.enabled=true")
    _check_int_at_least(cfg, "checkpoint.every_n_epochs", 0)
    if cfg.guard.check_every != "auto":
        _check_int_at_least(cfg, "guard.check_every", 1)
    ratio = cfg.guard.max_regularizer_ratio
    if not _is_number(ratio) or not ratio > 0:
        fail("guard.max_regularizer_ratio", ratio, "it must be a number > 0", "guard.max_regularizer_ratio=1000")


def coreset_notes(cfg: DictConfig, benchmark: Any) -> list[str]:
    """What a ``coreset_size`` larger than a task (a class, with ``classwise``) means for this run:
    it keeps all the examples there are. One sentence per case, or [] (``benchmark``: a
    :class:`~laftr_cl.benchmarks.base.TensorBenchmark`)."""
    plugin = cfg.regularizer.get("plugin") or {}
    size = plugin.get("coreset_size")
    if not _is_int(size) or plugin.get("inputs", "coreset") != "coreset":
        return []
    classwise = bool(plugin.get("classwise"))
    held = [int(t.y.bincount().max()) if classwise else int(t.y.shape[0]) for t in benchmark.train]
    small = [i for i, n in enumerate(held) if n < size]
    if not small:
        return []
    unit = "examples of their largest class" if classwise else "training examples"
    return [f"regularizer.plugin.coreset_size={size}{' per class' if classwise else ''} is more than tasks "
            f"{small} hold ({', '.join(str(held[i]) for i in small)} {unit}): their coresets keep all the examples "
            "there are."]
