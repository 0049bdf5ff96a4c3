"""Avalanche's rehearsal strategies that own the training loop, with the tensor fast path.

DER (DER++ when ``beta > 0``), ER-ACE and iCaRL are Avalanche strategies, not plugins: each
overrides the training epoch (DER, ER-ACE) or brings its own model and loss (iCaRL). Here each is
Avalanche's class as it is, with :class:`~laftr_cl.training.strategy.TensorLoaderMixin` serving the
current experience's minibatches from its tensors (the buffers keep Avalanche's own loaders), and
the same constructor keywords as the other strategies of a run (``tensor_benchmark``). The
regularizers of a combination run inside them as plugins.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from avalanche.training import DER, ER_ACE, ICaRL
from torch import nn

from laftr_cl.training.strategy import TensorLoaderMixin


class TensorDER(TensorLoaderMixin, DER):
    """Avalanche's ``DER``: ``CE(new) + alpha · MSE(f(x_buf), stored logits) + beta · CE(buffer)``.

    The buffer is class-balanced over the classes seen so far (``mem_size`` examples) and keeps,
    with each example, the logits of the model at the end of the task that stored it.
    """

    def __init__(self, *, tensor_benchmark: Any = None, **kwargs: Any) -> None:
        self.tensor_benchmark = tensor_benchmark
        super().__init__(**kwargs)


class TensorERACE(TensorLoaderMixin, ER_ACE):
    """Avalanche's ``ER_ACE``: the new examples' cross-entropy over the current minibatch's classes
    only (asymmetric), the buffer's over every class; a class-balanced buffer of ``mem_size``."""

    def __init__(self, *, tensor_benchmark: Any = None, **kwargs: Any) -> None:
        self.tensor_benchmark = tensor_benchmark
        super().__init__(**kwargs)


def split_classifier(model: nn.Module) -> tuple[nn.Module, nn.Linear]:
    """``(feature extractor, last Linear)`` of a run's model (a task-masked ``nn.Sequential``)."""
    net = getattr(model, "net", model)
    if not isinstance(net, nn.Sequential) or not isinstance(net[-1], nn.Linear):
        raise ValueError(f"iCaRL needs a network whose last layer is a Linear classifier; "
                         f"{type(net).__name__} is not an nn.Sequential ending in one")
    return nn.Sequential(*list(net)[:-1]), net[-1]


class TensorICaRL(TensorLoaderMixin, ICaRL):
    """Avalanche's ``ICaRL``: herding exemplars (``memory_size`` in all with ``fixed_memory``), a
    sigmoid distillation loss on the old classes, and nearest-class-mean prediction at test time.

    Takes the run's model and splits it into the feature extractor (every layer but the last) and
    the classifier (the last ``Linear``); iCaRL brings its own loss, so ``criterion`` is ignored.
    """

    def __init__(self, *, model: nn.Module, memory_size: int, fixed_memory: bool = True,
                 tensor_benchmark: Any = None, criterion: Any = None, **kwargs: Any) -> None:
        self.tensor_benchmark = tensor_benchmark
        features, classifier = split_classifier(model)
        super().__init__(feature_extractor=features, classifier=classifier, memory_size=memory_size,
                         buffer_transform=None, fixed_memory=fixed_memory, **kwargs)

    def _before_training_exp(self, **kwargs: Any) -> None:
        self.experience.benchmark = self._class_split()
        super()._before_training_exp(**kwargs)

    def _class_split(self) -> SimpleNamespace:
        """What Avalanche's iCaRL reads of a class-incremental benchmark (``n_classes_per_exp``,
        ``classes_order``), which the tensor scenarios do not carry: from the tasks' classes."""
        classes = [list(c) for c in self.tensor_benchmark.task_classes]
        return SimpleNamespace(n_classes_per_exp=[len(c) for c in classes],
                               classes_order=[c for task in classes for c in task])

    @property
    def icarl_state(self) -> dict[str, Any]:
        """The exemplars, herding order, class means and the loss's old model (for checkpoints)."""
        memory, loss = self._icarl_plugins()
        keys = ("x_memory", "y_memory", "order", "observed_classes", "class_means", "embedding_size",
                "output_size", "input_size")
        return {"memory": {k: getattr(memory, k) for k in keys},
                "loss": {"old_classes": loss.old_classes, "old_model": loss.old_model}}

    @icarl_state.setter
    def icarl_state(self, state: dict[str, Any]) -> None:
        memory, loss = self._icarl_plugins()
        vars(memory).update(state["memory"])
        vars(loss).update(state["loss"])
        if memory.class_means:
            self.model.eval_classifier.replace_class_means_dict(memory.class_means)

    def _icarl_plugins(self) -> tuple[Any, Any]:
        from avalanche.training.losses import ICaRLLossPlugin
        from avalanche.training.supervised.icarl import _ICaRLPlugin

        memory = next(p for p in self.plugins if isinstance(p, _ICaRLPlugin))
        loss = next(p for p in self.plugins if isinstance(p, ICaRLLossPlugin))
        return memory, loss

