"""003-BN-drop0.1, report 003: 003-final with dropout 0.1 after the flatten and after fc1's ReLU
(where the author's code puts it).

Only the dropout changes from 003-final.
Shared run: the report's rows "batchnorm +" and "dropout 0.10" are this run (identical figures). Its
"dropout -" row (36, 87.52, 82.40, 82.10) matches no other row, not even 003-final's: an
unrecorded run, left out.

Report: best epoch 34, training accuracy 84.85% (running, in the best epoch), validation 81.07%,
test 80.43% of the best weights, ~15 min (hardware unstated). Figures: its rows of the batch-norm
and dropout comparisons.
Run: python main.py 003-BN-drop0.1
"""
from config import Reported
from experiments.r003.common import CONFIG, TEST_TRANSFORM, TRAIN_TRANSFORM, net

reported = Reported(best_epoch=34, train_accuracy_at_best=84.85, best_val_accuracy=81.07,
                    test_accuracy=80.43, minutes=15)
config = CONFIG
train_transform = TRAIN_TRANSFORM
test_transform = TEST_TRANSFORM


def model(cfg):
    return net(dropout=0.1, num_classes=cfg.num_classes)
