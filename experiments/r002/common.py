"""Report 002's CNN_5, its initialization and training setting, shared by its steps."""
import dataclasses

from torch import nn

from config import Config


def _block(c_in: int, c_out: int, batch_norm: bool, dropout: float) -> list[nn.Module]:
    """Convolution, [batch norm], max-pool, ReLU, [dropout]: the assignment's order."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1), *([nn.BatchNorm2d(c_out)] if batch_norm else []),
            nn.MaxPool2d(2, 2), nn.ReLU(), *([nn.Dropout(dropout)] if dropout > 0 else [])]


def init_linear(model: nn.Module) -> nn.Module:
    """The template's weights_init: every nn.Linear ~ N(0, 0.001^2), bias 0; convolutions keep PyTorch's."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 1e-3)
            nn.init.zeros_(m.bias)
    return model


def cnn5(batch_norm: bool = False, dropout: float = 0.0, num_classes: int = 10) -> nn.Sequential:
    """CNN_5: five 3x3 blocks 128, 512, 512, 512, 512 take 32x32 to 512x1x1; one Linear to the classes."""
    layers: list[nn.Module] = []
    c_in = 3
    for width in (128, 512, 512, 512, 512):                                 # 32 -> 16 -> 8 -> 4 -> 2 -> 1
        layers += _block(c_in, width, batch_norm, dropout)
        c_in = width
    return init_linear(nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, num_classes)))


# Adam 2e-3, weight decay 1e-3, lr x0.95 per epoch, batch 200, 20 epochs; last 1,000 images
# validate and see the training transform (quirk 1); the test figure is the first 1,000 (quirk 2).
CONFIG = Config(dataset="cifar10", optimizer="adam", lr=2e-3, weight_decay=1e-3, lr_decay=0.95,
                batch_size=200, epochs=20, val_split="last", val_size=1000, val_transform="train",
                test_limit=1000)

# Q2.b: the code's rule; max epochs "arbitrarily large", the published runs 40; best weights tested.
ES_CONFIG = dataclasses.replace(CONFIG, epochs=40, early_stopping="baseline", monitor="val_accuracy",
                                patience=10, min_delta=1e-5, keep="best")

# Q4, VGG11_bn: the authors' Adam lr 0.01 without weight decay, lr x0.99 per epoch, ImageNet
# weights; 30 epochs (full fine-tune, scratch; partial: 40). No early stopping (see __init__).
VGG_CONFIG = dataclasses.replace(CONFIG, lr=0.01, weight_decay=0.0, lr_decay=0.99, epochs=30,
                                 pretrained=True)
