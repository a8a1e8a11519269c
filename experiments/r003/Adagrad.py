"""003-Adagrad, report 003: 003-final trained with Adagrad, lr 1e-3.

Only the optimizer changes from 003-final.
Shared run: "Adagrad" only.

Report: best epoch 43, training accuracy 75.20% (running, in the best epoch), validation 72.62%,
test 71.92% of the best weights, ~15 min (hardware unstated). Figures: its row of the optimizer
comparison.
Run: python main.py 003-Adagrad
"""
import dataclasses

from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=43, train_accuracy_at_best=75.2, best_val_accuracy=72.62,
                    test_accuracy=71.92, minutes=15)
config = dataclasses.replace(CONFIG, optimizer="adagrad")
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(num_classes=cfg.num_classes)
