"""NN1: the fully connected network with sigmoid hidden layers."""
from __future__ import annotations

import torch
from torch import nn


class SigmoidMLP(nn.Module):
    """Flatten, then fully connected layers with sigmoids between them and a linear classifier."""

    def __init__(self, in_features: int = 3 * 32 * 32, hidden: tuple[int, ...] = (4096, 4096),
                 num_classes: int = 100) -> None:
        super().__init__()
        sizes = (in_features, *hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.classifier = nn.Linear(sizes[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for layer in self.hidden:
            x = torch.sigmoid(layer(x))  # the report's F.sigmoid is deprecated; same function
        return self.classifier(x)
