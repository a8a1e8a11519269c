"""Report 003's own figures: augmented samples, error per epoch, and the t-SNE of the latent space
(the report numbers none of them); --tsne-samples is the t-SNE's option."""
from __future__ import annotations

import math
import textwrap
import os

import matplotlib.pyplot as plt
from matplotlib import font_manager
import torch
from torch import nn

import augment
import data
import plotting
import run_folder
from run_folder import checkpoint
from errors import UserError
from figures import load, notes, tiles, tsne
from figures.context import Context, Option
from run_folder.reader import Run

PERPLEXITY = 50  # the report's TSNE(perplexity=50)
TSNE_SAMPLES = 5000  # training images in the t-SNE by default: 500 per CIFAR-10 class
SAMPLES = Option("--tsne-samples", type=int, default=TSNE_SAMPLES, metavar="N", minimum=1,
                 help=f"training images in each t-SNE, a stratified sample (default: "
                      f"{TSNE_SAMPLES}; 40000 takes every one, minutes with openTSNE)")


NARROW_SAMPLES = 16  # augmented images in the narrow variant


def augmented_samples(runs: dict[str, Run], ctx: Context, n: int = 64) -> list[str]:
    """One batch of n augmented training images with their labels, as the report shows them.

    From the first run on CIFAR (its augmentation shows best on real images), else the first run.
    """
    run = next((r for r in runs.values() if r.config.dataset != "synthetic"), None) \
        or next(iter(runs.values()), None)
    if run is None:
        return []
    exp, ds = run.experiment(), load.run_dataset(run.config, ctx.data_dir)
    loader = augment.make_loader(ds.train_images[:max(n, 1)], ds.train_labels[:max(n, 1)],
                                 exp.train_transform, n, True, torch.device("cpu"), run.config.seed,
                                 workers=0)
    x, y = next(iter(loader))
    images = torch.stack([load.for_display(xi, exp.train_transform) for xi in x])
    path = ctx.path()
    title = (f"{run.step}: {len(images)} augmented training images of {run.config.dataset} "
             f"(padded crop + flip)")
    names = [ds.classes[int(label)] for label in y]
    _plot_samples(images, names, title, path, footnote=notes.of_run(run))
    return [path]


def _plot_samples(images: torch.Tensor, names: list[str], title: str, path: str, *,
                 footnote: str = "") -> None:
    """Images (N, 3, H, W) in [0, 1] in a square grid, each with its class name above it; also
    narrow_path(path): the first NARROW_SAMPLES, four to a row, names as large as a page's text.

    One image in one axes (the tiles, white bands for the names): 64 axes took seconds to draw.
    """
    for shown, slim in ((images, False), (images[:NARROW_SAMPLES], True)):
        _, cols = tiles.grid_shape(len(shown))
        width = plotting.NARROW_WIDTH if slim else 1.3 * cols
        size = "medium" if slim else "x-small"
        points = font_manager.FontProperties(size=size).get_size_in_points()
        h, w = shown.shape[2:]
        gap = max(1, w // 10)
        inch = width / (cols * (w + gap))  # inches a pixel of the grid takes, about
        band = math.ceil(points * 1.5 / 72 / inch)  # a name's white band above its image
        cells = torch.cat([torch.ones(len(shown), band, w, 3), shown.permute(0, 2, 3, 1)], dim=1)
        image, _ = tiles.mosaic(cells, gap=gap)
        fig, ax = plt.subplots(figsize=(width, width * image.shape[0] / image.shape[1] + 1.5),
                               layout="constrained")
        ax.imshow(image, interpolation="nearest")
        ax.axis("off")
        ax.set_anchor("N")  # under the title; the room the figure has left below is cropped
        for k, name in enumerate(names[:len(shown)]):
            r, c = divmod(k, cols)
            ax.text(c * (w + gap) + (w - 1) / 2, r * (h + band + gap) + band / 2, name,
                    ha="center", va="center", fontsize=points)
        fig.suptitle(textwrap.fill(f"{title}: the first {len(shown)}", 48) if slim else title)
        plotting.save(fig, plotting.narrow_path(path) if slim else path, footnote,
                      bbox_inches="tight")


def error(run: Run, ctx: Context) -> list[str]:
    """error.png: the error per epoch (100 - accuracy), train and validation, the best epoch marked."""
    epochs = [r["epoch"] for r in run.history]
    best = run.best_epoch
    fig, ax = plt.subplots(figsize=(plotting.NARROW_WIDTH, 4), layout="constrained")  # phones
    for split, style in (("train", plotting.TRAIN_STYLE), ("val", plotting.VAL_STYLE)):
        if f"{split}_accuracy" in run.history[-1]:
            ax.plot(epochs, [100 - r[f"{split}_accuracy"] for r in run.history],
                    label="validation" if split == "val" else split, **style)
    if best:
        ax.axvline(best, label=f"best epoch ({best:g})", **plotting.BEST_STYLE)
    plotting.epoch_axes(ax, "error (%)", f"{run.step}: error per epoch")
    plotting.legend_outside(ax)
    path = os.path.join(run.dir, "error.png")
    plotting.save(fig, path, notes.of_run(run))
    return [path]


@torch.no_grad()
def features(model: nn.Sequential, x: torch.Tensor, chunk: int = 1000) -> tuple[torch.Tensor, ...]:
    """The latent (the Flatten's output, 2,048-d) and the logits (fc3's) of x, in eval mode."""
    model.eval()
    cut = next(i for i, m in enumerate(model) if isinstance(m, nn.Flatten)) + 1
    latent, logits = [], []
    for part in x.split(chunk):
        z = model[:cut](part)
        latent.append(z)
        logits.append(model[cut:](z))
    return torch.cat(latent), torch.cat(logits)


def latent_space(run: Run, ctx: Context) -> list[str]:
    """tsne.png: t-SNE of the latent after epoch 1, in the middle and at the best epoch, and of the
    best logits.

    Unaugmented training images of the run's own split, a stratified sample of --tsne-samples (all
    of them when it is at least their number).
    """
    cfg, exp = run.config, run.experiment()
    samples = ctx.options.get(SAMPLES.key, SAMPLES.default)
    best = run.best_epoch or len(run.history)
    epochs = run_folder.snapshot_epochs(best)
    missing = [e for e in epochs if not os.path.isfile(run_folder.snapshot_path(run.dir, e))]
    if missing:
        raise UserError(f"{run.step}: the t-SNE needs the weights after epochs "
                        f"{', '.join(map(str, epochs))}, but {run.dir}/{run_folder.SNAPSHOTS}/ lacks "
                        f"{', '.join(map(str, missing))} (train with --set snapshots=true)")
    ds = load.run_dataset(cfg, ctx.data_dir)
    images, labels = ds.train_images, ds.train_labels
    train_idx = data.split_dataset(ds, cfg.val_split, cfg.val_size, cfg.seed).train_index
    classes = len(ds.classes)
    per_class = None if samples >= len(train_idx) else max(1, samples // classes)
    pick = train_idx[tsne.stratified_sample(labels[train_idx], per_class, cfg.seed)]
    x = load.model_input(images[pick], labels[pick], exp.test_transform, cfg.seed)
    panels, names = [], []
    for epoch in epochs:
        model = exp.model(cfg)
        checkpoint.load_weights(model, run_folder.snapshot_path(run.dir, epoch), run.step)
        latent, logits = features(model, x)
        when = "start" if epoch == 1 else ("best" if epoch == best else "middle")
        points, name, _ = tsne.embed(latent, PERPLEXITY, cfg.seed)
        panels.append((f"latent (2,048-d) after epoch {epoch} ({when})", points, labels[pick].numpy()))
        names.append(name)
    points, name, _ = tsne.embed(logits, PERPLEXITY, cfg.seed)  # the last model is the best one
    panels.append((f"fc3 output (logits) at epoch {best}", points, labels[pick].numpy()))
    path = os.path.join(run.dir, "tsne.png")
    # embed's name says a perplexity it lowered for few points ("perplexity 6.33 (not 50: ...)").
    how = names[0] if "perplexity" in names[0] else f"{names[0]}, perplexity {PERPLEXITY}"
    tsne.plot_tsne(panels, ds.classes, f"{run.step}: t-SNE of {len(pick):,} training images "
                   f"(unaugmented, eval mode), {how}", path, footnote=notes.of_run(run),
                   narrow=True)
    return [path]
