"""CNN2, report step 2: the simple CNN.

Replaces NN1's fully connected layers with four convolutions of 32/32/32/64 filters
(5x5 stride 2, then three 3x3, no padding), a 2x2 max-pool after the last, then fc 1024 -> 4096
-> 100, ReLU throughout. Same training setting as NN1.

Report: 30% test accuracy, final loss 2.146, about 2 minutes (GTX 960M).
Run: python main.py experiments/CNN2.py
"""
from config import Reported
from data import TO_NORMALIZED_TENSOR
from models import SimpleCNN

reported = Reported(test_accuracy=30, train_loss=2.146, minutes=2)
train_transform = test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SimpleCNN(widths=(32, 32, 32, 64), fc_units=4096, num_classes=cfg.num_classes)
