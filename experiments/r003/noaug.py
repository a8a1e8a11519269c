"""003-noaug, report 003: 003-bs16 without augmentation: no padded crop, no flip.

Batch 16: the report's "augmentation +" row is 003-bs16's run (identical figures but the
time), so the augmentation pair ran at batch 16.
Shared run: "augmentation -" only.

Report: best epoch 16, training accuracy 95.22% (running, in the best epoch), validation 77.34%,
test 76.07% of the best weights, ~6 min (hardware unstated). Figures: its row of the augmentation
comparison.
Run: python main.py 003-noaug
"""
import dataclasses

from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, net

reported = Reported(best_epoch=16, train_accuracy_at_best=95.22, best_val_accuracy=77.34,
                    test_accuracy=76.07, minutes=6)
config = dataclasses.replace(CONFIG, batch_size=16)
train_transform = test_transform = TEST_TRANSFORM


def model(cfg):
    return net(num_classes=cfg.num_classes)
