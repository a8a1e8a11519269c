"""004-Model1, report 004 task 2 (table 2, Model 1): a deeper net with batch norm and dropout.

Conv 32, then two pairs of convolutions (64, 128) and (256, 512), all 5x5 with padding 2 and ReLU,
2D dropout 0.1 after the first, batch norm before each of three 2x2 pools; fc 8192 -> 2048 -> 64,
batch norm, -> 10 (common.model1). Xavier-uniform weights. Adam lr 1e-3 (LeNet had SGD), batch 64,
10 epochs.

Report: best validation accuracy 79.04% at epoch 9, lowest validation loss 0.6595 at epoch 5;
final (table 3) train loss 0.0532, accuracy 98.33%, validation loss 0.8744, accuracy 77.92%,
test loss 0.9055, accuracy 77.92%. Figs. 3-4: accuracy and losses; Fig. 7 beside ResNet18's.
Run: python main.py 004-Model1
"""
import dataclasses

from config import Reported
from experiments.r004.common import CONFIG, TRANSFORM, model1

reported = Reported(best_val_accuracy=79.04, best_epoch=9, lowest_val_loss=0.6595,
                    lowest_val_loss_epoch=5, train_loss=0.0532, train_accuracy=98.33,
                    val_loss=0.8744, val_accuracy=77.92, test_loss=0.9055, test_accuracy=77.92,
                    note="table 3 gives 0.7792 for both validation and test accuracy, possibly a "
                         "copying slip")
config = dataclasses.replace(CONFIG, optimizer="adam", lr=1e-3)
train_transform = test_transform = TRANSFORM


def model(cfg):
    return model1(cfg.num_classes)
