"""CNN5b, report step 5: CNN3a trained with random crops.

CNN3a's network (128/128/128/256 filters, no batch norm) unchanged; each training image is
resized to 40x40 (bilinear) and a random 32x32 window of it is cut out. Test images are not
augmented (32x32 as they are).

Report: 33% test accuracy, final loss 2.107, about 10 minutes (GTX 960M).
Run: python main.py experiments/CNN5b.py
"""
from torchvision.transforms import v2

from config import Reported
from data import TO_NORMALIZED_TENSOR
from models import SimpleCNN

reported = Reported(test_accuracy=33, train_loss=2.107, minutes=10)
train_transform = v2.Compose([v2.Resize((40, 40)), v2.RandomCrop(32), TO_NORMALIZED_TENSOR])
test_transform = TO_NORMALIZED_TENSOR


def model(cfg):
    return SimpleCNN(widths=(128, 128, 128, 256), fc_units=4096, num_classes=cfg.num_classes)
