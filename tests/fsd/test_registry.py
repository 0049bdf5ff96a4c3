"""The one name → item registry behind every choice made by name (FSD options, benchmarks, strategies,
regularizer specs)."""
import pytest

from helpers import run_python
from laftr_cl.fsd.registry import Registry


def test_unknown_name_lists_the_choices_and_names_the_closest():
    registry: Registry[int] = Registry("inputs")
    for name, value in [("full", 1), ("diag", 2), ("lowrank", 3)]:
        registry.add(name, value)
    assert registry.get("diag") == 2 and "lowrank" in registry and list(registry) == ["diag", "full", "lowrank"]
    with pytest.raises(ValueError, match=r"Unknown inputs='lowrnk': choose one of diag, full, lowrank\. "
                                         r"Did you mean inputs=lowrank\?"):
        registry.get("lowrnk")
    with pytest.raises(ValueError) as err:
        registry.get("xyz")
    assert "Did you mean" not in str(err.value)


def test_a_name_holds_one_item():
    registry: Registry[str] = Registry("metric")
    registry.register("kl")("first")
    registry.add("kl", "first")  # the same item again (a module imported twice): no change
    with pytest.raises(ValueError, match="metric='kl' is registered twice"):
        registry.add("kl", "second")
    assert registry.items() == {"kl": "first"}


def test_the_four_registries_are_one_class():
    from laftr_cl.benchmarks import BENCHMARKS
    from laftr_cl.fsd import ESTIMATORS, INPUT_MODELS, METRICS
    from laftr_cl.fsd.methods import FSD_METHODS
    from laftr_cl.regularizers.specs import REGULARIZERS
    from laftr_cl.training.strategy import STRATEGIES

    for registry in (BENCHMARKS, ESTIMATORS, INPUT_MODELS, METRICS, FSD_METHODS, REGULARIZERS, STRATEGIES):
        assert isinstance(registry, Registry) and len(registry) >= 2
    with pytest.raises(ValueError, match="Did you mean regularizer.strategy=naive"):
        STRATEGIES.get("naiv")


@pytest.mark.slow
def test_specs_and_registry_load_without_torch():
    code = ("import sys; import laftr_cl.regularizers.specs as s; assert 'laftr' in s.registered(); "
            "print('torch' in sys.modules)")
    out = run_python(["-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
