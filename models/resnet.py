"""CNN6: torchvision's ResNet18, optionally with ImageNet weights, and a new classifier head."""
from __future__ import annotations

from torch import nn
from torchvision.models import ResNet18_Weights, resnet18

from models import pretrained as cache

WEIGHTS = ResNet18_Weights.IMAGENET1K_V1  # the weights torchvision 0.2.1 shipped, re-saved


def weights_path() -> str:
    """Where torchvision's cache keeps the ImageNet ResNet18 weights (TORCH_HOME moves it)."""
    return cache.weights_path(WEIGHTS)


def resnet18_finetune(num_classes: int = 100, pretrained: bool = True) -> nn.Module:
    """ResNet18 (ImageNet weights if pretrained) whose 1000-way head is replaced by a new one."""
    model = resnet18(weights=None)
    if pretrained:
        model.load_state_dict(cache.imagenet_state_dict(WEIGHTS))
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
