"""Report 002's transfer net: torchvision's VGG11_bn features at 32x32 and the authors' head."""
from __future__ import annotations

from torch import nn
from torchvision.models import VGG11_BN_Weights
from torchvision.models.vgg import cfgs, make_layers

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
    Only the features are built: VGG11_bn's classifier (120 M parameters, dropped here) took about
    2 s a build to initialize on a CPU and 0.5 GB of memory.
    """
    features = make_layers(cfgs["A"], batch_norm=True)  # torchvision's vgg11_bn().features
    if pretrained:
        prefix = "features."
        features.load_state_dict({k[len(prefix):]: v for k, v in
                                  cache.imagenet_state_dict(WEIGHTS).items() if k.startswith(prefix)})
    else:
        init_as_torchvision(features)
    if freeze_features:
        features.requires_grad_(False)
    return nn.Sequential(
        features, nn.Flatten(),
        nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Linear(512, 256), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, num_classes))


def init_as_torchvision(features: nn.Module) -> None:
    """The initial weights torchvision's VGG gives its features (vgg.VGG.__init__ with init_weights)."""
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
