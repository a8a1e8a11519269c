"""tiny_step: an experiment file for the tests of inputs, small enough to train in a second.

A narrow SimpleCNN with SGD and momentum, a random validation split, early stopping and the best
weights kept: every Config field means something in it. Not a step of any report.
Run: python main.py tests/tiny_step.py --dataset synthetic --subset 64
"""
from config import Config
from data import TO_NORMALIZED_TENSOR
from models import SimpleCNN

reported = None
config = Config(dataset="cifar10", batch_size=16, epochs=1, optimizer="sgd", lr=0.01, momentum=0.9,
                val_split="random", val_size=5000, early_stopping="patience", patience=2,
                keep="best")
train_transform = test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SimpleCNN(widths=(4, 4, 4, 8), fc_units=16, num_classes=cfg.num_classes)
