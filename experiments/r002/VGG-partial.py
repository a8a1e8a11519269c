"""002-VGG-partial, report 002 Q4: VGG11_bn partial.

VGG11_bn's features at 32x32 (512x1x1) and the authors' head 512 -> 512 -> 256 -> 10 with
BatchNorm1d and ReLU (models/vgg.py). ImageNet VGG11_bn features frozen (requires_grad False, their
BN running statistics still updating in train mode); only the head is optimized. lr 0.01, x0.99 per
epoch, 40 epochs. Training transform: a horizontal flip, ImageNet normalization. Quirks 1 and 2
change the numbers: the validation images and (ex3_pretrained.py) the test images too go through the
training transform (VGG_TRAIN); the per-epoch test figure is the first 1,000 test images,
full_test_accuracy the whole set's. --no-pretrained trains the same net from random weights.
Figures: loss and val accuracy (Figs. 11 and 14).

Report: val and test accuracy 60%-65%.

Run: python main.py 002-VGG-partial
"""
import dataclasses

from config import Reported
from experiments.r002.augmentations import VGG_TRAIN
from experiments.r002.common import VGG_CONFIG
from models.vgg import vgg11_bn_head

reported = Reported(test_accuracy=(60, 65), best_val_accuracy=65.6, best_epoch=3,
                    note="text: 60%-65%; best val read off Fig. 11 (approximate, index 2), then overfits")
config = dataclasses.replace(VGG_CONFIG, epochs=40)
train_transform = test_transform = VGG_TRAIN  # quirk 2: the test images see the training transform


def model(cfg):
    return vgg11_bn_head(cfg.num_classes, pretrained=cfg.pretrained, freeze_features=True)
