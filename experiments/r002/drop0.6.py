"""002-drop0.6, report 002 Q3.b: 002-CNN5 with nn.Dropout(0.6) after every block's ReLU.

Element-wise dropout, the same p in all five blocks; 20 epochs, everything else as 002-CNN5. The
report's repository has its curves; Fig. 10 leaves it out. The sweep p = 0.1 ... 0.9 is drawn
together: train and val loss per p, final train and val accuracy against p
(runs/results/002-dropout*.png).

Report: the best p is 0.3; no accuracy is stated per p.

Run: python main.py 002-drop0.6
"""
from config import Reported
from experiments.r002.augmentations import TEST
from experiments.r002.common import CONFIG, cnn5

reported = Reported(parameters=7678474)
config = CONFIG
train_transform = test_transform = TEST


def model(cfg):
    return cnn5(dropout=0.6, num_classes=cfg.num_classes)
