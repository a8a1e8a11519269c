"""003-bs32, report 003: 003-final at batch 32.

Only the batch size changes from 003-final.
Shared run: "batch_size = 32" only.

Report: best epoch 18, training accuracy 84.88% (running, in the best epoch), validation 81.64%,
test 80.08% of the best weights, ~9 min (hardware unstated). Figures: its row of the batch-size
comparison.
Run: python main.py 003-bs32
"""
import dataclasses

from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=18, train_accuracy_at_best=84.88, best_val_accuracy=81.64,
                    test_accuracy=80.08, minutes=9)
config = dataclasses.replace(CONFIG, batch_size=32)
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(num_classes=cfg.num_classes)
