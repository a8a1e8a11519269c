"""Report 003's network, normalization, transforms and training setting, shared by its steps."""
import torch
from torch import nn
from torchvision.transforms import v2

from config import Config

# The 40,000 training images' channel statistics as the author's test script hardcodes them;
# data.channel_stats(train_images[:40000]) gives the unrounded values.
MEAN = (0.491, 0.482, 0.446)
STD = (0.247, 0.244, 0.262)
_TO_TENSOR = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)]
TRAIN_TRANSFORM = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(), *_TO_TENSOR])
TEST_TRANSFORM = v2.Compose(_TO_TENSOR)

# Adam lr 1e-3, batch 64, at most 100 epochs; batches 1-4 / batch 5; stop after 5 epochs without
# a better validation accuracy and keep the best weights. snapshots: the t-SNE figure's weights.
CONFIG = Config(dataset="cifar10", optimizer="adam", lr=1e-3, batch_size=64, epochs=100,
                val_split="batch5", early_stopping="patience", patience=5,
                monitor="val_accuracy", keep="best", snapshots=True)

LATENT = 2048  # 128 channels x 4 x 4 after three poolings: the t-SNE's "latent space"


def net(kernels=(3, 3, 3), batch_norm=True, dropout=0.0, num_classes=10) -> nn.Sequential:
    """Three conv blocks (32, 64, 128; each conv, BN, ReLU, 2x2 average pool), then fc 2048-512-128-classes.

    The Flatten's output is the 2,048-d latent (latent_index); fc3, the last layer, gives the logits.
    """
    def norm(kind, c):
        return [kind(c)] if batch_norm else []

    def drop():
        return [nn.Dropout(dropout)] if dropout > 0 else []

    layers: list[nn.Module] = []
    c_in = 3
    for k, width in zip(kernels, (32, 64, 128)):                   # 32 -> 16 -> 8 -> 4
        layers += [nn.Conv2d(c_in, width, k, padding=k // 2), *norm(nn.BatchNorm2d, width),
                   nn.ReLU(), nn.AvgPool2d(2, 2)]
        c_in = width
    return nn.Sequential(
        *layers, nn.Flatten(), *drop(),                            # 128 x 4 x 4 = 2,048
        nn.Linear(LATENT, 512), *norm(nn.BatchNorm1d, 512), nn.ReLU(), *drop(),
        nn.Linear(512, 128), *norm(nn.BatchNorm1d, 128), nn.ReLU(),
        nn.Linear(128, num_classes))


def latent_index(model: nn.Sequential) -> int:
    """The position of the Flatten in net(): model[:i + 1] gives the 2,048-d latent."""
    return next(i for i, m in enumerate(model) if isinstance(m, nn.Flatten))
