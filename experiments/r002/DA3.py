"""002-DA3, report 002 Q3.a: 002-CNN5 trained with augmentation configuration 3.

augmentations.DA3 on the training images; 20 epochs, everything else as 002-CNN5. Quirk 1 changes
the numbers here: the validation images go through the same augmentation, so the validation figures
are of augmented images (the test transform is ToTensor + Normalize only). The first-layer filters
after DA are Fig. 4's fourth panel (from 002-DA1).

Report: 50-70% validation and test accuracy with DA. Fig. 9 (approximate): val accuracy about 60% at
epoch 20, peak about 62%.

Run: python main.py 002-DA3
"""
from config import Reported
from experiments.r002.augmentations import DA3, TEST
from experiments.r002.common import CONFIG, cnn5

reported = Reported(parameters=7678474, val_accuracy=60.0, best_val_accuracy=62.0, test_accuracy=(50, 70),
                    note="val read off Fig. 9 (approximate); text: 50-70% val and test")
config = CONFIG
train_transform, test_transform = DA3, TEST


def model(cfg):
    return cnn5(num_classes=cfg.num_classes)
