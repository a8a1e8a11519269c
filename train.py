"""The shared train/eval loop: `run` trains one experiment and leaves everything in <out>/<step>/."""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import tempfile
import threading
import time
from typing import Any, Iterable, Iterator

import numpy as np
import torch
import torchvision
from torch import nn
from tqdm import tqdm

import data
import plotting
from config import Config
from errors import Interrupted, TrainingError, UserError
from experiments import Experiment, build_model

METRICS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "history", "rng", "config", "architecture")
# Options a checkpoint cannot be resumed under once they change: the data or the network's shape.
# (The seed matters only for synthetic data, which it generates.)
RESUME_MUST_MATCH = ("dataset", "subset", "num_classes", "image_size")
INTERRUPTED = "INTERRUPTED.txt"  # in a run's folder while its last run was stopped by Ctrl-C
SET_ASIDE = re.compile(r".+-\d{8}-\d{6}(-\d+)?")  # an earlier run's folder, moved by _set_aside


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
                        else _cpu_name()),
        "cpu_threads": torch.get_num_threads(),
    }


def _cpu_name() -> str:
    with contextlib.suppress(OSError):  # Linux names the model; elsewhere the architecture must do
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


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
    """Write a checkpoint atomically: a temp file, flushed to disk, then renamed over the old one.

    Killed at any moment, the process leaves either the old checkpoint or the new one, whole.
    """
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)  # half a checkpoint frees its space; the old one is untouched
        raise
    os.replace(tmp, path)
    if os.name == "posix":  # make the rename itself survive a power cut
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_checkpoint(path: str, cfg: Config) -> dict[str, Any]:
    """Read a checkpoint for --resume, refusing by name one that is missing, damaged or from other data."""
    if not os.path.isfile(path):
        raise UserError(f"--resume: there is no checkpoint at {path}; run without --resume "
                        f"to start {cfg.step} from scratch")
    try:
        # weights_only: tensors and plain data only; a pickle that would run code is refused unrun.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, empty, not a checkpoint, or a pickle with code in it
        raise UserError(f"--resume: {path} is not a readable checkpoint "
                        f"({_first_line(e)}); run without --resume to start again") from None
    if not isinstance(ckpt, dict) or not set(CHECKPOINT_KEYS) - {"architecture"} <= set(ckpt):
        raise UserError(f"--resume: {path} is not a checkpoint written by this kit (it lacks "
                        f"{', '.join(CHECKPOINT_KEYS)}); run without --resume to start again")
    saved, now = ckpt["config"], dataclasses.asdict(cfg)
    keys = RESUME_MUST_MATCH + (("seed",) if cfg.dataset == "synthetic" else ())
    differs = [k for k in keys if saved.get(k) != now[k]]
    if differs:
        was = ", ".join(f"{k} {saved.get(k)}" for k in differs)
        asked = ", ".join(f"{k} {now[k]}" for k in differs)
        raise UserError(f"--resume: {path} was trained with {was}, but this run has {asked}; "
                        f"resume with the same options, or run without --resume to start again "
                        f"(the old run is moved aside)")
    return ckpt


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


# ---------------------------------------------------------------------------------------------
# The run's folder: writable, never overwritten silently, marked when interrupted
# ---------------------------------------------------------------------------------------------

def check_writable(out: str) -> None:
    """Refuse, before any training, an --out folder that cannot be created or written to."""
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out) as f:
            f.write(b"probe")
            f.flush()
    except OSError as e:
        raise UserError(f"--out {out}: cannot write there ({e.strerror or e}); choose a folder you "
                        f"can write to with --out") from None


def _set_aside(run_dir: str) -> str | None:
    """Move an earlier run's folder to <run_dir>-<its time>, so that starting again loses nothing."""
    done = [os.path.join(run_dir, f) for f in ("metrics.csv", "checkpoint.pt")]
    done = [f for f in done if os.path.exists(f)]
    if not done:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(max(os.path.getmtime(f) for f in done)))
    target, n = f"{run_dir}-{stamp}", 1
    while os.path.exists(target):
        target, n = f"{run_dir}-{stamp}-{n}", n + 1
    os.rename(run_dir, target)
    return target


def _check_free_space(run_dir: str, model: nn.Module, ckpt_path: str) -> None:
    # A checkpoint holds the weights and Adam's two moments; while one is written the old one stays.
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    size = 3 * trainable + sum(b.numel() * b.element_size() for b in model.buffers())
    existing = os.path.getsize(ckpt_path) if os.path.exists(ckpt_path) else 0
    need = 2 * size - existing + (16 << 20)
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise UserError(f"{run_dir}: {free / 2**20:.0f} MB free on its disk, but this step's "
                        f"checkpoints need about {need / 2**20:.0f} MB (the old one stays while the "
                        f"new one is written); free some space or choose another --out")


def _kept(saved: int) -> str:
    return (f"the checkpoint of epoch {saved} is kept and --resume continues from it"
            if saved else "no epoch had finished, so nothing was saved")


def _exit_at_once(signum: int, frame: Any) -> None:
    os.write(2, b"\ninterrupted again: exiting now\n")
    os._exit(130)


def _mark_interrupted(run_dir: str, cfg: Config, epoch: int, saved: int) -> str:
    message = f"{cfg.step}: interrupted during epoch {epoch}; {_kept(saved)}"
    with contextlib.suppress(OSError):  # a full disk must not hide the interruption itself
        with open(os.path.join(run_dir, INTERRUPTED), "w") as f:
            f.write(f"{message}\n(at {time.strftime('%Y-%m-%d %H:%M:%S')}; add --resume to the "
                    f"command that started it)\n")
    return message


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends, so that a checkpoint and its record always agree."""
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if caught:  # the second one: do not wait
            _exit_at_once(signum, frame)
        caught.append(signum)

    previous = _on_sigint(hold)
    try:
        yield
    finally:
        if previous is not None:
            _on_sigint(previous)
    if caught:
        raise KeyboardInterrupt


def _on_sigint(handler: Any) -> Any:
    """Install a SIGINT handler where Python allows it (the main thread); returns the previous one."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, handler)


# ---------------------------------------------------------------------------------------------
# One run, top to bottom
# ---------------------------------------------------------------------------------------------

def run(exp: Experiment, cfg: Config) -> dict[str, Any]:
    """Train one experiment under cfg; returns its final figures."""
    device = resolve_device(cfg.device)
    run_dir = os.path.join(cfg.out, cfg.step)
    ckpt_path = os.path.join(run_dir, "checkpoint.pt")
    ckpt = load_checkpoint(ckpt_path, cfg) if cfg.resume else None  # refuse before loading data
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
    model = prepare_model(build_model(exp, cfg), device)
    _check_model_fits(model, exp, cfg, ds, device)
    optimizer = make_optimizer(model, cfg.lr, device)
    # Compiled or not, `model` holds the weights: its state_dict has no compiler prefix.
    step_model = torch.compile(model) if cfg.compile else model
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)

    history: list[dict[str, float]] = []
    if ckpt is not None:
        _restore(ckpt, ckpt_path, exp, cfg, model, optimizer, train_loader)
        history = ckpt["history"]
    else:
        moved = _set_aside(run_dir)
        if moved:
            print(f"{run_dir} held an earlier run: moved it to {moved}")

    # ---- the run's folder: what it is and how to reproduce it ---------------------------------
    try:
        os.makedirs(run_dir, exist_ok=True)
        _check_free_space(run_dir, model, ckpt_path)
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(run_dir, INTERRUPTED))
        with open(os.path.join(run_dir, "config.json"), "w") as f:
            json.dump({"config": dataclasses.asdict(cfg), "parameters": n_params,
                       "reported": dataclasses.asdict(exp.reported) if exp.reported else None,
                       "environment": environment(device)}, f, indent=2)
        with open(os.path.join(run_dir, "experiment.py"), "w", encoding="utf-8") as f:
            f.write(exp.source)
        if history:  # an interruption may have left a row for an epoch the checkpoint lacks
            _write_metrics(os.path.join(run_dir, "metrics.csv"), history)
    except OSError as e:
        raise UserError(f"{cfg.step}: cannot write the run's folder {run_dir} "
                        f"({e.strerror or e}); choose another --out") from None
    print(f"{cfg.step}: {n_params:,} parameters on {device}, {len(ds.train_labels)} training and "
          f"{len(ds.test_labels)} test images of {cfg.dataset}; train data {train_loader.description}"
          + (f"; resuming after epoch {len(history)}" if history else ""))

    # ---- epochs --------------------------------------------------------------------------------
    epoch = saved = len(history)  # saved: the epoch checkpoint.pt holds, whatever stops the run
    try:
        for epoch in range(len(history) + 1, cfg.epochs + 1):
            start = time.perf_counter()
            train = train_one_epoch(step_model, train_loader, optimizer, device,
                                    f"{cfg.step} {epoch}/{cfg.epochs}")
            if train["first_bad_batch"] >= 0:
                raise TrainingError(
                    f"{cfg.step}: the training loss became {train['loss']} at epoch {epoch}, batch "
                    f"{train['first_bad_batch'] + 1}; stopped, {_kept(saved)}; try a lower --lr")
            test = evaluate(step_model, test_loader, device)
            history.append({"epoch": epoch, "train_loss": train["loss"],
                            "train_accuracy": train["accuracy"], "test_loss": test["loss"],
                            "test_accuracy": test["accuracy"],
                            "seconds": time.perf_counter() - start})
            print(f"{cfg.step} epoch {epoch:>3}/{cfg.epochs}  train loss {train['loss']:.4f} "
                  f"acc {train['accuracy']:5.2f}%  test loss {test['loss']:.4f} "
                  f"acc {test['accuracy']:5.2f}%  {history[-1]['seconds']:6.1f}s", flush=True)
            try:
                _write_metrics(os.path.join(run_dir, "metrics.csv"), history)
                plotting.plot_loss_accuracy(history, cfg.step,
                                            os.path.join(run_dir, "loss_accuracy.png"))
                with _ctrl_c_deferred():
                    save_checkpoint(ckpt_path, {
                        "epoch": epoch, "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(), "history": history,
                        "rng": _rng_state(train_loader), "config": dataclasses.asdict(cfg),
                        "architecture": repr(model)})
                    saved = epoch
            except OSError as e:
                raise UserError(f"{cfg.step}: could not write to {run_dir} ({e.strerror or e}); "
                                f"{_kept(saved)}; free some space first") from None
    except KeyboardInterrupt:
        # Writing the marker takes a moment; a second Ctrl-C should not have to wait for it.
        previous = _on_sigint(_exit_at_once)
        try:
            message = _mark_interrupted(run_dir, cfg, max(epoch, saved + 1), saved)
        finally:
            if previous is not None:
                _on_sigint(previous)
        raise Interrupted(message) from None
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        gpu = ", or close other programs on the GPU (nvidia-smi lists them)" \
            if device.type == "cuda" else ""
        raise TrainingError(
            f"{cfg.step}: {device.type.upper()} out of memory at batch size {cfg.batch_size} "
            f"(epoch {max(epoch, saved + 1)}); try --batch-size {max(1, cfg.batch_size // 2)}{gpu}; "
            f"{_kept(saved)}") from None

    if not history:
        raise UserError(f"{cfg.step}: nothing to train (--epochs {cfg.epochs})")
    print(compare_with_report(exp, cfg, history))
    last = history[-1]
    return {"step": cfg.step, "epochs": len(history), "train_loss": last["train_loss"],
            "test_accuracy": last["test_accuracy"], "test_loss": last["test_loss"],
            "minutes": sum(r["seconds"] for r in history) / 60, "device": str(device),
            "run_dir": run_dir}


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
                        f"image ({type(e).__name__}: {_first_line(e)})") from None
    finally:
        model.train(was_training)
    # Checked against the dataset's classes, not the labels a small subset happens to hold.
    classes = max(len(ds.classes), int(max(ds.train_labels.max(), ds.test_labels.max())) + 1)
    if out.ndim != 2 or out.shape[1] < classes:
        raise UserError(f"{exp.path}: the model gives {tuple(out.shape[1:])} outputs per image, but "
                        f"{cfg.dataset} has {classes} classes (labels 0..{classes - 1}); the model "
                        f"should have cfg.num_classes outputs")


def _restore(ckpt: dict[str, Any], ckpt_path: str, exp: Experiment, cfg: Config,
             model: nn.Module, optimizer: torch.optim.Optimizer, train_loader: Any) -> None:
    """Load a checkpoint's model, optimizer and RNG states, refusing one of another network."""
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
                        f"({_first_line(e)}); run without --resume to start again") from None
    optimizer.load_state_dict(ckpt["optimizer"])
    old_lr = ckpt["config"].get("lr")
    for group in optimizer.param_groups:  # the optimizer's state carries the old rate
        group["lr"] = cfg.lr
    if old_lr != cfg.lr:
        print(f"{cfg.step}: resuming with --lr {cfg.lr:g} (the checkpoint's run used {old_lr:g})")
    _set_rng_state(ckpt["rng"], train_loader)
