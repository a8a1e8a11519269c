"""002-VGG-full-DA, report 002 Q4 with DA (Fig. 14): VGG11_bn full with the Q4 augmentation.

VGG11_bn's features at 32x32 (512x1x1) and the authors' head 512 -> 512 -> 256 -> 10 with
BatchNorm1d and ReLU (models/vgg.py). ImageNet VGG11_bn, every layer trainable (full fine-tune). lr
0.01, x0.99 per epoch, 30 epochs. Training transform augmentations.VGG_DA (flip, equalize, padded
crop, erasing p 0.65); the rest as 002-VGG-full. Quirks 1 and 2 change the numbers: the validation
images and (ex3_pretrained.py) the test images too go through the training transform (VGG_DA); the
per-epoch test figure is the first 1,000 test images, full_test_accuracy the whole set's.
--no-pretrained trains the same net from random weights. Figures: loss and val accuracy (Figs. 12
and 14).

Report: no figure beyond the curves of Fig. 14.

Run: python main.py 002-VGG-full-DA
"""
from config import Reported
from experiments.r002.augmentations import VGG_DA
from experiments.r002.common import VGG_CONFIG
from models.vgg import vgg11_bn_head

reported = Reported()
config = VGG_CONFIG
train_transform = test_transform = VGG_DA  # quirk 2: the test images see the training transform


def model(cfg):
    return vgg11_bn_head(cfg.num_classes, pretrained=cfg.pretrained)
