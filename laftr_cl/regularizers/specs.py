"""What a regularizer declares about itself, in one place: :class:`RegularizerSpec`.

Each regularizer — the project's plugins and the Avalanche plugins it wraps — registers one spec
under its config name (``regularizer.name``). The spec holds the plugin's config options (type,
range or choices, default), the option that is its strength λ, what the model must be built like
(by structure, e.g. "an MLP"), the attributes a checkpoint keeps of it, and how to count its bytes.
The config checks, the NaN guard's report, memory accounting and checkpoints read it from here.

A new regularizer is one module and one yaml: the module defines the plugin and calls
:func:`register` with its spec at import; the yaml (``configs/regularizer/<name>.yaml``) sets
``name: <name>`` and ``plugin._target_`` to the class. :func:`spec_for` imports the ``_target_``'s
module when the name is not registered yet. The built-in specs are in
:mod:`laftr_cl.regularizers.catalog`, which ``laftr_cl.regularizers`` imports (so they are
registered whenever this module is); the project's plugins take their signature defaults from them.

This module imports neither torch nor Avalanche: the CLI reads specs before anything heavy loads.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from laftr_cl.fsd.registry import Registry


@dataclass(frozen=True)
class Option:
    """One option under ``regularizer.plugin``.

    ``type`` is ``int``, ``float``, ``bool`` or ``str``; an int is accepted for a float. ``choices``
    (a tuple, or a function giving the names of a registry) lists the allowed strings; ``low`` /
    ``high`` bound numbers (``open_low`` / ``open_high``: strictly). ``nullable``: null is allowed.
    """

    type: type
    default: Any
    doc: str = ""
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    nullable: bool = False

    def allowed_choices(self) -> list[str] | None:
        if self.choices is None:
            return None
        return list(self.choices() if callable(self.choices) else self.choices)

    def describe(self) -> str:
        """What is allowed, in words: ``"an integer >= 1"``, ``"one of bernoulli, relu, exact"``."""
        choices = self.allowed_choices()
        if choices is not None:
            text = "one of " + ", ".join(choices)
        elif self.type is bool:
            text = "true or false"
        else:
            text = {int: "an integer", float: "a number", str: "a string"}[self.type]
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.open_low else '>='} {self.low:g}")
            if self.high is not None:
                bounds.append(f"{'<' if self.open_high else '<='} {self.high:g}")
            if bounds:
                text += " " + " and ".join(bounds)
        return text + (" (or null)" if self.nullable else "")

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (as composed by Hydra) is allowed."""
        if value is None:
            return self.nullable
        if self.type is bool:
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if self.type is str:
            choices = self.allowed_choices()
            return isinstance(value, str) and (choices is None or value in choices)
        if self.type is int and not isinstance(value, int):
            return False
        if self.type is float and not (isinstance(value, (int, float)) and math.isfinite(value)):
            return False
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.open_high and value == self.high)):
            return False
        return True

    def example(self) -> Any:
        """A valid value to suggest in a corrected command: the default when it is one."""
        low = self.low if self.low is not None else 0
        high = self.high if self.high is not None else low + 2
        candidates = [self.default, *(self.allowed_choices() or []), high, (low + high) / 2, low + 1, True]
        return next((self.type(c) for c in candidates if c is not None and self.accepts(self.type(c))), self.default)


@dataclass(frozen=True)
class Requirement:
    """The model must have ``structure`` (a name of :data:`laftr_cl.regularizers.structure.STRUCTURES`),
    when the plugin's options match ``when`` (always when empty)."""

    structure: str
    when: Mapping[str, Any] = field(default_factory=dict)

    def applies(self, options: Mapping[str, Any]) -> bool:
        return all(options.get(k) == v for k, v in self.when.items())


@dataclass(frozen=True)
class RegularizerSpec:
    """Everything the project needs to know about one regularizer (see the module docstring).

    Attributes:
        name: the config name (``regularizer=<name>``, ``regularizer.name``).
        plugin: dotted path of the plugin class; None for a regularizer without a plugin (none, joint).
        options: the plugin's config options by key (its constructor's keyword arguments).
        strength: the option that is λ, or None.
        requires: what the model must be built like (checked on the model before training).
        state: attributes a checkpoint keeps; empty when the plugin has ``state_dict``/``load_state_dict``.
        memory: the plugin's kept bytes by part; None when the plugin has ``memory_bytes()``.
        check: cross-option checks ``check(options, cfg)``, returning a problem as
            ``(setting, value, allowed, fix)`` or None (e.g. ``rank`` at most the input size).
            Settings are spelled ``regularizer.plugin.<key>``; in a combination the checks rename
            them to the part's own key (``combine.<name>.plugin.<key>``).
        owns_loop: ``plugin`` is an Avalanche strategy that owns the training loop (DER, ER-ACE,
            iCaRL), built with the model, optimizer and the other parts as its plugins; a run holds
            at most one such part. Its state and bytes are read from the strategy.
        alone: why it takes no other part in a combination (iCaRL swaps the model for its own), or None.
        compiled_step: the plugin can train under ``train.compile=compile|cudagraph``: it is a penalty the
            compiled step calls (``prepare``/``penalty``/``record_penalty``) or acts only between tasks
            (a replay buffer). False for a plugin that acts inside the step (Avalanche's
            ``before_backward`` and the like: EWC, SI, LwF, MAS, A-GEM): the config checks refuse it.
        restore: called with the plugin after a checkpoint's ``state`` attributes are set back, to
            rebuild what is derived from them and cannot be saved (a data loader's iterator).
    """

    name: str
    plugin: str | None
    options: Mapping[str, Option] = field(default_factory=dict)
    strength: str | None = None
    requires: tuple[Requirement, ...] = ()
    state: tuple[str, ...] = ()
    memory: Callable[[Any], dict[str, int]] | None = None
    check: Callable[[Mapping[str, Any], Any], tuple[str, Any, str, str] | None] | None = None
    owns_loop: bool = False
    restore: Callable[[Any], None] | None = None
    alone: str | None = None
    compiled_step: bool = False

    def defaults(self) -> dict[str, Any]:
        """Each option's default, by key: the plugin's keyword arguments when none is given."""
        return {key: option.default for key, option in self.options.items()}

    def default(self, key: str) -> Any:
        """The default of option ``key``."""
        return self.options[key].default

    def variant(self, name: str, **defaults: Any) -> "RegularizerSpec":
        """The same regularizer under another config name, with other option defaults."""
        options = {k: (Option(**{**vars(o), "default": defaults[k]}) if k in defaults else o)
                   for k, o in self.options.items()}
        return replace(self, name=name, options=options)


REGULARIZERS: Registry[RegularizerSpec] = Registry("regularizer")
"""Every declared regularizer's spec, by config name."""
_CLASSES: dict[str, type] = {}


def register(spec: RegularizerSpec) -> RegularizerSpec:
    """Adds ``spec`` under ``spec.name`` (a module-level call in the regularizer's module)."""
    return REGULARIZERS.add(spec.name, spec)


def spec_for(name: str, target: str | None = None) -> RegularizerSpec | None:
    """The spec registered as ``name``; imports ``target``'s module first when it is not there."""
    if name not in REGULARIZERS and target:
        try:
            importlib.import_module(target.rpartition(".")[0])
        except ImportError:
            return None
    return REGULARIZERS.get(name) if name in REGULARIZERS else None


def registered() -> dict[str, RegularizerSpec]:
    """Every spec registered so far (the built-in ones included), by name."""
    return REGULARIZERS.items()


def compiled_step_names() -> list[str]:
    """The regularizers that train under ``train.compile`` (their spec's ``compiled_step``), sorted."""
    return sorted(name for name, spec in registered().items() if spec.compiled_step and not spec.owns_loop)


def _plugin_class(path: str) -> type:
    if path not in _CLASSES:
        module, _, name = path.rpartition(".")
        _CLASSES[path] = getattr(importlib.import_module(module), name)
    return _CLASSES[path]


def spec_of_plugin(plugin: Any) -> RegularizerSpec | None:
    """The spec of the most specific registered class that ``plugin`` is an instance of."""
    best: tuple[int, RegularizerSpec] | None = None
    mro = type(plugin).__mro__
    for spec in registered().values():
        if spec.plugin is None:
            continue
        cls = _plugin_class(spec.plugin)
        if cls in mro and (best is None or mro.index(cls) < best[0]):
            best = (mro.index(cls), spec)
    return best[1] if best else None
