"""002-VGG-full, report 002 Q4: VGG11_bn full.

VGG11_bn's features at 32x32 (512x1x1) and the authors' head 512 -> 512 -> 256 -> 10 with
BatchNorm1d and ReLU (models/vgg.py). ImageNet VGG11_bn, every layer trainable (full fine-tune). lr
0.01, x0.99 per epoch, 30 epochs. Training transform: a horizontal flip, ImageNet normalization.
Quirks 1 and 2 change the numbers: the validation images and (ex3_pretrained.py) the test images too
go through the training transform (VGG_TRAIN); the per-epoch test figure is the first 1,000 test
images, full_test_accuracy the whole set's. --no-pretrained trains the same net from random weights.
Figures: loss and val accuracy (Figs. 12 and 14).

Report: no figure in the text.

Run: python main.py 002-VGG-full
"""
from config import Reported
from experiments.r002.augmentations import VGG_TRAIN
from experiments.r002.common import VGG_CONFIG
from models.vgg import vgg11_bn_head

reported = Reported(val_accuracy=87.8, note="read off Fig. 12 (approximate)")
config = VGG_CONFIG
train_transform = test_transform = VGG_TRAIN  # quirk 2: the test images see the training transform


def model(cfg):
    return vgg11_bn_head(cfg.num_classes, pretrained=cfg.pretrained)
