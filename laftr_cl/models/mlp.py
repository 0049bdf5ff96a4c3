"""Multi-layer perceptron with ReLU hidden layers."""
from __future__ import annotations

from typing import Sequence

from torch import nn


class MLP(nn.Sequential):
    """``Flatten → (Linear → ReLU [→ Dropout])* → Linear``.

    Input ``[B, *input_shape]`` (flattened to ``[B, prod(input_shape)]``), output logits
    ``[B, num_outputs]``. A plain ``nn.Sequential`` so that the FSD core can walk its layers.
    """

    def __init__(
        self,
        input_size: int = 784,
        hidden_sizes: Sequence[int] = (512, 512),
        num_outputs: int = 10,
        dropout: float = 0.0,
    ) -> None:
        if input_size < 1 or num_outputs < 1 or any(h < 1 for h in hidden_sizes):
            raise ValueError(
                f"MLP sizes must be positive: got input_size={input_size}, "
                f"hidden_sizes={list(hidden_sizes)}, num_outputs={num_outputs}. "
                "Fix model.hidden_sizes (e.g. model.hidden_sizes=[512,512])."
            )
        layers: list[nn.Module] = [nn.Flatten()]
        width = input_size
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_outputs))
        super().__init__(*layers)
