"""CNN5a, report step 5: CNN3a trained with random horizontal flips.

CNN3a's network (128/128/128/256 filters, no batch norm) unchanged; each training image is
flipped left-right with probability 0.5. The report's Resize((32, 32)) after the flip is left out:
on 32x32 images it changes nothing. Test images are not augmented.

Report: 36% test accuracy, final loss 0.977, about 10 minutes (GTX 960M).
Run: python main.py experiments/CNN5a.py
"""
from torchvision.transforms import v2

from config import Reported
from data import TO_NORMALIZED_TENSOR
from models import SimpleCNN

reported = Reported(test_accuracy=36, train_loss=0.977, minutes=10)
train_transform = v2.Compose([v2.RandomHorizontalFlip(p=0.5), TO_NORMALIZED_TENSOR])
test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SimpleCNN(widths=(128, 128, 128, 256), fc_units=4096, num_classes=cfg.num_classes)
