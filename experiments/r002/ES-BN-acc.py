"""002-ES-BN-acc, report 002 Q2.b, Fig. 8: 002-CNN5-BN with early stopping on validation accuracy.

002-ES-acc's rule and settings on the batch-norm net.

Report (Fig. 8, approximate): best 89.7% at index 36 (epoch 37) of 40.

Run: python main.py 002-ES-BN-acc
"""
from config import Reported
from experiments.r002.augmentations import TEST
from experiments.r002.common import ES_CONFIG, cnn5

reported = Reported(parameters=7682826, best_val_accuracy=89.7, best_epoch=37,
                    note="read off Fig. 8 (approximate)")
config = ES_CONFIG
train_transform = test_transform = TEST


def model(cfg):
    return cnn5(batch_norm=True, num_classes=cfg.num_classes)
