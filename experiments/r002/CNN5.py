"""002-CNN5, report 002 Q1: CNN_5 on CIFAR-10, 20 epochs.

Five blocks Conv3x3 -> MaxPool -> ReLU (128, 512, 512, 512, 512 filters) and Linear(512, 10), Linear
init N(0, 0.001^2) (common.cnn5). Adam 2e-3, weight decay 1e-3, lr x0.95 per epoch, batch 200;
images 49,000-49,999 validate, through the training transform (here the same as the test's). The
test figure per epoch is the first 1,000 test images (the report's); full_test_accuracy is the whole
test set's. Figures: loss and val accuracy (Fig. 1), the first-layer filters (Fig. 4).

Report: 7,678,474 parameters (Fig. 2). Read off Fig. 1 (approximate): val accuracy about 79% at
epoch 20, peak about 80.8% at epoch 16 (index 15 of the 0-based plot).

Run: python main.py 002-CNN5
"""
from config import Reported
from experiments.r002.augmentations import TEST
from experiments.r002.common import CONFIG, cnn5

reported = Reported(parameters=7678474, val_accuracy=79.0, best_val_accuracy=80.8, best_epoch=16,
                    note="val figures read off Fig. 1 (approximate)")
config = CONFIG
train_transform = test_transform = TEST


def model(cfg):
    return cnn5(num_classes=cfg.num_classes)
