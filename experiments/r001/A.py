"""001-A, report 001 section 1.2: the first ConvNet on CIFAR-10, with a validation split.

Four unpadded 3x3 convolutions (32, 32, 64, 64) with a 2x2 max-pool after each pair, then fc
1600 -> 512 -> 10, ReLU throughout (common.net_a). SGD lr 0.001 with momentum 0.9, batch 32,
20 epochs; 1,000 training images held out for validation; pixels normalized with the training
set's channel mean and std. No early stopping: the last epoch's model is kept.

Report: validation accuracy 72.3% after 20 epochs, best 73.6% at epoch 12; the validation loss
falls until epoch 13, then fluctuates; training accuracy goes to about 100%.
Run: python main.py 001-A
"""
from config import Reported
from experiments.r001.common import CONFIG, TRANSFORM, net_a

reported = Reported(best_val_accuracy=73.6, best_epoch=12, val_accuracy=72.3)
config = CONFIG
train_transform = test_transform = TRANSFORM


def model(cfg):
    return net_a(num_classes=cfg.num_classes)
