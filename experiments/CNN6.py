"""CNN6, report step 6: ResNet18 pretrained on ImageNet, fine-tuned on CIFAR-100.

torchvision's ResNet18 with its ImageNet weights and a new 512 -> 100 classifier; every layer is
trained. Images are resized to 224x224, flipped left-right at random for training, and normalized
with ImageNet's mean and std as those weights expect. Batch 128, 10 epochs, Adam lr 1e-4.
--no-pretrained trains the same network from scratch.

Report: 80% test accuracy, final loss 0.049, about 1 hour 40 minutes (GTX 960M).
Run: python main.py experiments/CNN6.py
"""
import torch
from torchvision.transforms import v2

from config import Config, Reported
from data import IMAGENET_MEAN, IMAGENET_STD
from models import resnet18_finetune

reported = Reported(test_accuracy=80, train_loss=0.049, minutes=100)
config = Config(image_size=224, batch_size=128, epochs=10, pretrained=True)

_to_tensor = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
              v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
# Flipping before the resize gives the same image and flips 32x32 pixels instead of 224x224.
train_transform = v2.Compose([v2.RandomHorizontalFlip(p=0.5), v2.Resize((224, 224)), *_to_tensor])
test_transform = v2.Compose([v2.Resize((224, 224)), *_to_tensor])


def model(cfg):
    return resnet18_finetune(num_classes=cfg.num_classes, pretrained=cfg.pretrained)
