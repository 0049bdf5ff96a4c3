"""Each regularizer's declaration (RegularizerSpec) agrees with its yaml, its plugin and its Optuna preset,
and the places that used to list regularizer facts read it."""
from __future__ import annotations

import inspect
import sys
import textwrap

import pytest
import yaml
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from helpers import REPO_ROOT, compose_run_config
from laftr_cl.config.checks import ConfigError, validate_config
from laftr_cl.regularizers.memory import memory_bytes
from laftr_cl.regularizers.specs import Option, registered, spec_for, spec_of_plugin
from laftr_cl.training.guards import regularizer_strength
from laftr_cl.training.run_state import checkpointable

CONFIGS = REPO_ROOT / "configs"
REGULARIZERS = sorted(p.stem for p in (CONFIGS / "regularizer").glob("*.yaml"))


@pytest.mark.parametrize("name", REGULARIZERS)
def test_the_yaml_sets_exactly_the_declared_options_at_their_defaults(name):
    cfg = compose_run_config([f"regularizer={name}"])
    spec = spec_for(name)
    assert spec is not None and spec.name == cfg.regularizer.name == name
    plugin = cfg.regularizer.plugin
    if spec.plugin is None:
        assert plugin is None
        return
    assert get_class(plugin._target_) is get_class(spec.plugin)
    options = {k: v for k, v in OmegaConf.to_container(plugin, resolve=True).items() if k != "_target_"}
    assert set(options) == set(spec.options)
    for key, value in options.items():
        if key != "seed":  # ${seed}
            assert value == spec.options[key].default, f"{name}: {key}"
        assert spec.options[key].accepts(value)
    assert set(spec.options) <= accepted_keywords(get_class(spec.plugin))
    if spec.strength is not None:
        assert spec.strength in spec.options
        assert regularizer_strength(cfg.regularizer) == f"λ: regularizer.plugin.{spec.strength}={options[spec.strength]}"


@pytest.mark.parametrize("name", [n for n in REGULARIZERS if (CONFIGS / "hparams_search" / f"{n}_optuna.yaml").is_file()])
def test_optuna_preset_tunes_the_declared_strength(name):
    params = yaml.safe_load((CONFIGS / "hparams_search" / f"{name}_optuna.yaml").read_text())["hydra"]["sweeper"]["params"]
    assert f"regularizer.plugin.{spec_for(name).strength}" in params
    assert all(k.removeprefix("regularizer.plugin.") in spec_for(name).options for k in params if k.startswith("regularizer."))


def accepted_keywords(cls: type) -> set[str]:
    """The keywords ``cls(...)`` takes, following ``**kwargs`` up to the class it forwards them to."""
    accepted: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters
        accepted |= set(parameters)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            break
    return accepted


# a strategy that owns the loop is built with the model (tests/training/test_rehearsal_baselines.py)
@pytest.mark.parametrize("name", [n for n in REGULARIZERS if spec_for(n).plugin is not None and not spec_for(n).owns_loop])
def test_each_plugin_is_found_by_its_declaration_and_is_checkpointable(name, tmp_path):
    cfg = compose_run_config(["debug=fast", f"regularizer={name}"], tmp_path)
    plugin = instantiate(cfg.regularizer.plugin)
    assert spec_of_plugin(plugin).plugin == spec_for(name).plugin
    assert checkpointable(plugin)


def test_option_descriptions_and_checks():
    lam = Option(float, 1.0, low=0.0)
    assert lam.accepts(0) and lam.accepts(2.5) and not lam.accepts(-1) and not lam.accepts("abc")
    assert not lam.accepts(True) and not lam.accepts(float("nan"))
    decay = Option(float, 0.9, low=0.0, high=1.0, open_low=True, nullable=True)
    assert decay.describe() == "a number > 0 and <= 1 (or null)" and decay.accepts(None) and not decay.accepts(0.0)
    assert Option(int, 40, low=1).accepts(3) and not Option(int, 40, low=1).accepts(2.5)


NEW_MODULE = '''
from avalanche.core import SupervisedPlugin
from laftr_cl.regularizers.specs import Option, RegularizerSpec, register


class TinyL2(SupervisedPlugin):
    """λ · ||θ||² (a toy regularizer: the example of README's "Adding a regularizer")."""

    def __init__(self, l2_lambda: float = 0.1):
        super().__init__()
        self.l2_lambda = l2_lambda

    def before_backward(self, strategy, **kwargs):
        strategy.loss += self.l2_lambda * sum((p ** 2).sum() for p in strategy.model.parameters())

    def memory_bytes(self):
        return {"nothing": 0}


register(RegularizerSpec("tiny_l2", "tiny_l2_module.TinyL2", {"l2_lambda": Option(float, 0.1, low=0.0)},
                         strength="l2_lambda"))
'''


def test_a_new_regularizer_is_one_module_and_one_yaml(tmp_path, monkeypatch):
    (tmp_path / "tiny_l2_module.py").write_text(textwrap.dedent(NEW_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = compose_run_config(["debug=fast"], tmp_path)
    cfg.regularizer = OmegaConf.create({"name": "tiny_l2", "strategy": "naive",
                                        "plugin": {"_target_": "tiny_l2_module.TinyL2", "l2_lambda": 0.5}})
    validate_config(cfg)  # found through plugin._target_'s module
    assert regularizer_strength(cfg.regularizer) == "λ: regularizer.plugin.l2_lambda=0.5"
    cfg.regularizer.plugin.l2_lambda = -1.0
    with pytest.raises(ConfigError, match=r"regularizer.plugin.l2_lambda=-1.0: regularizer=tiny_l2 takes a number >= 0"):
        validate_config(cfg)
    assert memory_bytes(sys.modules["tiny_l2_module"].TinyL2()) == {"nothing": 0, "total": 0}
    assert "tiny_l2" in registered()


@pytest.mark.parametrize("name", REGULARIZERS)
def test_the_declared_compiled_step_support_matches_the_plugins_hooks(name):
    """``compiled_step`` (what the config checks read) says what the strategy's own check finds in the
    plugin: a penalty the compiled step calls, or no hook between the loss and the update."""
    from avalanche.core import SupervisedPlugin

    from laftr_cl.training.compiled_step import STEP_HOOKS

    spec = spec_for(name)
    if spec.plugin is None or spec.owns_loop:
        return
    plugin = get_class(spec.plugin)
    penalty = all(hasattr(plugin, m) for m in ("prepare", "penalty", "record_penalty"))
    inside = [h for h in STEP_HOOKS if getattr(plugin, h, None) is not getattr(SupervisedPlugin, h)]
    assert spec.compiled_step == (penalty or not inside), inside
