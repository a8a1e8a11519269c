"""001-A-drop0.2, report 001 section 1.3.5: 001-A with dropout p = 0.2 after each max-pool.

001-A's network with nn.Dropout(0.2) after both max-pooling layers (element-wise, off at
evaluation); everything else as 001-A. One of the dropout sweep p = 0.2, 0.5, 0.8, drawn together
in runs/results/001-dropout.png. Parameters unchanged: dropout has none.

Report: best validation accuracy 77.8% at epoch 18; the best of the sweep, so the one evaluated
on the test set: 74.95%.
Run: python main.py 001-A-drop0.2
"""
from config import Reported
from experiments.r001.common import CONFIG, TRANSFORM, net_a

reported = Reported(best_val_accuracy=77.8, best_epoch=18, test_accuracy=74.95)
config = CONFIG
train_transform = test_transform = TRANSFORM


def model(cfg):
    return net_a(dropout=0.2, num_classes=cfg.num_classes)
