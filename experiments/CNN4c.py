"""CNN4c, report step 4: CNN4a with dropout 0.5 after fc1.

CNN4a (128/128/128/256 filters, batch norm, fc1 4096) with dropout p=0.5 on fc1's output.
Fixes a bug of the report's code, keeping its intent: the report calls F.dropout2d without
training=self.training, so its dropout stays on at test time; here nn.Dropout is off in eval().

Report: 44% test accuracy, final loss 0.630, about 10 minutes (GTX 960M).
Run: python main.py experiments/CNN4c.py
"""
from config import Reported
from data import TO_NORMALIZED_TENSOR
from models import SimpleCNN

reported = Reported(test_accuracy=44, train_loss=0.630, minutes=10)
train_transform = test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SimpleCNN(widths=(128, 128, 128, 256), fc_units=4096, batch_norm=True, dropout=0.5,
                     num_classes=cfg.num_classes)
