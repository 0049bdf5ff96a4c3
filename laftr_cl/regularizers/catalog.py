"""The declarations (:class:`~laftr_cl.regularizers.specs.RegularizerSpec`) of the built-in regularizers.

One spec per ``configs/regularizer/<name>.yaml``: the project's plugins (``laftr``, ``laftr_lowrank``,
``liftr``, ``coreset_fsd``, ``ntk_fsd``, ``si``) and Avalanche's (``ewc``, ``ewc_online``, ``lwf``, ``mas``,
``replay``), and the two without a plugin (``none``, ``joint``). The option defaults declared here
are the project's plugins' signature defaults (they read them from here) and the values the yaml
files set (a test compares the values for every regularizer).
"""
from __future__ import annotations

from typing import Any, Mapping

from laftr_cl.regularizers.memory import tensor_bytes
from laftr_cl.regularizers.specs import REGULARIZERS, Option, RegularizerSpec, Requirement, register


def _fsd_names(registry: str) -> Any:
    """The names of one of the FSD core's registries, read when first needed (it imports torch)."""
    def names() -> list[str]:
        import laftr_cl.fsd as fsd

        found = getattr(fsd, registry)
        return found.names() if hasattr(found, "names") else list(found)
    return names


def _strength(default: float, doc: str = "λ, the weight of the regularizer's term") -> Option:
    return Option(float, default, doc, low=0.0)


def _positive_int(default: int | None, doc: str, nullable: bool = False) -> Option:
    return Option(int, default, doc, low=1, nullable=nullable)


METRIC = Option(str, "l2_prob", "ρ, the output discrepancy", choices=_fsd_names("METRICS"))
SUMMARY_BATCH = _positive_int(1000, "examples per forward pass when a task is summarized")
SEED = Option(int, 0, "draws the stored inputs", low=0)


# ---------------------------------------------------------------- the project's FSD regularizers
def _reads_gate_statistics(estimator: str) -> bool:
    from laftr_cl.fsd import ESTIMATORS

    return ESTIMATORS.get(estimator).reads_gate_statistics


def _laftr_check(options: Mapping[str, Any], cfg: Any) -> tuple[str, Any, str, str] | None:
    rank, coreset_size = LAFTR.default("rank"), LAFTR.default("coreset_size")
    if options.get("estimator") == "exact" and options.get("metric") != "l2_logit":
        return ("regularizer.plugin.metric", options.get("metric"),
                "estimator=exact is the closed form of the l2_logit metric only", "regularizer.plugin.metric=l2_logit")
    if options.get("rates") == "none" and _reads_gate_statistics(options.get("estimator")):
        return ("regularizer.plugin.rates", "none",
                f"rates=none keeps no firing rates, and estimator={options.get('estimator')} reads them "
                "(only estimator=relu gates by the reference network itself; or keep rates=per_unit)",
                "regularizer.plugin.estimator=relu")
    if options.get("inputs") == "lowrank" and options.get("rank") is None:
        return ("regularizer.plugin.rank", None, "inputs=lowrank needs an integer rank k >= 1",
                f"regularizer.plugin.rank={rank}")
    dim = cfg.benchmark.get("input_size")
    if options.get("inputs") == "lowrank" and isinstance(dim, int) and options.get("rank", 0) > dim:
        return ("regularizer.plugin.rank", options["rank"],
                f"inputs=lowrank keeps rank k <= d directions, and benchmark={cfg.benchmark.name} has d={dim} inputs",
                f"regularizer.plugin.rank={min(rank, dim)}")
    if options.get("inputs") == "coreset" and options.get("coreset_size") is None:
        return ("regularizer.plugin.coreset_size", None, "inputs=coreset needs an integer coreset_size m >= 1",
                f"regularizer.plugin.coreset_size={coreset_size}")
    return None


LAFTR = register(RegularizerSpec(
    name="laftr",
    plugin="laftr_cl.regularizers.laftr.LaftrPlugin",
    strength="fsd_lambda",
    options={
        "fsd_lambda": _strength(1.0),
        "estimator": Option(str, "bernoulli", "how the gates are drawn", choices=_fsd_names("ESTIMATORS")),
        "metric": METRIC,
        "num_samples": _positive_int(40, "S, draws per task per step"),
        "inputs": Option(str, "full", "the input model", choices=_fsd_names("INPUT_MODELS")),
        "rank": _positive_int(20, "k of the lowrank input model", nullable=True),
        "coreset_size": _positive_int(100, "m stored inputs per task (per class with classwise)", nullable=True),
        "classwise": Option(bool, False, "one (input model, firing rates) per class of the task"),
        "rates": Option(str, "per_unit", "one firing rate per unit, per conv channel, or none "
                        "(estimator=relu only)", choices=_fsd_names("RATES")),
        "gate_draws": Option(str, "per_input", "one gate vector per input or per step",
                             choices=_fsd_names("GATE_DRAWS")),
        "same_dropout": Option(bool, False, "one shared dropout mask for both networks inside the FSD"),
        "smooth_ops": Option(str, "exact", "norms, softmax and elementwise functions of the current network: "
                             "exact, or linearized at the reference", choices=_fsd_names("SMOOTH_OPS")),
        "anchor": Option(str, "per_task", "which snapshots θ_t are kept", choices=_fsd_names("ANCHORS")),
        "bn_stats": Option(str, "reference", "whose BatchNorm running statistics the current network uses "
                           "inside the FSD (current: the estimate sees their drift)", choices=_fsd_names("BN_STATS")),
        "seed": Option(int, 0, "draws the stored inputs of inputs=coreset", low=0),
        "summary_batch_size": SUMMARY_BATCH,
        "storage_dtype": Option(str, "float32", "the dtype the kept firing rates and input statistics are stored in",
                                choices=("float32", "float16"), nullable=True),
    },
    requires=(Requirement("linearizable"), Requirement("mlp", when={"estimator": "exact"})),
    check=_laftr_check,
    compiled_step=True,
))
register(LAFTR.variant("laftr_lowrank", inputs="lowrank"))

def _liftr_check(options: Mapping[str, Any], cfg: Any) -> tuple[str, Any, str, str] | None:
    if options.get("covariance") == "full" and cfg.model.get("name") == "vit":
        return ("regularizer.plugin.covariance", "full",
                "covariance=full keeps a (tokens·width)² covariance per layer and task (41 MB per layer for 50 tokens "
                "of width 64) and propagates one as large each step: with model=vit keep variances",
                "regularizer.plugin.covariance=diag")
    return None


LIFTR = register(RegularizerSpec(
    name="liftr",
    plugin="laftr_cl.regularizers.liftr.LiftrPlugin",
    strength="fsd_lambda",
    options={
        "fsd_lambda": _strength(1.0),
        "mode": Option(str, "deterministic", "moments in closed form, or draws", choices=_fsd_names("LIFTR_MODES")),
        "covariance": Option(str, "full", "each layer's input covariance kept full or diagonal",
                             choices=_fsd_names("LIFTR_COVARIANCES")),
        "num_samples": _positive_int(32, "S, draws per task per step (mode=stochastic)"),
        "summary_batch_size": SUMMARY_BATCH,
    },
    requires=(Requirement("liftr_network"),),
    check=_liftr_check,
    compiled_step=True,
))

_MEMORY_FSD = {
    "fsd_lambda": _strength(1.0),
    "coreset_size": _positive_int(40, "m stored inputs per task"),
    "metric": METRIC,
    "seed": SEED,
    "summary_batch_size": SUMMARY_BATCH,
}
CORESET_FSD = register(RegularizerSpec("coreset_fsd", "laftr_cl.regularizers.coreset_fsd.CoresetFsdPlugin",
                                       _MEMORY_FSD, strength="fsd_lambda", compiled_step=True))
NTK_FSD = register(RegularizerSpec("ntk_fsd", "laftr_cl.regularizers.ntk_fsd.NtkFsdPlugin", _MEMORY_FSD,
                                   strength="fsd_lambda", compiled_step=True))


# ---------------------------------------------------------------- Avalanche's plugins
def _ewc_bytes(plugin: Any) -> dict[str, int]:
    return {"importances": sum(tensor_bytes(d.values()) for d in plugin.importances.values()),
            "snapshot": sum(tensor_bytes(d.values()) for d in plugin.saved_params.values())}


def _ewc_check(options: Mapping[str, Any], cfg: Any) -> tuple[str, Any, str, str] | None:
    if options.get("mode") == "online" and options.get("decay_factor") is None:
        return ("regularizer.plugin.decay_factor", None, "online EWC needs a decay factor in (0, 1]",
                f"regularizer.plugin.decay_factor={REGULARIZERS.get('ewc_online').default('decay_factor')}")
    return None


EWC = register(RegularizerSpec(
    name="ewc",
    plugin="avalanche.training.plugins.EWCPlugin",
    strength="ewc_lambda",
    options={
        "ewc_lambda": _strength(10000.0),
        "mode": Option(str, "separate", "one Fisher per task, or one running Fisher", choices=("separate", "online")),
        "decay_factor": Option(float, None, "online mode: weight of the previous Fisher", low=0.0, high=1.0,
                               open_low=True, nullable=True),
    },
    state=("saved_params", "importances"),
    memory=_ewc_bytes,
    check=_ewc_check,
))
register(EWC.variant("ewc_online", mode="online", decay_factor=0.9))


def _si_bytes(plugin: Any) -> dict[str, int]:
    snapshot, importances = plugin.ewc_data
    return {"importances": tensor_bytes(importances.values()), "snapshot": tensor_bytes(snapshot.values())}


SI = register(RegularizerSpec(
    name="si",
    plugin="laftr_cl.regularizers.si.SynapticIntelligence",
    strength="si_lambda",
    options={
        "si_lambda": _strength(1000.0),
        "eps": Option(float, 0.001, "damping of the importance's denominator (0 divides by zero)", low=0.0,
                      open_low=True),
    },
    state=("ewc_data", "syn_data"),
    memory=_si_bytes,
))


def _mas_bytes(plugin: Any) -> dict[str, int]:
    return {"importances": tensor_bytes((plugin.importance or {}).values()),
            "snapshot": tensor_bytes((plugin.params or {}).values())}


register(RegularizerSpec(
    name="mas",
    plugin="avalanche.training.plugins.MASPlugin",
    strength="lambda_reg",
    options={"lambda_reg": _strength(1.0),
             "alpha": Option(float, 0.5, "decay of the running importance", low=0.0, high=1.0)},
    state=("params", "importance"),
    memory=_mas_bytes,
))


def _lwf_bytes(plugin: Any) -> dict[str, int]:
    prev = plugin.lwf.prev_model
    return {"snapshot": tensor_bytes(prev.parameters()) if prev is not None else 0}


register(RegularizerSpec(
    name="lwf",
    plugin="avalanche.training.plugins.LwFPlugin",
    strength="alpha",
    options={"alpha": _strength(1.0, "α, the weight of the distillation term"),
             "temperature": Option(float, 2.0, "softmax temperature of the distillation", low=0.0, open_low=True)},
    state=("lwf",),
    memory=_lwf_bytes,
))


def _replay_bytes(plugin: Any) -> dict[str, int]:
    buffer = plugin.storage_policy.buffer
    if len(buffer) == 0:
        return {"examples": 0}
    x = buffer[0][0]
    return {"examples": len(buffer) * (x.numel() * x.element_size() + 16)}  # + a label and a task id


register(RegularizerSpec(
    name="replay",
    plugin="avalanche.training.plugins.ReplayPlugin",
    options={"mem_size": _positive_int(200, "examples in the class-balanced buffer")},
    state=("storage_policy",),
    memory=_replay_bytes,
    compiled_step=True,
))


# ---------------------------------------------------------------- no plugin
register(RegularizerSpec("none", None, compiled_step=True))
register(RegularizerSpec("joint", None, alone="regularizer=joint trains on all tasks at once with Avalanche's "
                         "own loop and takes no other regularizer"))
