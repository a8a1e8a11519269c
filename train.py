"""The shared train/eval loop: `run` trains one experiment and leaves everything in <out>/<step>/."""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import platform
import time
from typing import Any, Iterable

import numpy as np
import torch
import torchvision
from torch import nn
from tqdm import tqdm

import data
import plotting
from config import Config
from errors import TrainingError, UserError
from experiments import Experiment

METRICS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")


def resolve_device(name: str) -> torch.device:
    """The device for --device: auto picks cuda, then mps, then cpu."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available here (use auto or cpu)")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UserError(f"--device {name}: there are {torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {name}: MPS is not available here (use auto or cpu)")
    return device


def environment(device: torch.device) -> dict[str, Any]:
    """Versions and hardware, saved beside each run so that it can be reproduced."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else platform.processor() or platform.machine()),
        "cpu_threads": torch.get_num_threads(),
    }


def uses_channels_last(model: nn.Module) -> bool:
    """Whether the model runs channels_last: convolution nets do, faster on CPU and CUDA alike."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """The model on the device, in channels_last if it has convolutions."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if uses_channels_last(model) else model


def make_optimizer(model: nn.Module, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """The report's Adam; on CPU and CUDA the fused kernel, one pass over the parameters per step."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=device.type in ("cpu", "cuda"))


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                    device: torch.device, desc: str) -> dict[str, float | int]:
    """One pass over the training set; returns mean loss, accuracy (%) and the first non-finite batch."""
    model.train()
    # Sums stay on the device: reading them every batch would wait for the GPU each time.
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    first_bad = torch.full((), -1, dtype=torch.long, device=device)
    seen, shown = 0, time.monotonic()
    channels_last = uses_channels_last(model)
    bar = tqdm(loader, total=len(loader), desc=desc, leave=False, unit="batch", disable=None)
    for i, (x, y) in enumerate(bar):
        x, y = _to_device(x, y, device, channels_last)
        with _autocast(device):
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
        x, y = _to_device(x, y, device, channels_last)
        with _autocast(device):
            logits = model(x)
        loss_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
    return {"loss": loss_sum.item() / seen, "accuracy": 100 * correct.item() / seen}


def _to_device(x: torch.Tensor, y: torch.Tensor, device: torch.device,
               channels_last: bool) -> tuple[torch.Tensor, ...]:
    x = x.to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device, non_blocking=True)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    # bf16 on CUDA only: on CPUs without native bf16 it is many times slower than fp32.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def save_checkpoint(path: str, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically: a temp file, flushed to disk, then renamed over the old one."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_metrics(path: str, history: list[dict[str, float]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRICS)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k])
                             for k in METRICS})


def _rng_state(train_loader: Any) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "data": train_loader.generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], train_loader: Any) -> None:
    torch.set_rng_state(state["torch"])
    train_loader.generator.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _first_line(e: Exception) -> str:
    return (str(e).strip() or type(e).__name__).splitlines()[0]


def compare_with_report(exp: Experiment, cfg: Config, history: list[dict[str, float]]) -> str:
    """One line: the run's final test accuracy, train loss and time beside the report's."""
    last = history[-1]
    minutes = sum(r["seconds"] for r in history) / 60
    line = (f"{cfg.step}: test accuracy {last['test_accuracy']:.1f}%, train loss "
            f"{last['train_loss']:.3f}, {minutes:.1f} min over {len(history)} epochs")
    r = exp.reported
    if r is None:
        return line
    differs = [d for d, same in ((cfg.dataset, cfg.dataset == "cifar100"),
                                 (f"subset {cfg.subset}", cfg.subset is None),
                                 (f"{len(history)} of {exp.config.epochs} epochs",
                                  len(history) == exp.config.epochs)) if not same]
    note = f" (not the report's setting: {', '.join(differs)})" if differs else ""
    return (f"{line} | report: {r.accuracy:g}% ({last['test_accuracy'] - r.accuracy:+.1f}), "
            f"loss {r.loss:g}, ~{r.minutes:g} min on a GTX 960M{note}")


def run(exp: Experiment, cfg: Config) -> dict[str, Any]:
    """Train one experiment under cfg; returns its final figures."""
    device = resolve_device(cfg.device)
    run_dir = os.path.join(cfg.out, cfg.step)
    ckpt_path = os.path.join(run_dir, "checkpoint.pt")
    if cfg.resume and not os.path.isfile(ckpt_path):
        raise UserError(f"--resume: there is no checkpoint at {ckpt_path}; run without --resume "
                        f"to start {cfg.step} from scratch")
    torch.manual_seed(cfg.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    # ---- data: decoded once, kept on the device, augmented there in whole batches --------------
    ds = data.load_dataset(cfg.dataset, cfg.data_dir, cfg.subset, cfg.seed)
    train_loader = data.make_loader(ds.train_images, ds.train_labels, exp.train_transform,
                                    cfg.batch_size, True, device, cfg.seed, cfg.workers)
    test_loader = data.make_loader(ds.test_images, ds.test_labels, exp.test_transform,
                                   cfg.batch_size, False, device, cfg.seed, cfg.workers)

    # ---- model and optimizer ------------------------------------------------------------------
    model = prepare_model(exp.model(cfg), device)
    optimizer = make_optimizer(model, cfg.lr, device)
    # Compiled or not, `model` holds the weights: its state_dict has no compiler prefix.
    step_model = torch.compile(model) if cfg.compile else model
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)

    history: list[dict[str, float]] = []
    if cfg.resume:
        try:
            ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        except Exception as e:  # truncated, empty, or not a checkpoint: say which file
            raise UserError(f"--resume: {ckpt_path} is not a readable checkpoint "
                            f"({_first_line(e)}); run without --resume to start again") from None
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as e:
            raise UserError(f"--resume: {ckpt_path} does not fit {exp.path}'s model "
                            f"({_first_line(e)}); run without --resume to start again") from None
        optimizer.load_state_dict(ckpt["optimizer"])
        _set_rng_state(ckpt["rng"], train_loader)
        history = ckpt["history"]

    # ---- the run's folder: what it is and how to reproduce it ---------------------------------
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump({"config": dataclasses.asdict(cfg), "parameters": n_params,
                   "reported": dataclasses.asdict(exp.reported) if exp.reported else None,
                   "environment": environment(device)}, f, indent=2)
    with open(os.path.join(run_dir, "experiment.py"), "w", encoding="utf-8") as f:
        f.write(exp.source)
    print(f"{cfg.step}: {n_params:,} parameters on {device}, {len(ds.train_labels)} training and "
          f"{len(ds.test_labels)} test images of {cfg.dataset}; train data {train_loader.description}"
          + (f"; resuming after epoch {len(history)}" if history else ""))

    # ---- epochs --------------------------------------------------------------------------------
    for epoch in range(len(history) + 1, cfg.epochs + 1):
        start = time.perf_counter()
        train = train_one_epoch(step_model, train_loader, optimizer, device,
                                f"{cfg.step} {epoch}/{cfg.epochs}")
        if train["first_bad_batch"] >= 0:
            kept = f"epoch {len(history)}'s checkpoint is kept" if history else "nothing was saved"
            raise TrainingError(
                f"{cfg.step}: the training loss became {train['loss']} at epoch {epoch}, batch "
                f"{train['first_bad_batch'] + 1}; stopped ({kept}); try a lower --lr")
        test = evaluate(step_model, test_loader, device)
        history.append({"epoch": epoch, "train_loss": train["loss"],
                        "train_accuracy": train["accuracy"], "test_loss": test["loss"],
                        "test_accuracy": test["accuracy"], "seconds": time.perf_counter() - start})
        print(f"{cfg.step} epoch {epoch:>3}/{cfg.epochs}  train loss {train['loss']:.4f} "
              f"acc {train['accuracy']:5.2f}%  test loss {test['loss']:.4f} "
              f"acc {test['accuracy']:5.2f}%  {history[-1]['seconds']:6.1f}s", flush=True)
        _write_metrics(os.path.join(run_dir, "metrics.csv"), history)
        plotting.plot_loss_accuracy(history, cfg.step, os.path.join(run_dir, "loss_accuracy.png"))
        save_checkpoint(ckpt_path, {"epoch": epoch, "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "history": history,
                                    "rng": _rng_state(train_loader),
                                    "config": dataclasses.asdict(cfg)})

    if not history:
        raise UserError(f"{cfg.step}: nothing to train (--epochs {cfg.epochs})")
    print(compare_with_report(exp, cfg, history))
    last = history[-1]
    return {"step": cfg.step, "epochs": len(history), "train_loss": last["train_loss"],
            "test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
            "minutes": sum(r["seconds"] for r in history) / 60, "device": str(device),
            "run_dir": run_dir}
