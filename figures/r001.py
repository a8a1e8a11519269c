"""Report 001's own figures: four training images with their class names (Fig. 1), and four
validation images beside the best model's softmax probabilities (Fig. 10)."""
from __future__ import annotations

import os

import torch

import data
import plotting
import run_folder
from errors import UserError
from figures import notes
from figures.context import Context
from figures.load import model_input, run_dataset, trained_model
from run_folder.reader import Run

SHOWN = 4  # images in each figure, as in the report


def samples(runs: dict[str, Run], ctx: Context) -> list[str]:
    """Four random training images of the first run's data with their class names."""
    if not runs:
        return []
    run = next(iter(runs.values()))
    ds = run_dataset(run.config, ctx.data_dir)
    g = torch.Generator().manual_seed(run.config.seed)
    pick = torch.randperm(len(ds.train_labels), generator=g)[:SHOWN]
    images = ds.train_images[pick].float() / 255
    names = [ds.classes[int(y)] for y in ds.train_labels[pick]]
    path = ctx.path()
    plotting.plot_images(images, names, f"{SHOWN} random training images of {run.config.dataset}",
                         path, footnote=notes.of_run(run), narrow=True)
    return [path]


@torch.no_grad()
def softmax(run: Run, ctx: Context) -> list[str]:
    """softmax.png: four random validation images beside their softmax probabilities.

    The model is the run's kept one (best.pt with keep="best", else the last epoch's); the images
    are drawn from the run's own validation split, seeded.
    """
    cfg, exp = run.config, run.experiment()
    ds = run_dataset(cfg, ctx.data_dir)
    val_idx = data.split_dataset(ds, cfg.val_split, cfg.val_size, cfg.seed).val_index
    if not len(val_idx):
        raise UserError(f"{run.step}: the softmax figure shows validation images, but the run has "
                        f"no validation split")
    g = torch.Generator().manual_seed(cfg.seed)
    pick = val_idx[torch.randperm(len(val_idx), generator=g)[:SHOWN]]
    model, label = trained_model(exp, run, run_folder.BEST if cfg.keep == "best" else run_folder.CHECKPOINT)
    x = model_input(ds.train_images[pick], ds.train_labels[pick], exp.test_transform, cfg.seed)
    probs = torch.softmax(model(x).float(), 1)
    names = [ds.classes[int(y)] for y in ds.train_labels[pick]]
    path = os.path.join(run.dir, "softmax.png")
    plotting.plot_softmax(ds.train_images[pick].float() / 255, names, probs, ds.classes,
                          f"{run.step}, {label}: softmax of {SHOWN} random validation images", path,
                          footnote=notes.of_run(run), narrow=True)
    return [path]
