"""The declarations of the rehearsal baselines, all Avalanche's: ``der`` (DER++), ``er_ace``, ``icarl``
(strategies that own the training loop), ``agem``, ``gem`` and ``gdumb`` (plugins).

Buffer sizes are in examples (``mem_size``, ``memory_size``, or ``patterns_per_experience`` per
task for the GEM family); bytes are counted from what each keeps: an example is its input plus an
int64 class and an int64 task label (:func:`example_bytes`), DER adds one float32 logit vector per
example, iCaRL its class means and the previous model, GDumb the initial model it restarts from.
This module imports neither torch nor Avalanche (the config checks read it).
"""
from __future__ import annotations

import importlib.util
from typing import Any, Mapping

from laftr_cl.regularizers.memory import tensor_bytes
from laftr_cl.regularizers.specs import Option, RegularizerSpec, register

LABEL_BYTES = 16
"""An int64 class label and an int64 task label per stored example."""


def _size(default: int, doc: str) -> Option:
    return Option(int, default, doc, low=1)


def example_bytes(x: Any) -> int:
    """Bytes of one stored example with input ``x`` (one example, any shape)."""
    return x.numel() * x.element_size() + LABEL_BYTES


def dataset_bytes(dataset: Any) -> int:
    """Bytes of the examples of an Avalanche dataset (a buffer): ``len × example_bytes``."""
    return len(dataset) * example_bytes(dataset[0][0]) if len(dataset) else 0


# ---------------------------------------------------------------- strategies that own the loop
def _one_head(name: str, why: str) -> Any:
    def check(options: Mapping[str, Any], cfg: Any) -> tuple[str, Any, str, str] | None:
        scenario = cfg.benchmark.get("scenario")
        if scenario == "task":
            return ("benchmark.scenario", scenario, f"regularizer={name} {why}", "benchmark.scenario=class")
        return None
    return check


def _der_bytes(strategy: Any) -> dict[str, int]:
    buffer = strategy.storage_policy.buffer
    if len(buffer) == 0:
        return {"examples": 0, "logits": 0}
    logits = buffer[0][3]
    return {"examples": dataset_bytes(buffer), "logits": len(buffer) * logits.numel() * logits.element_size()}


register(RegularizerSpec(
    name="der",
    plugin="laftr_cl.training.rehearsal_strategies.TensorDER",
    strength="alpha",
    options={
        "mem_size": _size(200, "examples in the class-balanced buffer (each with its logits)"),
        "batch_size_mem": _size(128, "buffer examples replayed per step (the yaml: train.batch_size)"),
        "alpha": Option(float, 0.1, "α, weight of the MSE to the stored logits", low=0.0),
        "beta": Option(float, 0.5, "β, weight of the buffer's cross-entropy (DER++ when > 0)", low=0.0),
    },
    state=("storage_policy",),
    memory=_der_bytes,
    check=_one_head("der", "needs one head: Avalanche's DER stores the buffer's logits by calling the model "
                    "without task labels, which a multi-head (task-incremental) model cannot answer"),
    owns_loop=True,
))


def _buffer_bytes(holder: Any) -> dict[str, int]:
    return {"examples": dataset_bytes(holder.storage_policy.buffer)}


register(RegularizerSpec(
    name="er_ace",
    plugin="laftr_cl.training.rehearsal_strategies.TensorERACE",
    options={
        "mem_size": _size(200, "examples in the class-balanced buffer"),
        "batch_size_mem": _size(128, "buffer examples replayed per step (the yaml: train.batch_size)"),
    },
    state=("storage_policy",),
    memory=_buffer_bytes,
    owns_loop=True,
))


def _icarl_bytes(strategy: Any) -> dict[str, int]:
    state = strategy.icarl_state
    memory, old_model = state["memory"], state["loss"]["old_model"]
    examples = sum(len(x) * example_bytes(x[0]) for x in memory["x_memory"] if len(x))
    return {"examples": examples, "class_means": tensor_bytes(memory["class_means"].values()),
            "snapshot": tensor_bytes(old_model.parameters()) if old_model is not None else 0}


def _class_incremental(options: Mapping[str, Any], cfg: Any) -> tuple[str, Any, str, str] | None:
    scenario = cfg.benchmark.get("scenario")
    if scenario != "class":
        return ("benchmark.scenario", scenario, "regularizer=icarl is a class-incremental method: one head, new classes "
                "in each task (its exemplars and class means are per class, and a class seen again breaks them)",
                "benchmark.scenario=class")
    return None


register(RegularizerSpec(
    name="icarl",
    plugin="laftr_cl.training.rehearsal_strategies.TensorICaRL",
    options={
        "memory_size": _size(200, "herding exemplars in all (fixed_memory) or per class"),
        "fixed_memory": Option(bool, True, "memory_size is the whole memory, shared by the classes seen"),
    },
    state=("icarl_state",),
    alone="iCaRL replaces the model by its own pair of classifiers (nearest class mean at test time) and "
          "brings its own loss, which the other parts' terms and summaries do not see",
    memory=_icarl_bytes,
    check=_class_incremental,
    owns_loop=True,
))


# ---------------------------------------------------------------- plugins
def _agem_bytes(plugin: Any) -> dict[str, int]:
    return {"examples": sum(dataset_bytes(d) for d in plugin.buffers)}


def _agem_restore(plugin: Any) -> None:
    """Rebuilds the loader over the restored buffers, as ``AGEMPlugin.update_memory`` leaves it."""
    if not plugin.buffers:
        return
    from avalanche.benchmarks.utils.data_loader import GroupBalancedInfiniteDataLoader

    plugin.buffer_dataloader = GroupBalancedInfiniteDataLoader(
        plugin.buffers, batch_size=plugin.sample_size // len(plugin.buffers), num_workers=0,
        pin_memory=False, persistent_workers=False)
    plugin.buffer_dliter = iter(plugin.buffer_dataloader)


register(RegularizerSpec(
    name="agem",
    plugin="avalanche.training.plugins.AGEMPlugin",
    options={
        "patterns_per_experience": _size(40, "examples kept per task"),
        "sample_size": _size(64, "buffer examples drawn per step for the reference gradient"),
    },
    state=("buffers",),
    memory=_agem_bytes,
    restore=_agem_restore,
))


def _gem_bytes(plugin: Any) -> dict[str, int]:
    return {"examples": sum(len(x) * example_bytes(x[0]) for x in plugin.memory_x.values())}


def _gem_check(options: Mapping[str, Any], cfg: Any) -> tuple[str, Any, str, str] | None:
    if importlib.util.find_spec("quadprog") is None:
        return ("regularizer", "gem", "Avalanche's GEMPlugin solves its projection with the quadprog package, "
                "which is not installed (`pip install quadprog` adds it)", "regularizer=agem")
    return None


register(RegularizerSpec(
    name="gem",
    plugin="avalanche.training.plugins.GEMPlugin",
    strength="memory_strength",
    options={
        "patterns_per_experience": _size(40, "examples kept per task"),
        "memory_strength": Option(float, 0.5, "γ, the margin added to the projected gradient", low=0.0),
    },
    state=("memory_x", "memory_y", "memory_tid"),
    memory=_gem_bytes,
    check=_gem_check,
))


def _gdumb_bytes(plugin: Any) -> dict[str, int]:
    init = plugin.init_model
    return {**_buffer_bytes(plugin), "snapshot": tensor_bytes(init.parameters()) if init is not None else 0}


register(RegularizerSpec(
    name="gdumb",
    plugin="avalanche.training.plugins.GDumbPlugin",
    options={"mem_size": _size(200, "examples in the class-balanced buffer the model is retrained on")},
    state=("storage_policy", "init_model"),
    memory=_gdumb_bytes,
    compiled_step=True,
))
