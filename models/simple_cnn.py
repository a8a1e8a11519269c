"""CNN2 to CNN5b: four convolutions, one max-pool, two fully connected layers."""
from __future__ import annotations

import torch
from torch import nn


def _conv_block(c_in: int, c_out: int, kernel: int, stride: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride=stride)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers)


class SimpleCNN(nn.Module):
    """conv5x5/2, conv3x3, conv3x3, conv3x3 + maxpool2, fc, fc; optional batch norm and dropout.

    The report's layers exactly: no padding, convolutions keep their bias even before batch
    norm, and ReLU follows the max-pool (the two commute, so the order is only the report's).
    """

    def __init__(self, widths: tuple[int, int, int, int] = (32, 32, 32, 64), fc_units: int = 4096,
                 batch_norm: bool = False, dropout: float = 0.0, num_classes: int = 100,
                 image_size: int = 32) -> None:
        super().__init__()
        c1, c2, c3, c4 = widths
        self.conv1 = _conv_block(3, c1, 5, 2, batch_norm)
        self.conv2 = _conv_block(c1, c2, 3, 1, batch_norm)
        self.conv3 = _conv_block(c2, c3, 3, 1, batch_norm)
        self.conv_final = _conv_block(c3, c4, 3, 1, batch_norm)
        self.pool = nn.MaxPool2d(2)
        side = ((image_size - 5) // 2 + 1 - 6) // 2  # 32 -> 14 -> 12 -> 10 -> 8 -> pool 4
        assert side > 0, f"image_size {image_size} is too small for SimpleCNN"
        self.fc1 = nn.Linear(c4 * side * side, fc_units)
        # The report calls F.dropout2d, which stays on at test time; nn.Dropout is its intent.
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc2 = nn.Linear(fc_units, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        x = torch.relu(self.pool(self.conv_final(x)))
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(self.dropout(x))
