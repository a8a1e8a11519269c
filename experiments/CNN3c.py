"""CNN3c, report step 3: CNN2 with 512/512/512/1024 filters.

The same four convolutions, max-pool and two fully connected layers as CNN2, with 512 filters in
the first three convolutions and 1024 in the last (so fc1 takes 1024 * 4 * 4 = 16384 inputs).
No other change.

Report: 36% test accuracy, final loss 0.047, about 1 hour 15 minutes (GTX 960M).
Run: python main.py experiments/CNN3c.py
"""
from config import Reported
from data import TO_NORMALIZED_TENSOR
from models import SimpleCNN

reported = Reported(test_accuracy=36, train_loss=0.047, minutes=75)
train_transform = test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SimpleCNN(widths=(512, 512, 512, 1024), fc_units=4096, num_classes=cfg.num_classes)
