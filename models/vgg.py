"""Report 002's transfer net: torchvision's VGG11_bn features at 32x32 and the authors' head."""
from __future__ import annotations

from torch import nn
from torchvision.models import VGG11_BN_Weights, vgg11_bn

from models import pretrained as cache

WEIGHTS = VGG11_BN_Weights.IMAGENET1K_V1  # vgg11_bn-6002323d.pth, about 507 MB


def weights_path() -> str:
    """Where torchvision's cache keeps the ImageNet VGG11_bn weights (TORCH_HOME moves it)."""
    return cache.weights_path(WEIGHTS)


def vgg11_bn_head(num_classes: int = 10, pretrained: bool = True,
                  freeze_features: bool = False) -> nn.Sequential:
    """VGG11_bn's `features` (512x1x1 at 32x32; avgpool and classifier dropped) and a new head.

    The head is the authors' at commit 283aab4: 512 -> 512 -> 256 -> classes, BatchNorm1d and ReLU
    between. freeze_features sets requires_grad False on the features, so the optimizer gets only
    the head (optimizers.make_optimizer takes trainable parameters only); their BN layers still update
    their running statistics in train mode, as in the authors' runs.
    """
    backbone = vgg11_bn(weights=None)
    if pretrained:
        backbone.load_state_dict(cache.imagenet_state_dict(WEIGHTS))
    features = backbone.features
    if freeze_features:
        features.requires_grad_(False)
    return nn.Sequential(
        features, nn.Flatten(),
        nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Linear(512, 256), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, num_classes))
