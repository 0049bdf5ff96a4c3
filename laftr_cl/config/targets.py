"""Keys nothing reads, and settings the objects built from the config would refuse, caught before a run.

* :func:`check_added_keys`: a key added with ``+`` (``+regularizer.ewc_lambda=5``) that no part
  of the run reads is refused, with the key that does exist under that name (the same last part,
  ``regularizer.plugin.ewc_lambda``) or the closest sibling. Keys added under a node that is
  built from its ``_target_`` are left to :func:`check_targets`; ``hydra.*`` is Hydra's.
* :func:`check_targets`: the keys of ``optimizer`` and ``model.net`` against the signature of
  what they build (``+optimizer.momentum=0.9`` with Adam), and the optimizer built once on a
  dummy parameter, so that a value it refuses (``optimizer.weight_decay=-1``) is named here.
* :func:`check_class_order`: ``benchmark.class_order`` is null or a list of class ids.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Iterable

from omegaconf import DictConfig, ListConfig, OmegaConf

from laftr_cl.config.errors import ConfigError, closest, fail

TARGET_NODES = ("optimizer", "model.net")
"""Config nodes whose keys are the keyword arguments of their ``_target_`` (the regularizer's plugin
is checked against its own declaration)."""
HYDRA_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")
SUPPLIED = {"optimizer": ("params",)}
"""Arguments the run passes itself (not settings)."""


def dotted_keys(node: Any, prefix: str = "") -> list[str]:
    """Every leaf and mapping key of ``node`` as a dotted path (``model.net.dropout``)."""
    keys: list[str] = []
    if isinstance(node, DictConfig):
        for key in node.keys():
            path = f"{prefix}{key}"
            keys.append(path)
            keys += dotted_keys(node._get_node(key), f"{path}.")
    return keys


def _under_target(cfg: DictConfig, key: str) -> bool:
    parent = key.rpartition(".")[0]
    while parent:
        node = OmegaConf.select(cfg, parent, throw_on_missing=False)
        if isinstance(node, DictConfig) and "_target_" in node:
            return True
        parent = parent.rpartition(".")[0]
    return False


def suggestion(key: str, known: Iterable[str]) -> str | None:
    """The existing key meant by an added ``key``: one with the same last part (sharing most of the
    path), else the closest sibling name; None when neither exists."""
    known = [k for k in known if not k.startswith("hydra.")]
    leaf, parent = key.rpartition(".")[2], key.rpartition(".")[0]
    same_leaf = [k for k in known if k.rpartition(".")[2] == leaf]
    if same_leaf:
        return max(same_leaf, key=lambda k: (len(_common_prefix(k, key)), -len(k)))
    siblings = [k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == parent]
    match = difflib.get_close_matches(leaf, siblings, n=1, cutoff=0.6)
    return f"{parent + '.' if parent else ''}{match[0]}" if match else None


def _common_prefix(a: str, b: str) -> str:
    parts = []
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        parts.append(x)
    return ".".join(parts)


def check_added_keys(cfg: DictConfig, without_additions: DictConfig, additions: dict[str, str]) -> None:
    """Refuses each ``+key=value`` of ``additions`` (key → value text) that adds a key nothing reads.

    ``without_additions``: the same config composed without those overrides (its keys are the ones
    that exist).
    """
    known = dotted_keys(without_additions)
    for key, value in additions.items():
        if key.startswith("hydra.") or key in known or key.startswith("regularizer.plugin."):
            continue  # Hydra's own; an existing key; the plugin's options are checked by its declaration
        if _under_target(cfg, key):
            continue  # checked against the signature of what the node builds
        meant = suggestion(key, known)
        parent = key.rpartition(".")[0]
        node = OmegaConf.select(without_additions, parent) if parent else without_additions
        names = [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []
        where = f"{parent} has no setting {key.rpartition('.')[2]!r}" if parent else f"there is no setting {key!r}"
        listed = f"; its settings are {', '.join(names)}" if names else ""
        hint = f" Did you mean {meant!r}?" if meant else ""
        fix = f"{meant}={value}" if meant else f"~{key}"
        raise ConfigError(
            f"Invalid setting +{key}={value}: {where}{listed}, and a key added with + is read by nothing, so the "
            f"run would ignore it.{hint} Fix it on the command line, e.g. `laftr-cl ... {fix}`.", key, fix)


def _signature(target: str) -> inspect.Signature | None:
    from hydra.utils import get_class

    try:
        return inspect.signature(get_class(target))
    except (ImportError, ValueError, TypeError):
        return None


def check_targets(cfg: DictConfig) -> None:
    """The keys of each :data:`TARGET_NODES` node against its ``_target_``'s signature; the optimizer
    built once on a dummy parameter (see the module docstring)."""
    for path in TARGET_NODES:
        node = OmegaConf.select(cfg, path, throw_on_missing=False)
        if not isinstance(node, DictConfig) or "_target_" not in node:
            continue
        signature = _signature(str(node._target_))
        if signature is None:
            continue
        params = signature.parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue  # the target takes free keys
        names = [n for n, p in params.items() if n != "self" and n not in SUPPLIED.get(path, ())
                 and p.kind is not inspect.Parameter.VAR_POSITIONAL]
        for key in node.keys():
            if key in HYDRA_KEYS or key in names:
                continue
            guess = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
            fix = f"{path}.{guess[0]}={_text(node[key])}" if guess else f"~{path}.{key}"
            fail(f"{path}.{key}", node[key], f"{node._target_} takes no argument {key!r}; it takes {', '.join(names)}",
                 fix, closest(str(key), names))
    _try_optimizer(cfg)


def _try_optimizer(cfg: DictConfig) -> None:
    optimizer = cfg.get("optimizer")
    if not isinstance(optimizer, DictConfig) or "_target_" not in optimizer:
        return
    import torch
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        instantiate(optimizer, params=[torch.zeros(1, requires_grad=True)])
    except (InstantiationException, ValueError, TypeError) as err:
        reason = str(err.__cause__ or err).strip().splitlines()[-1]
        named = [str(k) for k in optimizer.keys() if k not in HYDRA_KEYS and str(k) in reason]
        if not named:
            raise ConfigError(f"optimizer={optimizer._target_} refuses its settings ({reason}): check the "
                              "optimizer.* settings, e.g. with `laftr-cl --cfg job`.", "optimizer") from None
        key = named[0]
        signature = _signature(str(optimizer._target_))
        default = signature.parameters[key].default if signature is not None and key in signature.parameters else None
        fix = f"optimizer.{key}={_text(default)}" if default not in (None, inspect.Parameter.empty) else f"~optimizer.{key}"
        fail(f"optimizer.{key}", optimizer[key], f"{optimizer._target_} refuses it ({reason})", fix)


def check_class_order(cfg: DictConfig) -> None:
    """``benchmark.class_order``: null or a list of class ids (the builder checks it is a permutation)."""
    order = cfg.benchmark.get("class_order")
    if order is not None and not (isinstance(order, ListConfig) and all(type(c) is int for c in order)):
        n = cfg.benchmark.get("num_classes")
        example = f"[{', '.join(str(c) for c in reversed(range(n)))}]" if isinstance(n, int) else "[1,0]"
        fail("benchmark.class_order", order, "it must be null (the natural order) or a list holding each class id "
             "once", "benchmark.class_order=null", f" E.g. benchmark.class_order='{example}' reverses the classes.")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value)
    return "null" if value is None else str(value).replace(" ", "")
