"""001-B, report 001 section 1.3.7: the final, deeper net.

Eight padded 3x3 convolutions in four blocks of two (32, 64, 128, 256 filters), each block
followed by a 2x2 max-pool and dropout 0.2, then fc 1024 -> 512 -> 10, ReLU throughout
(common.net_b). SGD lr 0.05 (momentum 0.9 and batch 32 as before), 25 epochs.

Report: test accuracy 81.96%.
Run: python main.py 001-B
"""
import dataclasses

from config import Reported
from experiments.r001.common import CONFIG, TRANSFORM, net_b

reported = Reported(test_accuracy=81.96)
config = dataclasses.replace(CONFIG, lr=0.05, epochs=25)
train_transform = test_transform = TRANSFORM


def model(cfg):
    return net_b(dropout=0.2, num_classes=cfg.num_classes)
