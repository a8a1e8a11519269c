"""The shared train/eval loop: `run` trains one experiment and leaves everything in <out>/<step>/."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from typing import Any, Callable, Iterable

import torch
from torch import nn
from tqdm import tqdm

import augment
import data
import plotting
import runs
from config import Config, check_config
from devices import autocast, prepare_model, resolve_device, to_device, uses_channels_last
from early_stopping import EarlyStopping
from errors import Interrupted, TrainingError, UserError, first_line
from experiments import Experiment, build_model, report_of
from optimizers import make_optimizer, trainable_parameters
from summary import DEFAULT_COLUMNS, compare_line, epoch_rows, setting_notes, summarize

def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                    device: torch.device, desc: str, after: frozenset[int] = frozenset(),
                    between: Callable[[int], None] | None = None) -> dict[str, float | int]:
    """One pass over the training set; returns mean loss, accuracy (%) and the first non-finite batch.

    between(b) is called after each batch b in `after` (evaluations within the epoch).
    """
    model.train()
    # Sums stay on the device: reading them every batch would wait for the GPU each time.
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    first_bad = torch.full((), -1, dtype=torch.long, device=device)
    seen, shown = 0, time.monotonic()
    channels_last = uses_channels_last(model)
    bar = tqdm(loader, total=len(loader), desc=desc, leave=False, unit="batch", disable=None)
    for i, (x, y) in enumerate(bar):
        x, y = to_device(x, y, device, channels_last)
        with autocast(device):
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss = loss.detach().float()
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss), i, first_bad)
        loss_sum += loss * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if not bar.disable and time.monotonic() - shown > 1:  # one sync a second, for the bar only
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}")
            shown = time.monotonic()
        if i + 1 in after:
            between(i + 1)
            model.train()  # evaluate left it in eval mode
    return {"loss": loss_sum.item() / seen, "accuracy": 100 * correct.item() / seen,
            "first_bad_batch": int(first_bad.item())}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, device: torch.device) -> dict[str, float]:
    """Mean loss and accuracy (%) over a whole loader, in eval mode."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen, channels_last = 0, uses_channels_last(model)
    for x, y in loader:
        x, y = to_device(x, y, device, channels_last)
        with autocast(device):
            logits = model(x)
        loss_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
    return {"loss": loss_sum.item() / seen, "accuracy": 100 * correct.item() / seen}


# ---------------------------------------------------------------------------------------------
# One run, top to bottom
# ---------------------------------------------------------------------------------------------

def run(exp: Experiment, cfg: Config) -> dict[str, Any]:
    """Train one experiment under cfg; returns its figures (summarize), device and folder."""
    check_config(cfg)
    device = resolve_device(cfg.device)
    run_dir = os.path.join(cfg.out, cfg.step)
    ckpt_path, best_path = os.path.join(run_dir, runs.CHECKPOINT), os.path.join(run_dir, runs.BEST)
    ckpt = runs.load_checkpoint(ckpt_path, cfg) if cfg.resume else None  # refuse before loading data
    torch.manual_seed(cfg.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    # ---- data: decoded once, kept on the device, augmented there in whole batches --------------
    ds = data.load_dataset(cfg.dataset, cfg.data_dir, cfg.subset, cfg.seed, cfg.num_classes)
    split = data.split_dataset(ds, cfg.val_split, cfg.val_size, cfg.seed)
    val_idx, images, labels = split.val_index, split.train_images, split.train_labels
    train_loader = augment.make_loader(images, labels, exp.train_transform, cfg.batch_size, True,
                                       device, cfg.seed, cfg.workers)
    val_loader = None
    if len(val_idx):
        val_transform = exp.train_transform if cfg.val_transform == "train" else exp.test_transform
        val_loader = augment.make_loader(split.val_images, split.val_labels,
                                         val_transform, cfg.batch_size, False, device,
                                         cfg.seed + 1, cfg.workers)
    # test_limit: every epoch tests the first N test images only (report 002's test figure).
    test_loader = augment.make_loader(ds.test_images[:cfg.test_limit], ds.test_labels[:cfg.test_limit],
                                      exp.test_transform, cfg.batch_size, False, device, cfg.seed,
                                      cfg.workers)
    loaders = [train_loader] + ([val_loader] if val_loader is not None else [])
    # Extra evaluations (eval_every < 1, eval_at_start) also pass over the training images in eval
    # mode; with the test transform, so that they draw no random numbers.
    cadence = cfg.eval_every < 1 or cfg.eval_at_start
    train_eval_loader = augment.make_loader(images, labels, exp.test_transform, cfg.batch_size, False,
                                            device, cfg.seed, cfg.workers) if cadence else None

    # ---- model, optimizer, early stopping -------------------------------------------------------
    model = prepare_model(build_model(exp, cfg), device)
    _check_model_fits(model, exp, cfg, ds, device)
    optimizer = make_optimizer(model, cfg, device)
    # Compiled or not, `model` holds the weights: its state_dict has no compiler prefix.
    step_model = torch.compile(model) if cfg.compile else model
    n_params = trainable_parameters(model)

    history: list[dict[str, float]] = []
    if ckpt is not None:
        stopper = _restore(ckpt, ckpt_path, exp, cfg, model, optimizer, loaders)
        history = ckpt["history"]
    else:
        stopper = _early_stopping(cfg)
        moved = runs.set_aside(run_dir)
        if moved:
            print(f"{run_dir} held an earlier run: moved it to {moved}")

    # ---- the run's folder: what it is and how to reproduce it ---------------------------------
    try:
        os.makedirs(run_dir, exist_ok=True)
        runs.check_free_space(run_dir, model, ckpt_path, cfg.epochs if cfg.snapshots else 0)
        for name in (runs.INTERRUPTED, runs.SUMMARY):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(run_dir, name))
        with open(os.path.join(run_dir, "config.json"), "w") as f:
            json.dump({"config": dataclasses.asdict(cfg), "parameters": n_params,
                       "reported": dataclasses.asdict(exp.reported) if exp.reported else None,
                       "environment": runs.environment(device)}, f, indent=2)
        with open(os.path.join(run_dir, "experiment.py"), "w", encoding="utf-8") as f:
            f.write(exp.source)
        if history:  # an interruption may have left a row for an epoch the checkpoint lacks
            runs.write_metrics(os.path.join(run_dir, "metrics.csv"), history)
        if val_loader is not None and ckpt is None:  # best.pt starts as the starting weights
            runs.save_atomic(best_path, {"epoch": 0, "model": model.state_dict()})
    except OSError as e:
        raise UserError(f"{cfg.step}: cannot write the run's folder {run_dir} "
                        f"({e.strerror or e}); choose another --out") from None
    split = f", {len(val_idx)} validation ({cfg.val_split})" if len(val_idx) else ""
    print(f"{cfg.step}: {n_params:,} parameters on {device}, {len(labels)} training{split} and "
          f"{len(ds.test_labels)} test images of {cfg.dataset}; {cfg.optimizer} lr {cfg.lr:g}; "
          f"train data {train_loader.description}"
          + (f"; resuming after epoch {len(epoch_rows(history))}" if history else ""))

    # ---- epochs --------------------------------------------------------------------------------
    def evaluation(at: float) -> dict[str, float]:  # a row of extra evaluations (eval_every)
        row = {"epoch": at}
        for split, loader in (("train_eval", train_eval_loader), ("val", val_loader), ("test", test_loader)):
            if loader is not None:
                result = evaluate(step_model, loader, device)
                row.update({f"{split}_loss": result["loss"], f"{split}_accuracy": result["accuracy"]})
        return row

    def evaluate_at(at: float) -> None:
        history.append(evaluation(at))
        print(_evaluation_line(cfg, history[-1]), flush=True)

    epoch = saved = len(epoch_rows(history))  # saved: the epoch checkpoint.pt holds
    # The batches after which to evaluate: 0.5 is the middle one; none by default.
    n = len(train_loader)
    after = frozenset(round(k * cfg.eval_every * n)
                      for k in range(1, math.ceil(1 / cfg.eval_every))) - {0, n}
    try:
        if cfg.eval_at_start and not history:
            evaluate_at(0)
        for epoch in range(saved + 1, cfg.epochs + 1):
            if stopper.stopped:
                break
            start = time.perf_counter()
            for group in optimizer.param_groups:  # the decay is a function of the epoch: resumable
                group["lr"] = cfg.lr * cfg.lr_decay ** (epoch - 1)
            between = (after, lambda b: evaluate_at(round(epoch - 1 + b / n, 4))) if after else ()
            train = train_one_epoch(step_model, train_loader, optimizer, device,
                                    f"{cfg.step} {epoch}/{cfg.epochs}", *between)
            if train["first_bad_batch"] >= 0:
                raise TrainingError(
                    f"{cfg.step}: the training loss became {train['loss']} at epoch {epoch}, batch "
                    f"{train['first_bad_batch'] + 1}; stopped, {runs.kept(saved)}; try a lower --lr")
            if not _all_finite(model):  # a step can break the weights after its loss was read
                raise TrainingError(
                    f"{cfg.step}: the weights became non-finite at epoch {epoch} (after the training "
                    f"loss of each batch was read); stopped, {runs.kept(saved)}; try a lower --lr")
            row = {"epoch": epoch, "train_loss": train["loss"], "train_accuracy": train["accuracy"]}
            if val_loader is not None:
                val = evaluate(step_model, val_loader, device)
                row.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
            test = evaluate(step_model, test_loader, device)
            row.update(test_loss=test["loss"], test_accuracy=test["accuracy"])
            if train_eval_loader is not None:
                train_eval = evaluate(step_model, train_eval_loader, device)
                row.update(train_eval_loss=train_eval["loss"], train_eval_accuracy=train_eval["accuracy"])
            row["seconds"] = time.perf_counter() - start
            bad = [f"{k.replace('_', ' ')} {row[k]}" for k in ("val_loss", "test_loss")
                   if k in row and not math.isfinite(row[k])]
            if bad:  # nothing of this epoch is saved: checkpoint.pt and best.pt stay finite
                raise TrainingError(f"{cfg.step}: the {' and '.join(bad)} at epoch {epoch}; stopped, "
                                    f"{runs.kept(saved)}; try a lower --lr")
            history.append(row)
            improved = val_loader is not None and stopper.update(epoch, row[cfg.monitor])
            print(_epoch_line(cfg, row, improved), flush=True)
            try:
                runs.write_metrics(os.path.join(run_dir, "metrics.csv"), history)
                plotting.plot_loss_accuracy(history, cfg.step, os.path.join(run_dir, "loss_accuracy.png"),
                                            best_epoch=stopper.best_epoch if val_loader else None)
                with runs.ctrl_c_deferred():  # the checkpoint and `saved` always agree
                    runs.save_epoch(run_dir, cfg, epoch, model, optimizer, history, loaders,
                                    stopper.state_dict(), improved)
                    saved = epoch
            except OSError as e:
                raise UserError(f"{cfg.step}: could not write to {run_dir} ({e.strerror or e}); "
                                f"{runs.kept(saved)}; free some space first") from None
            if stopper.stopped:
                print(f"{cfg.step}: early stopping after epoch {epoch}: no improvement of "
                      f"{cfg.monitor} for {stopper.counter} epochs; the best was epoch "
                      f"{stopper.best_epoch}")
    except KeyboardInterrupt:
        # Writing the marker takes a moment; a second Ctrl-C should not have to wait for it.
        previous = runs.on_sigint(runs.exit_at_once)
        try:
            message = runs.mark_interrupted(run_dir, cfg, max(epoch, saved + 1), saved)
        finally:
            if previous is not None:
                runs.on_sigint(previous)
        raise Interrupted(message) from None
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        gpu = ", or close other programs on the GPU (nvidia-smi lists them)" \
            if device.type == "cuda" else ""
        raise TrainingError(
            f"{cfg.step}: {device.type.upper()} out of memory at batch size {cfg.batch_size} "
            f"(epoch {max(epoch, saved + 1)}); try --batch-size {max(1, cfg.batch_size // 2)}{gpu}; "
            f"{runs.kept(saved)}") from None

    if not epoch_rows(history):
        raise UserError(f"{cfg.step}: nothing to train (--epochs {cfg.epochs})")

    # ---- the end: the best weights on the test set, and the comparison with the report ---------
    end: dict[str, Any] = {"epochs": len(epoch_rows(history)), "stopped_early": stopper.stopped}
    full_test = None if cfg.test_limit is None else augment.make_loader(
        ds.test_images, ds.test_labels, exp.test_transform, cfg.batch_size, False, device, cfg.seed,
        cfg.workers)
    if full_test is not None and (cfg.keep == "last" or val_loader is None):  # the kept weights
        end["full_test_accuracy"] = evaluate(step_model, full_test, device)["accuracy"]
    if val_loader is not None:
        best = runs.load_weights(model, best_path, cfg.step)
        test = evaluate(step_model, test_loader, device)
        end.update(best_epoch=best["epoch"], best_test_loss=test["loss"],
                   best_test_accuracy=test["accuracy"])
        if full_test is not None and cfg.keep == "best":
            end["full_test_accuracy"] = evaluate(step_model, full_test, device)["accuracy"]
    if cfg.snapshots:  # only now is the best epoch, and so the middle one, known
        end["snapshots"] = runs.prune_snapshots(run_dir, end.get("best_epoch") or len(history))
    with open(os.path.join(run_dir, runs.SUMMARY), "w") as f:
        json.dump(end, f, indent=2)
    summary = summarize(history, end, cfg.keep, cfg.monitor)
    report = report_of(cfg.step)
    notes = setting_notes(cfg, exp.config, history, end)
    columns = report.columns if report else tuple(k for k in DEFAULT_COLUMNS if k in summary)
    print(compare_line(cfg.step, summary, exp.reported, report.hardware if report else "",
                            columns, notes))
    return {**summary, "step": cfg.step, "device": str(device), "run_dir": run_dir}


def _all_finite(model: nn.Module) -> bool:
    """Whether every floating-point weight and buffer is finite: one device sync per call."""
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    return not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def _early_stopping(cfg: Config) -> EarlyStopping:
    return EarlyStopping(cfg.early_stopping, cfg.monitor, cfg.patience, cfg.min_delta)


def _epoch_line(cfg: Config, row: dict[str, float], improved: bool) -> str:
    parts = [f"train loss {row['train_loss']:.4f} acc {row['train_accuracy']:5.2f}%"]
    if "val_loss" in row:
        parts.append(f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:5.2f}%"
                     + ("*" if improved else " "))
    parts.append(f"test loss {row['test_loss']:.4f} acc {row['test_accuracy']:5.2f}%")
    return (f"{cfg.step} epoch {row['epoch']:>3}/{cfg.epochs}  " + "  ".join(parts)
            + f"  {row['seconds']:6.1f}s")


def _evaluation_line(cfg: Config, row: dict[str, float]) -> str:
    parts = [f"{name} loss {row[f'{split}_loss']:.4f} acc {row[f'{split}_accuracy']:5.2f}%"
             for split, name in (("train_eval", "train"), ("val", "val"), ("test", "test"))
             if f"{split}_loss" in row]
    return f"{cfg.step} epoch {row['epoch']:>7.2f}  evaluation in eval mode: " + "  ".join(parts)


def _check_model_fits(model: nn.Module, exp: Experiment, cfg: Config, ds: data.Dataset,
                      device: torch.device) -> None:
    """Refuse a network that cannot take the step's images or has fewer outputs than classes."""
    was_training = model.training
    model.eval()  # eval mode: batch norm's running statistics stay as they are
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, cfg.image_size, cfg.image_size, device=device))
    except Exception as e:
        raise UserError(f"{exp.path}: the model cannot take a {cfg.image_size}x{cfg.image_size} "
                        f"image ({type(e).__name__}: {first_line(e)})") from None
    finally:
        model.train(was_training)
    # Checked against the dataset's classes, not the labels a small subset happens to hold.
    classes = max(len(ds.classes), int(max(ds.train_labels.max(), ds.test_labels.max())) + 1)
    if out.ndim != 2 or out.shape[1] < classes:
        raise UserError(f"{exp.path}: the model gives {tuple(out.shape[1:])} outputs per image, but "
                        f"{cfg.dataset} has {classes} classes (labels 0..{classes - 1}); the model "
                        f"should have cfg.num_classes outputs")


def _restore(ckpt: dict[str, Any], ckpt_path: str, exp: Experiment, cfg: Config, model: nn.Module,
             optimizer: torch.optim.Optimizer, loaders: list[Any]) -> EarlyStopping:
    """Load a checkpoint's model, optimizer, RNG and early-stopping states, refusing another network."""
    saved = ckpt.get("architecture")
    if saved is not None and saved != repr(model):
        change = next((f"'{a.strip()}' is now '{b.strip()}'"
                       for a, b in zip(saved.splitlines(), repr(model).splitlines()) if a != b),
                      "layers were added or removed")
        raise UserError(f"--resume: {ckpt_path} holds another network than {exp.path}'s model "
                        f"({change}); run without --resume to start again (the old run is moved "
                        f"aside)")
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise UserError(f"--resume: {ckpt_path} does not fit {exp.path}'s model "
                        f"({first_line(e)}); run without --resume to start again") from None
    optimizer.load_state_dict(ckpt["optimizer"])  # the learning rate is set again every epoch
    old_lr = ckpt["config"].get("lr")
    if old_lr != cfg.lr:
        print(f"{cfg.step}: resuming with --lr {cfg.lr:g} (the checkpoint's run used {old_lr:g})")
    runs.set_rng_state(ckpt["rng"], loaders)
    return EarlyStopping.from_state(ckpt["early_stopping"]) if "early_stopping" in ckpt \
        else _early_stopping(cfg)
