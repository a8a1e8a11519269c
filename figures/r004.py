"""Report 004's own figures: ResNet18's and Model 1's losses (Fig. 7), what ResNet18 sees in one
image (Figs. 8-9) and its first kernels by colour (Figs. 10-13).

The image is the user's (--image PATH, read once by read_image) or the step's first CIFAR-10 test
image.
"""
from __future__ import annotations

import os

import matplotlib.pyplot as plt  # plotting (imported below) has chosen the file-only backend
import numpy as np
import torch

import plotting
from errors import UserError
from figures import load, notes, tiles
from figures.common import steps_of
from figures.context import Context, Option
from run_folder.reader import Run


def read_image(path: str) -> tuple[torch.Tensor, str]:
    """An image file (any format PIL reads) as a uint8 RGB tensor (1, 3, H, W), and its file name.

    One sentence (a UserError) if it cannot be read.
    """
    from PIL import Image, UnidentifiedImageError  # only --image needs it

    if not os.path.exists(path):
        raise UserError(f"--image {path} does not exist")
    if os.path.isdir(path):
        raise UserError(f"--image {path} is a folder, not an image file")
    try:
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise UserError(f"--image {path} is not an image PIL can read ({type(e).__name__})") from None
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None], os.path.basename(path)


IMAGE = Option("--image", metavar="PATH", read=read_image,
               help="a photo (any format PIL reads) for report 004's activation figures, resized "
                    "to the model's input (default: the run's first CIFAR-10 test image)")


def activations(run: Run, ctx: Context) -> list[str]:
    """Figs. 8-9: conv1's 64 outputs and the first 64 of layer4's 512, each beside the input image.

    The image is --image's (read_image), else the run's first test image; resized to the model's
    input and normalized by the step's test transform, as evaluate sees images. Its name is in
    each figure's title and, through ctx.note, under the report's table; the two files keep their
    names, so another image's figures replace these.
    """
    exp = run.experiment()
    model, label = load.trained_model(exp, run)
    image, image_name = ctx.options.get(IMAGE.key) or (None, "")
    if image is None:
        image, _, cls = load.first_test_image(run.config, ctx.data_dir)
        image_name = f"test image 0 of {run.config.dataset} ({cls})"
    x = load.model_input(image, torch.zeros(1, dtype=torch.long), exp.test_transform, run.config.seed)
    shown = load.for_display(x[0], exp.test_transform)
    side = x.shape[-1]
    written = []
    for name, layer, maps in (("conv1", load.first_conv(model), load.first_conv_outputs(model, x)),
                              ("layer4", model.layer4, load.block_outputs(model, x, model.layer4)[:64])):
        c, h, w = maps.shape
        what = ("the first convolution's 64 output channels" if name == "conv1" else
                "the first 64 of layer4's 512 output channels (after the residual add and ReLU)")
        path = os.path.join(run.dir, f"activations_{name}.png")
        tiles.plot_feature_maps(shown, f"{image_name}\nat {side}x{side}, as {run.step} sees it",
                                [(load.layer_label(label, layer, run.config), maps)],
                                f"{run.step}: {what} ({h}x{w}) for {image_name}", path,
                                footnote=notes.of_run(run), narrow=True)
        written.append(path)
    ctx.note(f"Figs. 8-9 (activations_conv1.png, activations_layer4.png of {run.step}) show "
             f"{image_name}" + (" (--image)" if ctx.options.get(IMAGE.key) else ""))
    return written


def kernels_by_colour(run: Run, ctx: Context) -> list[str]:
    """Figs. 10-13: conv1's 64 kernels (7x7) in RGB, and each colour channel alone in grey."""
    exp = run.experiment()
    model, label = load.trained_model(exp, run)
    conv = load.first_conv(model)
    w = conv.weight
    path = os.path.join(run.dir, "kernels_by_colour.png")
    tiles.plot_kernels([("RGB", w), ("red only", w[:, 0:1]), ("green only", w[:, 1:2]),
                        ("blue only", w[:, 2:3])],
                       f"{run.step}, {load.layer_label(label, conv, run.config)}: the first "
                       f"convolution's {len(w)} kernels ({w.shape[2]}x{w.shape[3]}), brighter = "
                       f"higher weight", path, footnote=notes.of_run(run), narrow=True)
    return [path]


def losses(runs: dict[str, Run], ctx: Context) -> list[str]:
    """Fig. 7: ResNet18's and Model 1's train, validation and test losses in one axes."""
    steps = ("004-ResNet18", "004-Model1")
    ran = [s for s in steps if s in runs]
    if not ran:
        return []
    path = ctx.path()
    for fig, (ax,), slim in plotting.panel_figures(1, 1, (9, 5), panel_height=5):
        for step in ran:
            style = plotting.step_style(step, steps_of(ctx.report))
            for split, line in (("train_eval", "-"), ("val", "-."), ("test", "--")):
                rows = [r for r in runs[step].history if f"{split}_loss" in r]
                if rows:
                    ax.plot([r["epoch"] for r in rows], [r[f"{split}_loss"] for r in rows],
                            color=style["color"], marker=style["marker"], markersize=3,
                            linestyle=line, label=f"{step} {plotting.SPLIT_LABELS.get(split, split)}")
        plotting.epoch_axes(ax, "cross-entropy loss (per image)",
                            "Report 004, Fig. 7: ResNet18's and Model 1's losses")
        plotting.legend_outside(ax, slim)
        plotting.save(fig, plotting.narrow_path(path) if slim else path,
                      notes.footnote({s: runs[s] for s in ran}, steps, loss=True))
    return [path]
