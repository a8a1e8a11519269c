"""Report 003: Boğaziçi CMPE 597 Deep Learning, Spring 2021, Project II: a three-block CNN on CIFAR-10.

Sources: the report's text and the author's code as summarized in ../shared/reports-001-004.md,
section 003. The readings chosen where the report is silent or its code differs from its intent:
- the split: data_batch_1..4 for training (40,000), data_batch_5 for validation (10,000);
- normalization: the 40,000 training images' channel mean and std, rounded as the test script
  hardcodes them (common.MEAN, common.STD; data.channel_stats computes them);
- padding k // 2 for the 7x7 and 5x5 kernels ("so that the image size stays the same"), which
  keeps fc1 at 2,048 inputs;
- dropout 0.1 (where the author's code puts it): after the flatten and after fc1's ReLU;
- early stopping on validation accuracy, strictly better than every earlier epoch, patience 5,
  the best weights kept: a run ends at best + 5 epochs;
- validation, test and t-SNE features in eval mode (the author's code never calls model.eval());
- the t-SNE snapshots after epoch 1, epoch max(1, best // 2) and the best epoch, of unaugmented
  training images; "the final FC layer" read as fc3's output, the 10 logits;
- the identical rows of the report's table are shared runs: each step's docstring names them.
  The augmentation pair shares its "+" row with batch 16, so 003-noaug trains at batch 16.
"""
