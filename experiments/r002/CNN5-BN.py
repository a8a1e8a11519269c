"""002-CNN5-BN, report 002 Q2.a: 002-CNN5 with BatchNorm2d after every convolution.

Each block is Conv3x3 -> BatchNorm2d -> MaxPool -> ReLU; everything else as 002-CNN5. Figures: loss
and val accuracy (Fig. 5), the first-layer filters after training (Fig. 4, third panel).

Report: 7,682,826 parameters (BN adds 2 x 2,176 = 4,352). No accuracy is stated.

Run: python main.py 002-CNN5-BN
"""
from config import Reported
from experiments.r002.augmentations import TEST
from experiments.r002.common import CONFIG, cnn5

reported = Reported(parameters=7682826)
config = CONFIG
train_transform = test_transform = TEST


def model(cfg):
    return cnn5(batch_norm=True, num_classes=cfg.num_classes)
