"""002-ES-loss, report 002 Q2.b, Fig. 6: 002-CNN5 with early stopping on the validation loss.

The authors' rule (early_stopping "baseline"): epoch 1 only sets the baseline, an improvement lowers
the loss by at least 1e-5, stop after 10 epochs without one; at most 40 epochs; the best epoch's
weights are tested. Figure: loss and val accuracy, the best epoch dotted.

Report (Fig. 6, approximate): best at index 11 (epoch 12), stopped at index 21 (22 epochs).

Run: python main.py 002-ES-loss
"""
import dataclasses

from config import Reported
from experiments.r002.augmentations import TEST
from experiments.r002.common import ES_CONFIG, cnn5

reported = Reported(parameters=7678474, best_epoch=12,
                    note="read off Fig. 6: best at index 11, stopped at index 21 (22 epochs)")
config = dataclasses.replace(ES_CONFIG, monitor="val_loss")
train_transform = test_transform = TEST


def model(cfg):
    return cnn5(num_classes=cfg.num_classes)
