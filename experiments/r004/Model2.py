"""004-Model2, report 004 task 2 (table 2, Model 2): LeNet with batch norm and dropout.

LeNet's three 5x5 convolutions (32, 64, 128), each with batch norm before its ReLU and pool, 2D
dropout 0.1 on the first; fc 2048 -> 64, batch norm, -> 10 (common.model2). Xavier-uniform
weights. Adam lr 1e-3, batch 64, 10 epochs, as Model 1.

Report: best validation accuracy 75.82% at epoch 7, lowest validation loss 0.7511 at epoch 7;
final (table 3) train loss 0.1196, accuracy 96.38%, validation loss 0.8879, accuracy 73.86%,
test loss 0.8628, accuracy 75.28%.
Run: python main.py 004-Model2
"""
import dataclasses

from config import Reported
from experiments.r004.common import CONFIG, TRANSFORM, model2

reported = Reported(best_val_accuracy=75.82, best_epoch=7, lowest_val_loss=0.7511,
                    lowest_val_loss_epoch=7, train_loss=0.1196, train_accuracy=96.38,
                    val_loss=0.8879, val_accuracy=73.86, test_loss=0.8628, test_accuracy=75.28)
config = dataclasses.replace(CONFIG, optimizer="adam", lr=1e-3)
train_transform = test_transform = TRANSFORM


def model(cfg):
    return model2(cfg.num_classes)
