"""Report 001's networks, normalization and training setting, shared by its steps."""
import torch
from torch import nn
from torchvision.transforms import v2

from config import Config

# The report's Normalize (1.1.2). data.channel_stats of the 50,000 CIFAR-10 training images gives
# the unrounded values it prints in 1.1.3 (tests/test_data.py checks both when CIFAR-10 is on disk).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.247, 0.243, 0.261)
PUBLISHED_MEAN = (0.49139967861519607, 0.48215840839460783, 0.44653091444546567)
PUBLISHED_STD = (0.2470322324632819, 0.24348512800005573, 0.26158784172796434)
TRANSFORM = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])

# SGD lr 0.001, momentum 0.9, batch 32, 20 epochs, 1,000 of the training images for validation.
CONFIG = Config(dataset="cifar10", optimizer="sgd", lr=1e-3, momentum=0.9, batch_size=32, epochs=20,
                val_split="random", val_size=1000)


def _drop(p: float) -> list[nn.Module]:
    return [nn.Dropout(p)] if p > 0 else []


def net_a(dropout: float = 0.0, num_classes: int = 10) -> nn.Sequential:
    """1.2.1: two 3x3 convolutions, max-pool, two more, max-pool, fc 1600 -> 512 -> classes; no padding."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),    # 32 -> 30 -> 28
        nn.MaxPool2d(2, 2), *_drop(dropout),                                # 14
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(),   # 12 -> 10
        nn.MaxPool2d(2, 2), *_drop(dropout),                                # 5: 64 x 5 x 5 = 1,600
        nn.Flatten(), nn.Linear(1600, 512), nn.ReLU(), nn.Linear(512, num_classes))


def net_b(dropout: float = 0.2, num_classes: int = 10) -> nn.Sequential:
    """1.3.7: four blocks of two padded 3x3 convolutions (32, 64, 128, 256), each block pooled and dropped."""
    layers: list[nn.Module] = []
    c_in = 3
    for width in (32, 64, 128, 256):                                        # 32 -> 16 -> 8 -> 4 -> 2
        layers += [nn.Conv2d(c_in, width, 3, padding=1), nn.ReLU(),
                   nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                   nn.MaxPool2d(2, 2), *_drop(dropout)]
        c_in = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(256 * 2 * 2, 512), nn.ReLU(),
                         nn.Linear(512, num_classes))
