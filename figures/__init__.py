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
the run's folder; a report figure is draw(found, ctx) -> paths, drawn once into OUT/results/ with
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


FIGURES: tuple[Figure, ...] = (
    Figure("000", "first_layer", "Figs. 13-15", "The first convolutional layer's kernels and its "
           "outputs for one CIFAR-100 test image, Simple CNN and ResNet18", r000.first_layer,
           steps=("CNN2", "CNN6")),
    Figure("000", "overview", "", "Every step's test accuracy per epoch, and its final accuracy "
           "beside the report's (the kit's summary)", r000.overview),

    Figure("001", "samples", "Fig. 1", "Four random training images with their class names",
           r001.samples),
    Figure("001", "dropout", "Figs. 3, 5, 7, 9", "Validation accuracy per epoch without dropout and "
           "with p = 0.2, 0.5, 0.8 (one figure per p in the report)",
           _val_accuracy("Report 001: validation accuracy per epoch for dropout p", *_001_DROPOUT)),
    Figure("001", "softmax", "Fig. 10", "Four random validation images beside the softmax "
           "probabilities of the best model (p = 0.2), the largest highlighted", r001.softmax,
           steps=("001-A-drop0.2",)),  # 1.3.6: the best model, p = 0.2

    Figure("002", "filters", "Fig. 4", "CNN_5's 128 first-layer filters before training, after, "
           "after with BN and after with DA", r002.filters),
    Figure("002", "early-stopping", "Figs. 6-8", "Early stopping on validation loss, on validation "
           "accuracy, and with BN on accuracy: loss and validation accuracy, the best epoch dotted",
           r002.early_stopping),
    Figure("002", "DA", "Fig. 9", "Validation accuracy with data augmentation configurations 1 and 3",
           _val_accuracy("Report 002 (Fig. 9): validation accuracy with DA configuration 1 and 3",
                         "002-DA1", "002-DA3")),
    Figure("002", "dropout", "Fig. 10", "Training and validation losses for each dropout p, and the "
           "final accuracy against p (the report's best: 0.3)", r002.dropout),
    Figure("002", "dropout-val", "", "Validation accuracy per epoch for each dropout p (the kit's; "
           "the report plots the losses)",
           _val_accuracy("Report 002: validation accuracy per epoch for dropout p",
                         *(f"002-drop0.{k}" for k in range(1, 10)))),
    Figure("002", "vgg", "Figs. 11-14", "VGG11_bn partly fine-tuned, fully fine-tuned and trained "
           "from scratch, without and with DA: loss and validation accuracy", r002.vgg),

    # Report 003 numbers no figure; the sweeps as it ran them (the pairs share runs: see the steps).
    Figure("003", "augmented_samples", "", "A batch of augmented training images (padded crop and "
           "flip) with their labels", r003.augmented_samples),
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
    Figure("003", "error", "", "Train and validation error per epoch, the best epoch marked (the "
           "report's code plots it)", r003.error, steps=common.steps_of("003")),
    Figure("003", "optimizers", "", "Validation accuracy per epoch for Adam, SGD with momentum, "
           "Adagrad and RMSprop", _003_sweep("optimizers", "003-final", "003-SGD", "003-Adagrad",
                                              "003-RMSprop")),
    Figure("003", "tsne", "", "t-SNE of the 2,048-d latent at the start, middle and end of training, "
           "and of the final layer's output", r003.latent_space, steps=("003-final",),
           options=(r003.SAMPLES,)),

    Figure("004", "losses", "Fig. 7", "ResNet18's and Model 1's train, validation and test losses "
           "in one plot", r004.losses),
    Figure("004", "activations", "Figs. 8-9", "The first and the last convolutional layer's "
           "activations (8x8 of them) for one image", r004.activations, steps=("004-ResNet18",),
           options=(r004.IMAGE,)),
    Figure("004", "kernels_by_colour", "Figs. 10-13", "The first convolutional layer's weights as "
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
