"""Report 002's transforms, as the authors' code builds them (docs/readings.md, "Report 002").

- DA1, DA2, DA3: the three data-augmentation configurations of Q3.a, CNN_5 trained 20 epochs with
  each (step 002-DA1 .. 002-DA3). Fig. 9 plots validation accuracy with DA1 and DA3 (about 70.8%
  and 60% at epoch 20); the text gives 50-70% val and test accuracy. DA1 is commit 9e0095b, DA3
  commit 96c5e55; DA3 merges Cutout-style erasing (a 20x20 square of zeros, before Normalize).
  No horizontal flip, deliberately; the report's "Grayscale(0.2)" is RandomGrayscale(p=0.2).
- VGG_TRAIN: the Q4 VGG11_bn runs (Figs. 11-13, partial / full fine-tune / scratch): a flip only,
  ImageNet normalization.
- VGG_DA: the "with DA" VGG runs (Fig. 14), the transform at commit 283aab4.
- TEST: CNN_5's test (and validation) transform. The authors' loader sends the validation split
  through the *training* transform (quirk 1), and ex3_pretrained's test set too (quirk 2).

ToTensor is written as ToImage + ToDtype(float32, scale=True), which gives the same tensor. Every
transform here has a batched form (augment/colour.py, augment/geometry.py), so augment.make_loader
runs them on the device.
"""
import torch
from torchvision.transforms import v2

from data import HALF, IMAGENET_MEAN, IMAGENET_STD


def _to_tensor() -> list:
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]


NORMALIZE = v2.Normalize(HALF, HALF)  # CNN_5: mean 0.5, std 0.5 per channel
IMAGENET = v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)  # VGG11_bn's pretrained weights

DA1 = v2.Compose([
    v2.RandomEqualize(p=1),
    v2.ColorJitter(brightness=(0.2, 0.8), contrast=(0.2, 0.5), saturation=(0.1, 0.3), hue=(-0.2, 0.2)),
    v2.RandomGrayscale(p=0.2),
    v2.RandomAdjustSharpness(sharpness_factor=2, p=0.7),
    v2.RandomPerspective(distortion_scale=0.2, p=0.6),
    *_to_tensor(), NORMALIZE])

DA2 = v2.Compose([
    v2.RandomEqualize(p=1),
    v2.ColorJitter(brightness=(0.3, 0.8), contrast=(0.3, 0.7), saturation=(0.1, 0.4), hue=(-0.3, 0.3)),
    v2.RandomGrayscale(p=0.4),
    v2.RandomAdjustSharpness(sharpness_factor=1, p=0.5),  # a factor of 1 is the identity
    v2.RandomPerspective(distortion_scale=0.7, p=0.5),
    *_to_tensor(), NORMALIZE])

DA3 = v2.Compose([
    v2.RandomEqualize(p=1),
    v2.RandomCrop(32, padding=4),
    *_to_tensor(),
    v2.RandomErasing(p=0.5, scale=(0.39, 0.40), ratio=(1.0, 1.0)),  # value 0: a black square
    v2.ToPILImage(),
    v2.RandomAffine(degrees=(-20, 20)),  # nearest neighbour, corners filled with 0
    *_to_tensor(), NORMALIZE])

VGG_TRAIN = v2.Compose([v2.RandomHorizontalFlip(0.5), *_to_tensor(), IMAGENET])

VGG_DA = v2.Compose([
    v2.RandomHorizontalFlip(0.5),
    v2.RandomEqualize(p=1),
    v2.RandomCrop(32, padding=4),
    *_to_tensor(),
    v2.RandomErasing(p=0.65, scale=(0.39, 0.40), ratio=(1.0, 1.0)),
    v2.ToPILImage(),
    *_to_tensor(), IMAGENET])

TEST = v2.Compose([*_to_tensor(), NORMALIZE])
