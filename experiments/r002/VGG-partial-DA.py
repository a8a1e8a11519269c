"""002-VGG-partial-DA, report 002 Q4 with DA (Fig. 14): VGG11_bn partial with the Q4 augmentation.

VGG11_bn's features at 32x32 (512x1x1) and the authors' head 512 -> 512 -> 256 -> 10 with
BatchNorm1d and ReLU (models/vgg.py). ImageNet VGG11_bn features frozen (requires_grad False, their
BN running statistics still updating in train mode); only the head is optimized. lr 0.01, x0.99 per
epoch, 40 epochs. Training transform augmentations.VGG_DA (flip, equalize, padded crop, erasing p
0.65); the rest as 002-VGG-partial. Quirks 1 and 2 change the numbers: the validation images and
(ex3_pretrained.py) the test images too go through the training transform (VGG_DA); the per-epoch
test figure is the first 1,000 test images, full_test_accuracy the whole set's. --no-pretrained
trains the same net from random weights. Figures: loss and val accuracy (Figs. 11 and 14).

Report: no figure beyond the curves of Fig. 14.

Run: python main.py 002-VGG-partial-DA
"""
import dataclasses

from config import Reported
from experiments.r002.augmentations import VGG_DA
from experiments.r002.common import VGG_CONFIG
from models.vgg import vgg11_bn_head

reported = Reported()
config = dataclasses.replace(VGG_CONFIG, epochs=40)
train_transform = test_transform = VGG_DA  # quirk 2: the test images see the training transform


def model(cfg):
    return vgg11_bn_head(cfg.num_classes, pretrained=cfg.pretrained, freeze_features=True)
