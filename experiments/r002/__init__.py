"""Report 002: Sapienza AML 2021/22, HW2 (Capparella, Penta de Peppo, Zappia), CNN_5 and VGG11_bn on CIFAR-10.

Sources: the report's text and figures, and the authors' own code and commits, as read in
../shared/reports-001-004.md, section 002. The readings chosen where the report is silent:
- CNN_5: five blocks Conv3x3 (padding 1) -> [BatchNorm2d] -> MaxPool 2 -> ReLU -> [Dropout(p)],
  widths 128, 512, 512, 512, 512, then Flatten and Linear(512, 10); every Linear initialized
  N(0, 0.001^2) with bias 0 (the template's weights_init). 7,678,474 parameters, 7,682,826 with
  BN: both the report's.
- Adam lr 2e-3, weight decay 1e-3 (coupled L2), lr x0.95 after every epoch, batch 200, 20 epochs;
  the first 49,000 training images train, the last 1,000 validate (val_split "last").
- Quirk 1: validation images pass through the *training* transform (val_transform "train"): with
  augmentation (DA1-3) and the VGG flip this lowers the validation figures.
- Quirk 2: the test figure is the first 1,000 test images (test_limit 1000); every run also
  records the whole test set's accuracy of the kept weights (full_test_accuracy).
- Quirk 3: the report's loss plots are mean CE / 200; the kit logs the mean CE itself.
- Early stopping: the code's rule, early_stopping="baseline" (early_stopping.py): epoch 1 only
  sets the baseline, an improvement beats the best by at least 1e-5, stop after 10 epochs without
  one; the weights of the best epoch are kept and tested.
- The three augmentation configurations and the VGG transforms: augmentations.py.
- VGG11_bn: torchvision's features at 32x32 plus the authors' final head (512 -> 512 -> 256 -> 10
  with BatchNorm1d and ReLU); partial (features frozen, lr 0.01, x0.99, 40 epochs), full fine-tune
  and scratch (30 epochs). Early stopping off for the VGG runs: the plotted curves run past where
  the code's patience 20 would stop.
"""
