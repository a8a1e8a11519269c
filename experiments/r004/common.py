"""Report 004's networks, normalization and training setting, shared by its steps."""
import torch
from torch import nn
from torchvision.transforms import v2

from config import Config

# The starter's Normalize: mean 0.5, std 0.25 per channel.
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
TRANSFORM = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])

# Batch 64, 10 epochs, a random 5,000 held out; evaluated twice per epoch and before training.
CONFIG = Config(dataset="cifar10", batch_size=64, epochs=10, val_split="random", val_size=5000,
                eval_every=0.5, eval_at_start=True)


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 5, padding=2)  # 5x5, padding 2: the size stays, pools halve it


def lenet(num_classes: int = 10) -> nn.Sequential:
    """Task 1: three 5x5 convolutions (32, 64, 128), each ReLU and 2x2 max-pool, fc 2048 -> 64 -> classes."""
    return nn.Sequential(
        _conv(3, 32), nn.ReLU(), nn.MaxPool2d(2, 2),                        # 32 -> 16
        _conv(32, 64), nn.ReLU(), nn.MaxPool2d(2, 2),                       # 8
        _conv(64, 128), nn.ReLU(), nn.MaxPool2d(2, 2),                      # 4: 128 x 4 x 4 = 2,048
        nn.Flatten(), nn.Linear(2048, 64), nn.ReLU(), nn.Linear(64, num_classes))


def model1(num_classes: int = 10) -> nn.Sequential:
    """Table 2, Model 1: conv 32, then pairs (64, 128) and (256, 512), batch norm before each pool."""
    return xavier(nn.Sequential(
        _conv(3, 32), nn.ReLU(), nn.Dropout2d(0.1), nn.BatchNorm2d(32), nn.MaxPool2d(2, 2),  # 16
        _conv(32, 64), nn.ReLU(), _conv(64, 128), nn.ReLU(), nn.BatchNorm2d(128),
        nn.MaxPool2d(2, 2),                                                                 # 8
        _conv(128, 256), nn.ReLU(), _conv(256, 512), nn.ReLU(), nn.BatchNorm2d(512),
        nn.MaxPool2d(2, 2),                                                                 # 4
        nn.Flatten(), nn.Linear(512 * 4 * 4, 2048), nn.ReLU(), nn.Linear(2048, 64), nn.ReLU(),
        nn.BatchNorm1d(64), nn.Linear(64, num_classes)))


def model2(num_classes: int = 10) -> nn.Sequential:
    """Table 2, Model 2: LeNet with dropout on the first convolution and batch norm before each ReLU."""
    return xavier(nn.Sequential(
        _conv(3, 32), nn.Dropout2d(0.1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2, 2),  # 16
        _conv(32, 64), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2, 2),                   # 8
        _conv(64, 128), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2, 2),                 # 4
        nn.Flatten(), nn.Linear(2048, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, num_classes)))


def xavier(model: nn.Module) -> nn.Module:
    """Xavier-uniform weights for every Conv2d and Linear, biases 0 (the report's "Xavier distribution")."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model
