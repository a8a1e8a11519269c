"""003-SGD, report 003: 003-final trained with SGD, momentum 0.9, lr 1e-3.

Only the optimizer changes from 003-final.
Shared run: "SGD with momentum = 0.9" only.

Report: best epoch 33, training accuracy 85.12% (running, in the best epoch), validation 80.91%,
test 80.03% of the best weights, ~12 min (hardware unstated). Figures: its row of the optimizer
comparison.
Run: python main.py 003-SGD
"""
import dataclasses

from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=33, train_accuracy_at_best=85.12, best_val_accuracy=80.91,
                    test_accuracy=80.03, minutes=12)
config = dataclasses.replace(CONFIG, optimizer="sgd", momentum=0.9)
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(num_classes=cfg.num_classes)
