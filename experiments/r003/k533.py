"""003-k533, report 003: kernels 5x5 / 3x3 / 3x3 (padding 2, 1, 1).

Only conv1's kernel changes from 003-final.
Shared run: "kernels 5x5/3x3/3x3" only.

Report: best epoch 17, training accuracy 84.87% (running, in the best epoch), validation 81.75%,
test 81.05% of the best weights, ~6 min (hardware unstated). Figures: its row of the kernel
comparison.
Run: python main.py 003-k533
"""
from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=17, train_accuracy_at_best=84.87, best_val_accuracy=81.75,
                    test_accuracy=81.05, minutes=6)
config = CONFIG
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(kernels=(5, 3, 3), num_classes=cfg.num_classes)
