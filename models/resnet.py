"""CNN6: torchvision's ResNet18, optionally with ImageNet weights, and a new classifier head."""
from __future__ import annotations

import os
import urllib.error

import torch
from torch import nn
from torchvision.models import ResNet18_Weights, resnet18

from errors import UserError

WEIGHTS = ResNet18_Weights.IMAGENET1K_V1  # the weights torchvision 0.2.1 shipped, re-saved


def weights_path() -> str:
    """Where torchvision's cache keeps the ImageNet ResNet18 weights (TORCH_HOME moves it)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(WEIGHTS.url))


def _imagenet_state_dict() -> dict[str, torch.Tensor]:
    path = weights_path()
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            # The file name carries the first digits of its SHA-256; a corrupt download is refused.
            torch.hub.download_url_to_file(WEIGHTS.url, path, hash_prefix=path.rsplit("-", 1)[1][:8])
        except (urllib.error.URLError, OSError, RuntimeError) as e:
            raise UserError(
                f"the ImageNet weights {os.path.basename(path)} are not in {os.path.dirname(path)} "
                f"and could not be downloaded ({e}); download {WEIGHTS.url} into that directory, "
                f"or run with --no-pretrained to train from scratch") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which one
        raise UserError(f"{path} is not a readable weights file ({e}); delete it so that it is "
                        f"downloaded again, or run with --no-pretrained") from None


def resnet18_finetune(num_classes: int = 100, pretrained: bool = True) -> nn.Module:
    """ResNet18 (ImageNet weights if pretrained) whose 1000-way head is replaced by a new one."""
    model = resnet18(weights=None)
    if pretrained:
        model.load_state_dict(_imagenet_state_dict())
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
