"""003-RMSprop, report 003: 003-final trained with RMSprop, lr 1e-3 (torch's defaults: alpha 0.99, no
momentum).

Only the optimizer changes from 003-final.
Shared run: "RMSprop" only.

Report: best epoch 25, training accuracy 88.24% (running, in the best epoch), validation 82.58%,
test 82.06% of the best weights, ~10 min (hardware unstated). Figures: its row of the optimizer
comparison.
Run: python main.py 003-RMSprop
"""
import dataclasses

from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=25, train_accuracy_at_best=88.24, best_val_accuracy=82.58,
                    test_accuracy=82.06, minutes=10)
config = dataclasses.replace(CONFIG, optimizer="rmsprop")
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(num_classes=cfg.num_classes)
