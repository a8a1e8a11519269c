"""001-A-drop0.8, report 001 section 1.3.5: 001-A with dropout p = 0.8 after each max-pool.

001-A's network with nn.Dropout(0.8) after both max-pooling layers (element-wise, off at
evaluation); everything else as 001-A. One of the dropout sweep p = 0.2, 0.5, 0.8, drawn together
in runs/results/001-dropout.png. Parameters unchanged: dropout has none.

Report: best validation accuracy 62.7% at epoch 17 (too much dropout: the net underfits
in 20 epochs).
Run: python main.py 001-A-drop0.8
"""
from config import Reported
from experiments.r001.common import CONFIG, TRANSFORM, net_a

reported = Reported(best_val_accuracy=62.7, best_epoch=17)
config = CONFIG
train_transform = test_transform = TRANSFORM


def model(cfg):
    return net_a(dropout=0.8, num_classes=cfg.num_classes)
