"""Everything drawn after training, from the runs a folder holds; FIGURES is the one table of figures.

    figures/__init__.py  FIGURES: every report's figures in the report's own order, report 000 first
    figures/context.py   the records: Figure (a row), Option (its command-line option), Context
    figures/common.py    what several reports use: the overlay of a sweep, a report's step order
    figures/notes.py     what a figure says under itself: how its runs differ from the report's
                         setting, its steps without a run, the loss scale the report plotted
    figures/load.py      what a run saved, made usable: its model before and after, its images,
                         what a layer outputs
    figures/tiles.py     grids of tiles: kernels and feature maps
    figures/tsne.py      t-SNE embeddings (openTSNE, else scikit-learn) and their scatter plot
    figures/r000.py ... r004.py   each report's own figures, one module per report

A step figure (steps given) is draw(run, ctx) -> paths, drawn for each of those steps' runs into
the run's folder; a report figure is draw(runs, ctx) -> paths, drawn once into OUT/results/ with
the report's runs by step. results.py reads the runs, draws each run's loss and accuracy, walks
this table and writes OUT/results/<report>.md; its command line adds each Option listed here.
Pure drawing (curves, overlays, images, softmax bars, the confusion matrix) stays in plotting.py,
which takes numbers and imports nothing of this package; the overview and the t-SNE scatter are
drawn beside their figures, in r000.py and tsne.py.

A report with its own figure: its steps under experiments/, a module figures/rNNN.py with the draw
function, and one row below.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Mapping

from errors import UserError
from figures import common, r000, r001, r002, r003, r004
from figures.context import Context, Figure, Option

__all__ = ["FIGURES", "OPTIONS", "Context", "Figure", "Option", "of", "option_values"]

_001_DROPOUT = ("001-A", "001-A-drop0.2", "001-A-drop0.5", "001-A-drop0.8")


def _val_accuracy(title: str, *steps: str) -> partial:
    """The overlay of validation accuracy per epoch for these steps."""
    return partial(common.overlay, metric="val_accuracy", steps=steps, title=title)


def _003_sweep(what: str, *steps: str) -> partial:
    return _val_accuracy(f"Report 003: validation accuracy per epoch, {what}", *steps)


def _curves(report: str, step: str, number: str, caption: str, called: str = "") -> Figure:
    """A step's own loss and accuracy per epoch as the report's figure (number) that shows it."""
    return Figure(report, f"curves-{step.replace('.', '_')}", number, caption, common.curves, steps=(step,),
                  called=called)


# Each report's rows: the figures it has, numbered (or, in 003, named) and in its order, then the
# kit's own. A step's loss and accuracy is the report's figure where the report plots that step.
FIGURES: tuple[Figure, ...] = (
    _curves("000", "NN1", "Fig. 1", "Old NN Loss Accuracy graph"),
    _curves("000", "CNN2", "Fig. 2", "Simple CNN Loss Accuracy graph"),
    _curves("000", "CNN3a", "Fig. 3", "CNN 128/128/256 Loss Accuracy graph"),
    _curves("000", "CNN3b", "Fig. 4", "CNN 256/256/256/512 Loss Accuracy graph"),
    _curves("000", "CNN3c", "Fig. 5", "CNN 512/512/512/1024 Loss Accuracy graph"),
    _curves("000", "CNN4a", "Fig. 6", "CNN with Batch Normalization Loss Accuracy graph"),
    _curves("000", "CNN4b", "Fig. 7", "CNN with Batch Normalization and FC1 wider Loss Accuracy "
            "graph"),
    _curves("000", "CNN4c", "Fig. 8", "CNN with Batch Normalization and Dropout 0.5 on FC1 Loss "
            "Accuracy graph"),
    _curves("000", "CNN5a", "Fig. 9", "CNN with Random Horizontal Flipping Loss Accuracy graph"),
    _curves("000", "CNN5b", "Fig. 10", "CNN with Random Crop Loss Accuracy graph"),
    _curves("000", "CNN6", "Fig. 11", "ResNet18 pretrained with Random Horizontal Flipping Loss "
            "Accuracy graph"),
    Figure("000", "first_layer", "Figs. 13-15", "The first convolutional layer's kernels and its "
           "outputs for one CIFAR-100 test image, Simple CNN and ResNet18", r000.first_layer,
           steps=("CNN2", "CNN6")),
    Figure("000", "overview", "", "Every step's test accuracy per epoch, and its final accuracy "
           "beside the report's (the kit's summary)", r000.overview),

    Figure("001", "samples", "Fig. 1", "Four random images from training set", r001.samples),
    _curves("001", "001-A", "Figs. 2-3", "Training and Validation Loss over epochs; Training and "
            "Validation accuracy over epochs"),
    *(_curves("001", f"001-A-drop{p}", f"Figs. {k}-{k + 1}", f"Training and Validation Loss over "
              f"epochs, dropout={p}; Training and Validation accuracy over epochs, dropout={p}")
      for k, p in ((4, "0.2"), (6, "0.5"), (8, "0.8"))),
    Figure("001", "softmax", "Fig. 10", "Four random images from validation set with "
           "corresponding probability distributions (the best model, p = 0.2; the largest "
           "highlighted)", r001.softmax, steps=("001-A-drop0.2",)),  # 1.3.6: the best, p = 0.2
    _curves("001", "001-B", "Figs. 11-12", "Training and Validation Loss over epochs; Training and "
            "Validation accuracy over epochs (the final network)"),
    Figure("001", "dropout", "", "Validation accuracy per epoch without dropout and with p = 0.2, "
           "0.5, 0.8 in one plot (the report draws one figure per p: Figs. 3, 5, 7, 9)",
           _val_accuracy("Report 001: validation accuracy per epoch for dropout p", *_001_DROPOUT)),

    _curves("002", "002-CNN5", "Fig. 1", "CNN_5 performances: (a) train and validation loss, (b) "
            "validation accuracy"),
    Figure("002", "filters", "Fig. 4", "Comparing the filters before and after Train: CNN_5's 128 "
           "first-layer filters before training, after, after with BN and after with DA",
           r002.filters),
    _curves("002", "002-CNN5-BN", "Fig. 5", "CNN_5 performances with BN"),
    Figure("002", "early-stopping", "Figs. 6-8", "ES monitoring Val_Loss; ES monitoring Val_Acc; "
           "ES+BN monitoring Val_Acc: loss and validation accuracy, the best epoch dotted",
           r002.early_stopping),
    Figure("002", "DA", "Fig. 9", "CNN_5 performances with DA: validation accuracy with data "
           "augmentation configurations 1 and 3",
           _val_accuracy("Report 002 (Fig. 9): validation accuracy with DA configuration 1 and 3",
                         "002-DA1", "002-DA3")),
    Figure("002", "dropout", "Fig. 10", "Train/Val Losses with Dropout for each p, and the "
           "final accuracy against p (the report's best: 0.3)", r002.dropout),
    _curves("002", "002-VGG-partial", "Fig. 11", "VGG_11_bn Partial Finetuning"),
    _curves("002", "002-VGG-full", "Fig. 12", "VGG_11_bn Total Finetuning"),
    _curves("002", "002-VGG-scratch", "Fig. 13", "VGG 11 bn Training From Scratch"),
    Figure("002", "vgg", "Fig. 14", "Transfer Learning with DA: VGG11_bn partly fine-tuned, fully "
           "fine-tuned and trained from scratch, with DA: loss and validation accuracy",
           partial(r002.vgg, suffixes=("-DA",))),
    Figure("002", "vgg-no-DA", "", "VGG11_bn partly fine-tuned, fully fine-tuned and trained from "
           "scratch without DA in one plot (the report's Figs. 11-13 side by side)",
           partial(r002.vgg, suffixes=("",))),
    Figure("002", "dropout-val", "", "Validation accuracy per epoch for each dropout p (the kit's; "
           "the report plots the losses)",
           _val_accuracy("Report 002: validation accuracy per epoch for dropout p",
                         *(f"002-drop0.{k}" for k in range(1, 10)))),

    # Report 003 numbers none of its figures: each is named by what the report calls it; then
    # the sweeps as it ran them (the pairs share runs: see the steps), which it gives as numbers.
    Figure("003", "augmented_samples", "", "A batch of augmented training images (padded crop and "
           "flip) with their labels", r003.augmented_samples,
           called="sample images with respective labels"),
    _curves("003", "003-final", "", "The loss (and accuracy) per epoch of the final network: "
            "Adam, learning rate 0.001, batch 64",
            called="the value of the loss function with respect to number of epochs"),
    Figure("003", "tsne", "", "t-SNE of the 2,048-d latent at the start, middle and end of training, "
           "and of the final layer's output", r003.latent_space, steps=("003-final",),
           options=(r003.SAMPLES,), called="the latent space in t-SNE, and the final FC layer's"),
    Figure("003", "augmentation", "", "Validation accuracy per epoch with and without "
           "augmentation (batch 16)", _003_sweep("augmentation on/off (batch 16)",
                                                 "003-bs16", "003-noaug")),
    Figure("003", "kernels", "", "Validation accuracy per epoch for kernel sizes 7/5/3, 5/3/3 and "
           "3/3/3", _003_sweep("kernel sizes", "003-k753", "003-k533", "003-final")),
    Figure("003", "batch_norm", "", "Validation accuracy per epoch with and without batch norm "
           "(dropout 0.1)", _003_sweep("batch norm on/off (dropout 0.1)",
                                       "003-BN-drop0.1", "003-noBN")),
    Figure("003", "batch_sizes", "", "Validation accuracy per epoch for batch sizes 16, 32 and 64",
           _003_sweep("batch sizes", "003-bs16", "003-bs32", "003-final")),
    Figure("003", "optimizers", "", "Validation accuracy per epoch for Adam, SGD with momentum, "
           "Adagrad and RMSprop", _003_sweep("optimizers", "003-final", "003-SGD", "003-Adagrad",
                                              "003-RMSprop")),
    Figure("003", "error", "", "Train and validation error per epoch, the best epoch marked (the "
           "report's code plots it)", r003.error, steps=common.steps_of("003")),

    _curves("004", "004-LeNet", "Figs. 1-2", "Losses for task 1; Accuracy for task 1"),
    _curves("004", "004-Model1", "Figs. 3-4", "The accuracy of Model 1 which is our best network "
            "plotted for each epoch; The losses of Model 1"),
    _curves("004", "004-ResNet18", "Figs. 5-6", "Accuracy for Resnet; Losses for ResNet"),
    Figure("004", "losses", "Fig. 7", "Losses for ResNet and our best model (ModelOne): train, "
           "validation and test in one plot", r004.losses),
    Figure("004", "activations", "Figs. 8-9", "Visualization of the filters from the first and "
           "from the last convolutional layer (8x8 of them) for one image", r004.activations,
           steps=("004-ResNet18",), options=(r004.IMAGE,)),
    Figure("004", "kernels_by_colour", "Figs. 10-13", "Weights for the first convolutional layer: "
           "RGB, red only, green only and blue only", r004.kernels_by_colour,
           steps=("004-ResNet18",)),
)

# Every option of the table, once, in the table's order: results.py's command line adds them.
OPTIONS: tuple[Option, ...] = tuple(dict.fromkeys(o for f in FIGURES for o in f.options))


def of(report: str) -> tuple[Figure, ...]:
    """A report's figures, in the report's order."""
    return tuple(f for f in FIGURES if f.report == report)


def option_values(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option's value by key, the default where not given; a value below its minimum is refused."""
    values = {o.key: given.get(o.key, o.default) for o in OPTIONS}
    for o in OPTIONS:
        if o.minimum is not None and values[o.key] is not None and values[o.key] < o.minimum:
            raise UserError(f"{o.flag} {values[o.key]} must be at least {o.minimum}")
    return values
