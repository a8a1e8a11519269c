"""004-ResNet18, report 004 task 3: ImageNet's ResNet18 with only its last block and head trained.

torchvision's ResNet18 with its ImageNet weights and a new 512 -> 10 classifier; every parameter
is frozen except layer4's (its five convolutions, "the last five", and their batch norms) and
fc's. Images resized to 224x224 and normalized with ImageNet's mean and std; no augmentation.
Adam lr 5e-4, batch 64, 10 epochs. --no-pretrained starts the same network from random weights.

Report: no numbers. Figs. 5-6: accuracy and losses; Fig. 7: its losses beside Model 1's;
Fig. 8: the first convolution's 64 outputs for one photo; Fig. 9: the first 64 of layer4's 512
7x7 outputs; Figs. 10-13: the first convolution's kernels in RGB and each colour alone.
Run: python main.py 004-ResNet18
"""
import dataclasses

import torch
from torchvision.transforms import v2

from config import Reported
from data import IMAGENET_MEAN, IMAGENET_STD
from experiments.r004.common import CONFIG
from models import resnet18_finetune

reported = Reported()
config = dataclasses.replace(CONFIG, optimizer="adam", lr=5e-4, image_size=224, pretrained=True)
train_transform = test_transform = v2.Compose([
    v2.Resize((224, 224)), v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
    v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
TRAINED = ("layer4.", "fc.")  # the parameters that train; every other one is frozen


def model(cfg):
    net = resnet18_finetune(num_classes=cfg.num_classes, pretrained=cfg.pretrained)
    for name, p in net.named_parameters():
        p.requires_grad = name.startswith(TRAINED)
    return net
