"""CNN3a, report step 3: CNN2 with 128/128/128/256 filters.

The same four convolutions, max-pool and two fully connected layers as CNN2, with 128 filters in
the first three convolutions and 256 in the last (so fc1 takes 256 * 4 * 4 = 4096 inputs).
No other change.

Report: 32% test accuracy, final loss 0.131, about 9 minutes (GTX 960M).
Run: python main.py experiments/CNN3a.py
"""
from config import Reported
from data import TO_NORMALIZED_TENSOR
from models import SimpleCNN

reported = Reported(test_accuracy=32, train_loss=0.131, minutes=9)
train_transform = test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SimpleCNN(widths=(128, 128, 128, 256), fc_units=4096, num_classes=cfg.num_classes)
