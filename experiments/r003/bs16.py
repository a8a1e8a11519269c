"""003-bs16, report 003: 003-final at batch 16.

Only the batch size changes from 003-final.
Shared run: the report's row "augmentation +" is this run (identical figures; its time says ~16 min,
this row ~13 min).

Report: best epoch 31, training accuracy 86.60% (running, in the best epoch), validation 82.41%,
test 81.97% of the best weights, ~13 min (hardware unstated). Figures: its rows of the batch-size
and augmentation comparisons.
Run: python main.py 003-bs16
"""
import dataclasses

from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=31, train_accuracy_at_best=86.6, best_val_accuracy=82.41,
                    test_accuracy=81.97, minutes=13)
config = dataclasses.replace(CONFIG, batch_size=16)
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(num_classes=cfg.num_classes)
