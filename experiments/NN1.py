"""NN1, report step 1: the "old" fully connected network.

Flatten, then 3072 -> 4096 -> 4096 with a sigmoid after each, then a 100-way linear classifier.
torch.sigmoid stands in for the report's deprecated F.sigmoid (the same function). Everything
else is the report's default setting (config.py): Adam lr 1e-4, batch 256, 20 epochs, 32x32,
pixels scaled to [0, 1] and normalized with mean 0.5, std 0.5 per channel.

Report: 27% test accuracy, final loss 2.682, about 5 minutes (GTX 960M).
Run: python main.py experiments/NN1.py
"""
from config import Reported
from data import TO_NORMALIZED_TENSOR
from models import SigmoidMLP

reported = Reported(test_accuracy=27, train_loss=2.682, minutes=5)
train_transform = test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SigmoidMLP(in_features=3 * 32 * 32, hidden=(4096, 4096), num_classes=cfg.num_classes)
