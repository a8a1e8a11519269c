"""CNN3b, report step 3: CNN2 with 256/256/256/512 filters.

The same four convolutions, max-pool and two fully connected layers as CNN2, with 256 filters in
the first three convolutions and 512 in the last (so fc1 takes 512 * 4 * 4 = 8192 inputs).
No other change.

Report: 35% test accuracy, final loss 0.078, about 25 minutes (GTX 960M).
Run: python main.py experiments/CNN3b.py
"""
from config import Reported
from data import TO_NORMALIZED_TENSOR
from models import SimpleCNN

reported = Reported(test_accuracy=35, train_loss=0.078, minutes=25)
train_transform = test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SimpleCNN(widths=(256, 256, 256, 512), fc_units=4096, num_classes=cfg.num_classes)
