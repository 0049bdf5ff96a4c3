"""Checks of the composed config that Hydra's own type checks do not cover.

Each failure raises :class:`ConfigError` with one paragraph naming the setting, the value,
what is allowed and the command-line override that fixes it.
"""
from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig

NONNEGATIVE_PLUGIN_KEYS = ("ewc_lambda", "si_lambda", "lambda_reg", "alpha", "fsd_lambda")
POSITIVE_PLUGIN_KEYS = ("temperature", "mem_size", "num_samples", "decay_factor", "rank",
                        "coreset_size", "summary_batch_size")


class ConfigError(ValueError):
    """A setting of the run config is invalid; the message says which and how to fix it."""


def _fail(setting: str, value: Any, allowed: str, fix: str) -> None:
    raise ConfigError(
        f"Invalid setting {setting}={value!r}: {allowed}. Fix it on the command line, "
        f"e.g. `laftr-cl ... {fix}`, or in the config file that sets it.")


def _check_int_at_least(cfg: DictConfig, path: str, low: int) -> None:
    value = _get(cfg, path)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        _fail(path, value, f"it must be an integer >= {low}", f"{path}={max(low, 1)}")


def _get(cfg: DictConfig, path: str) -> Any:
    node: Any = cfg
    for key in path.split("."):
        node = node[key]
    return node


def validate_config(cfg: DictConfig) -> None:
    """Raises :class:`ConfigError` on the first invalid setting of a composed run config."""
    _check_int_at_least(cfg, "train.epochs", 1)
    if cfg.train.first_task_epochs is not None:
        _check_int_at_least(cfg, "train.first_task_epochs", 1)
    _check_int_at_least(cfg, "train.batch_size", 1)
    _check_int_at_least(cfg, "train.eval_batch_size", 1)
    _check_int_at_least(cfg, "num_workers", 0)
    _check_int_at_least(cfg, "seed", 0)
    if cfg.device not in ("auto", "cpu", "cuda") and not str(cfg.device).startswith("cuda:"):
        _fail("device", cfg.device, "it must be auto, cpu, cuda or cuda:N", "device=auto")
    if str(cfg.device).startswith("cuda") and not torch.cuda.is_available():
        _fail("device", cfg.device, "CUDA is not available on this machine", "device=cpu")
    lr = cfg.optimizer.get("lr")
    if lr is not None and not lr > 0:
        _fail("optimizer.lr", lr, "the learning rate must be > 0", "optimizer.lr=0.001")
    _check_regularizer(cfg)
    _check_reliability(cfg)


def _check_reliability(cfg: DictConfig) -> None:
    """``resume``, ``checkpoint.*`` and ``guard.*`` (resume, checkpoints and the loss guard)."""
    if cfg.resume not in (True, False, "auto"):
        _fail("resume", cfg.resume, "it must be auto, true or false", "resume=auto")
    if not isinstance(cfg.checkpoint.enabled, bool):
        _fail("checkpoint.enabled", cfg.checkpoint.enabled, "it must be true or false",
              "checkpoint.enabled=true")
    _check_int_at_least(cfg, "checkpoint.every_n_epochs", 0)
    if cfg.guard.check_every != "auto":
        _check_int_at_least(cfg, "guard.check_every", 1)
    ratio = cfg.guard.max_regularizer_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio > 0:
        _fail("guard.max_regularizer_ratio", ratio, "it must be a number > 0",
              "guard.max_regularizer_ratio=1000")


def _check_regularizer(cfg: DictConfig) -> None:
    reg = cfg.regularizer
    plugin = reg.get("plugin") or {}
    for key in NONNEGATIVE_PLUGIN_KEYS:
        value = plugin.get(key)
        if isinstance(value, (int, float)) and value < 0:
            _fail(f"regularizer.plugin.{key}", value,
                  f"the strength of regularizer={reg.name} must be >= 0",
                  f"regularizer.plugin.{key}=1.0")
    for key in POSITIVE_PLUGIN_KEYS:
        value = plugin.get(key)
        if isinstance(value, (int, float)) and value <= 0:
            _fail(f"regularizer.plugin.{key}", value, "it must be > 0",
                  f"regularizer.plugin.{key}=<a positive value>")
    if plugin.get("mode") == "online" and plugin.get("decay_factor") is None:
        _fail("regularizer.plugin.decay_factor", None, "online EWC needs a decay factor in (0, 1]",
              "regularizer.plugin.decay_factor=0.9")
    if plugin.get("storage_dtype") not in (None, "float32", "float16"):
        _fail("regularizer.plugin.storage_dtype", plugin.get("storage_dtype"),
              "the kept firing rates and input statistics are float32 or float16", "regularizer.plugin.storage_dtype=float16")
    if plugin.get("estimator") == "exact":
        if cfg.model.name != "mlp":
            raise ConfigError(
                f"regularizer.plugin.estimator=exact does not fit model={cfg.model.name}: the closed "
                "form propagates moments through MLPs only. Use "
                "`regularizer.plugin.estimator=bernoulli` (or relu), or `model=mlp`.")
        if plugin.get("metric") != "l2_logit":
            _fail("regularizer.plugin.metric", plugin.get("metric"),
                  "estimator=exact is the closed form of the l2_logit metric only",
                  "regularizer.plugin.metric=l2_logit")
