"""002-ES-acc, report 002 Q2.b, Fig. 7: 002-CNN5 with early stopping on the validation accuracy.

As 002-ES-loss, monitoring validation accuracy (the report's choice): an improvement beats the best
by at least 1e-5 points. No dropout: the report's train loss lies above its val loss, which suggests
dropout 0.3 was on, but it does not say so (--set is no help: dropout is structure).

Report: "we scored 85% Val_Acc"; Fig. 7 (approximate): best 85.6% at index 29 (epoch 30) of 40.

Run: python main.py 002-ES-acc
"""
from config import Reported
from experiments.r002.augmentations import TEST
from experiments.r002.common import ES_CONFIG, cnn5

reported = Reported(parameters=7678474, best_val_accuracy=85.6, best_epoch=30,
                    note="text: 85% val acc; best read off Fig. 7 (approximate)")
config = ES_CONFIG
train_transform = test_transform = TEST


def model(cfg):
    return cnn5(num_classes=cfg.num_classes)
