"""001-A-drop0.8-60ep, report 001 section 1.3.5: 001-A-drop0.8 trained for 60 epochs instead of 20.

The same network and setting as 001-A-drop0.8; only the epochs change. The report tried it to see
whether heavy dropout only needs longer training.

Report: "about 5%" more validation accuracy than the 20-epoch run's 62.7%, read as 67.7%.
Run: python main.py 001-A-drop0.8-60ep
"""
import dataclasses

from config import Reported
from experiments.r001.common import CONFIG, TRANSFORM, net_a

reported = Reported(best_val_accuracy=67.7,
                    note="the report gives no figure, only 'about 5%' above the 20-epoch run's 62.7%")
config = dataclasses.replace(CONFIG, epochs=60)
train_transform = test_transform = TRANSFORM


def model(cfg):
    return net_a(dropout=0.8, num_classes=cfg.num_classes)
