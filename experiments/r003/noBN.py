"""003-noBN, report 003: 003-BN-drop0.1 without batch norm: no BatchNorm2d or BatchNorm1d anywhere,
dropout 0.1 kept.

The report's batch-norm pair ran with dropout 0.1 on (its "batchnorm +" row is the
"dropout 0.10" row), so only the batch norm differs from 003-BN-drop0.1.
Shared run: "batchnorm -" only.

Report: best epoch 41, training accuracy 79.49% (running, in the best epoch), validation 79.72%,
test 79.10% of the best weights, ~18 min (hardware unstated). Figures: its row of the batch-norm
comparison.
Run: python main.py 003-noBN
"""
from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=41, train_accuracy_at_best=79.49, best_val_accuracy=79.72,
                    test_accuracy=79.1, minutes=18)
config = CONFIG
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(batch_norm=False, dropout=0.1, num_classes=cfg.num_classes)
