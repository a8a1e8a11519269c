"""Report 004: NTNU TDT4265 2019, Assignment 2 (Martin Madsen, Sondre A. Bergum), CIFAR-10.

Source: the report's text, and the course's 2019 starter code for what it takes for granted
(../shared/reports-001-004.md, section 004). The readings chosen:
- the split: a seeded random 5,000 of the 50,000 training images for validation (the starter's
  validation_fraction 0.1); normalization mean 0.5, std 0.25 per channel; no augmentation;
- the loop: the starter evaluates train, validation and test (full passes, eval mode) twice per
  epoch and once before training: eval_every 0.5 and eval_at_start; its early stopping was
  disabled for every result, so none here; 10 epochs;
- LeNet: 5x5 convolutions with padding 2 (implied by the 4x4 flatten); SGD lr 5e-2, no momentum,
  batch 64 (the starter's);
- Models 1 and 2: kernel size and padding are not given: 5x5 with padding 2 (the handed-out
  ExampleModel's and their LeNet's; 3x3 with padding 1 is the alternative). "Xavier distribution":
  xavier_uniform_ on every Conv2d and Linear weight, biases 0. Model 1 follows table 2, not the text;
- ResNet18: "the last five" convolutional layers are layer4's five Conv2d (the starter's comment),
  so layer4 (its batch norms too) and the new fc train, everything else is frozen; the frozen
  batch norms stay in train mode, as in the starter; Adam 5e-4, batch 64, 10 epochs (not stated;
  Fig. 7 overlays it with Model 1), 224x224 inputs (Fig. 9's 7x7 maps need them), ImageNet
  normalization;
- the report's "final" figures are read as the last evaluation's; the starter's closing print is
  the value 4 evaluations (2 epochs) earlier, which summary.summarize also records.
"""
