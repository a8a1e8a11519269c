"""004-LeNet, report 004 task 1: the course's LeNet on CIFAR-10.

Three 5x5 convolutions (32, 64, 128, padding 2), each followed by ReLU and a 2x2 max-pool, then
fc 2048 -> 64 -> 10 (common.lenet). SGD lr 5e-2 without momentum, batch 64, 10 epochs; a random
5,000 training images held out; evaluated twice per epoch and once before training.

Report: lowest validation loss 0.8024 at epoch 6; after 10 epochs train accuracy 92.33%,
validation 70.92%, test 71.49% (table 1); 390,400 parameters (its sum leaves out the last
layer's 10 biases: the network has 390,410). Figs. 1-2: losses and accuracy.
Run: python main.py 004-LeNet
"""
import dataclasses

from config import Reported
from experiments.r004.common import CONFIG, TRANSFORM, lenet

reported = Reported(lowest_val_loss=0.8024, lowest_val_loss_epoch=6, train_accuracy=92.33,
                    val_accuracy=70.92, test_accuracy=71.49, parameters=390400,
                    note="the report's sum (390,400) omits the last layer's 10 biases: the network "
                         "has 390,410")
config = dataclasses.replace(CONFIG, optimizer="sgd", lr=5e-2)
train_transform = test_transform = TRANSFORM


def model(cfg):
    return lenet(cfg.num_classes)
