"""Each report's own claims: one step better than others on a figure, in the report's own words.

A report argues comparisons as much as it prints numbers; a claim survives changes of hardware or
precision that move every step alike. compare.judge_claims judges them across seeds (holds, does
not hold, undecided, not comparable, not run). A claim naming a step or a figure that does not
exist fails at import.
"""
from __future__ import annotations

from dataclasses import dataclass

from config import FIGURES
from experiments import STEPS


@dataclass(frozen=True)
class Claim:
    """`better` beats each of `than` on `figure` (higher, or lower for a loss or an epoch)."""

    report: str
    better: str
    than: tuple[str, ...]
    figure: str  # a name of config.FIGURES
    higher: bool  # a higher figure is better
    says: str  # the report's own sentence or table rows
    where: str  # where in the report


_002_DROPOUT = tuple(f"002-drop0.{k}" for k in range(1, 10) if k != 3)

CLAIMS = (
    Claim("000", "CNN4a", ("CNN3a",), "test_accuracy", True,
          "These data are better than the previous CNN ones in terms of accuracy (10% higher) ... "
          "because we used regularization and improving techniques.", "section 4 (batch norm)"),
    Claim("000", "CNN5a", ("CNN2",), "test_accuracy", True,
          "These are better than the CNN of section 2 in terms of accuracy, because with data "
          "augmentation the CNN applies random variations on the original dataset.",
          "section 5 (random horizontal flip)"),
    Claim("000", "CNN5b", ("CNN2",), "test_accuracy", True,
          "These are better than the CNN of section 2 in terms of accuracy, because with data "
          "augmentation the CNN applies random variations on the original dataset.",
          "section 5 (random crop)"),
    Claim("001", "001-A-drop0.2", ("001-A", "001-A-drop0.5", "001-A-drop0.8"), "best_val_accuracy",
          True, "After all the above experimentations, the conclusion is that the best model for the "
          "CIFAR-10 image classification is the one with a dropout p = 0.2.", "section 1.3.6"),
    Claim("002", "002-drop0.3", _002_DROPOUT, "best_val_accuracy", True,
          "We achieved the best result, i.e. small losses and low overfit, with p=0.3 (judged here "
          "on the best validation accuracy; the report names no figure).", "Q3 b)"),
    Claim("002", "002-ES-BN-acc", ("002-ES-acc",), "best_epoch", False,
          "With BN we both obtained the best model and stop the training phase earlier w.r.t. the "
          "model without BN.", "Q2 b), Fig. 6"),
    Claim("002", "002-VGG-full", ("002-VGG-scratch",), "val_accuracy", True,
          "Pretrained VGG_11_bn fine-tuned ≈87.8%, trained from scratch ≈85% (read off the "
          "report's plots).", "Q4 b1), b2), Figs. 12-13"),
    Claim("003", "003-final", ("003-noaug",), "best_val_accuracy", True,
          "augmentation+ ... Validation accuracy: 82.41%; augmentation- ... Validation accuracy: "
          "77.34%.", "answer 1"),
    Claim("003", "003-BN-drop0.1", ("003-noBN",), "test_accuracy", True,
          "Adding batch normalization to every layer except the last improved training time and "
          "all training, validation, and test accuracies.", "answer 2"),
    Claim("003", "003-final", ("003-bs16", "003-bs32"), "best_val_accuracy", True,
          "batch_size = 16 ... 82.41%; batch_size = 32 ... 81.64%; batch_size = 64 ... Validation "
          "accuracy: 83.37%.", "answer 3"),
    Claim("003", "003-final", ("003-SGD", "003-Adagrad", "003-RMSprop"), "best_val_accuracy", True,
          "As a result, I kept the Adam optimizer as its performance was slightly better than "
          "RMSprop.", "answer 4"),
    Claim("004", "004-Model1", ("004-Model2",), "val_accuracy", True,
          "Changing network architecture to the one of model 1 increased our final validation "
          "accuracy of about 3%.", "2.5 e)"),
    Claim("004", "004-ResNet18", ("004-Model1",), "lowest_val_loss", False,
          "ResNet also converges to a lower validation loss than the other network. Generally it "
          "performs much better.", "3.4 d), Fig. 7"),
)

for _claim in CLAIMS:  # a claim naming what does not exist fails here, at import
    assert _claim.figure in FIGURES, f"claim of report {_claim.report}: no figure {_claim.figure}"
    for _step in (_claim.better, *_claim.than):
        assert _step in STEPS and STEPS[_step].id == _claim.report, \
            f"claim of report {_claim.report}: no step {_step} in it"
