"""Report 001: USI Deep Learning Lab 2022/23, Assignment 2 (Luca Pernigo), CIFAR-10 ConvNets.

Source: the report's text only (no code of the author's was found). The readings chosen where it
is silent, from ../shared/reports-001-004.md:
- the split: a seeded random permutation of the 50,000 training images, the last 1,000 of it for
  validation (the report says only 49,000 / 1,000). Its two loaders (WeightedRandomSampler with
  equal weights without replacement, SubsetRandomSampler) both give a uniformly random order, as
  the kit's shuffling does;
- the activation, never named: ReLU after every convolution and after fc1;
- dropout "after each max-pooling layer": nn.Dropout (element-wise), off at evaluation;
- the final net (1.3.7) keeps the base SGD's momentum 0.9 and batch 32; only lr 0.05, 25 epochs,
  dropout 0.2 and the deeper net are stated;
- no early stopping: the model kept is the last epoch's, and "best" is the best validation epoch.
"""
