"""002-VGG-scratch, report 002 Q4: VGG11_bn scratch.

VGG11_bn's features at 32x32 (512x1x1) and the authors' head 512 -> 512 -> 256 -> 10 with
BatchNorm1d and ReLU (models/vgg.py). VGG11_bn from random weights, every layer trainable, the
Linear init N(0, 0.001^2) (the authors apply weights_init only when not pretrained). lr 0.01, x0.99
per epoch, 30 epochs. Training transform: a horizontal flip, ImageNet normalization. Quirks 1 and 2
change the numbers: the validation images and (ex3_pretrained.py) the test images too go through the
training transform (VGG_TRAIN); the per-epoch test figure is the first 1,000 test images,
full_test_accuracy the whole set's. Figures: loss and val accuracy (Figs. 13 and 14).

Report: no figure in the text.

Run: python main.py 002-VGG-scratch
"""
import dataclasses

from config import Reported
from experiments.r002.augmentations import VGG_TRAIN
from experiments.r002.common import VGG_CONFIG, init_linear
from models.vgg import vgg11_bn_head

reported = Reported(val_accuracy=85.0, note="read off Fig. 13 (approximate)")
config = dataclasses.replace(VGG_CONFIG, pretrained=False)
train_transform = test_transform = VGG_TRAIN  # quirk 2: the test images see the training transform


def model(cfg):
    return init_linear(vgg11_bn_head(cfg.num_classes, pretrained=False))
