"""003-k753, report 003: kernels 7x7 / 5x5 / 3x3 (padding 3, 2, 1: the image sizes and fc1's 2,048
inputs stay).

Only conv1's and conv2's kernels change from 003-final.
Shared run: "kernels 7x7/5x5/3x3" only.

Report: best epoch 18, training accuracy 84.25% (running, in the best epoch), validation 80.59%,
test 80.03% of the best weights, ~8 min (hardware unstated). Figures: its row of the kernel
comparison.
Run: python main.py 003-k753
"""
from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=18, train_accuracy_at_best=84.25, best_val_accuracy=80.59,
                    test_accuracy=80.03, minutes=8)
config = CONFIG
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(kernels=(7, 5, 3), num_classes=cfg.num_classes)
