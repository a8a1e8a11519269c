"""002-DA1, report 002 Q3.a: 002-CNN5 trained with augmentation configuration 1.

augmentations.DA1 on the training images; 20 epochs, everything else as 002-CNN5. Quirk 1 changes
the numbers here: the validation images go through the same augmentation, so the validation figures
are of augmented images (the test transform is ToTensor + Normalize only). The first-layer filters
after DA are Fig. 4's fourth panel (from 002-DA1).

Report: 50-70% validation and test accuracy with DA. Fig. 9 (approximate): val accuracy about 70.8%
at epoch 20.

Run: python main.py 002-DA1
"""
from config import Reported
from experiments.r002.augmentations import DA1, TEST
from experiments.r002.common import CONFIG, cnn5

reported = Reported(parameters=7678474, val_accuracy=70.8, test_accuracy=(50, 70),
                    note="val read off Fig. 9 (approximate); text: 50-70% val and test")
config = CONFIG
train_transform, test_transform = DA1, TEST


def model(cfg):
    return cnn5(num_classes=cfg.num_classes)
