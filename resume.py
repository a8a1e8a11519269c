"""--resume: what a checkpoint holds, what it must match, and putting a run back as it was; and the
faults that stop a run between two checkpoints, each said in one sentence.

A checkpoint is written after every finished epoch (run_folder.RunFolder.save_epoch) with every
state the next epoch depends on: the weights, the optimizer, the metrics so far, the early-stopping
rule and every random generator. Resuming from it gives, on the CPU, the very metrics an
uninterrupted run gives. A run stopped short (Ctrl-C, out of memory, a non-finite loss, weights or
evaluation, an op without a deterministic kernel) never saves the bad epoch, and its message ends
with what --resume continues from.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from typing import TYPE_CHECKING, Any, Iterator

import torch
from torch import nn

from config import Config, fields_with
from devices import nondeterministic_error
from early_stopping import EarlyStopping
from errors import Interrupted, TrainingError, UserError, exit_at_once, first_line, on_sigint
from experiments import Experiment

if TYPE_CHECKING:
    from run_folder import RunFolder

CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "history", "rng", "config", "architecture")


def checkpoint(cfg: Config, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
               history: list[dict[str, float]], loaders: list[Any],
               stopper: EarlyStopping) -> dict[str, Any]:
    """What checkpoint.pt holds after `epoch`: everything the next epoch depends on."""
    return {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "history": history, "rng": rng_state(loaders), "config": dataclasses.asdict(cfg),
            "architecture": repr(model), "early_stopping": stopper.state_dict()}


def load_checkpoint(path: str, cfg: Config) -> dict[str, Any]:
    """Read a checkpoint for --resume, refusing by name one that is missing, damaged or of other data."""
    if not os.path.isfile(path):
        raise UserError(f"--resume: there is no checkpoint at {path}; run without --resume "
                        f"to start {cfg.step} from scratch")
    try:
        # weights_only: tensors and plain data only; a pickle that would run code is refused unrun.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, empty, not a checkpoint, or a pickle with code in it
        raise UserError(f"--resume: {path} is not a readable checkpoint "
                        f"({first_line(e)}); run without --resume to start again") from None
    if not isinstance(ckpt, dict) or not set(CHECKPOINT_KEYS) - {"architecture"} <= set(ckpt):
        raise UserError(f"--resume: {path} is not a checkpoint written by this kit (it lacks "
                        f"{', '.join(CHECKPOINT_KEYS)}); run without --resume to start again")
    then, now = ckpt["config"], dataclasses.asdict(cfg)
    # The seed generates synthetic data and draws a random split: then it must match too.
    keys = fields_with("resume") + (("seed",) if cfg.dataset == "synthetic"
                                    or cfg.val_split == "random" else ())
    differs = [k for k in keys if then.get(k, Config.__dataclass_fields__[k].default) != now[k]]
    if differs:
        was = ", ".join(f"{k} {then.get(k, Config.__dataclass_fields__[k].default)}" for k in differs)
        asked = ", ".join(f"{k} {now[k]}" for k in differs)
        raise UserError(f"--resume: {path} was trained with {was}, but this run has {asked}; "
                        f"resume with the same options, or run without --resume to start again "
                        f"(the old run is moved aside)")
    # A run whose epochs mix precisions agrees with neither; a checkpoint from before the precision
    # was recorded computed as auto does on its device, which cannot be told here: it is taken.
    # "auto" is resolved by train.run on the run's own device (a Slurm node's, not the login
    # node's): checked there, not before.
    if cfg.precision != "auto" and then.get("precision", cfg.precision) not in (cfg.precision, "auto"):
        raise UserError(f"--resume: {path} was trained in {then['precision']}, but this run would "
                        f"compute in {cfg.precision}; add --precision {then['precision']} to resume "
                        f"it as it was, or run without --resume to start again")
    return ckpt


def ended_line(epochs: int, stopped: bool, best: float | None, asked: int) -> str | None:
    """The sentence --resume says of a run with nothing left to train, or None if it has."""
    if stopped:
        return (f"already stopped early at epoch {epochs} (its best was epoch {best:g}); nothing was "
                f"changed: run without --resume to train it again (the old run is moved aside)")
    if epochs >= asked:
        return (f"already has {epochs} epoch{'s' if epochs != 1 else ''} (--epochs {asked}); "
                f"nothing was changed: give a larger --epochs to train on")
    return None


def rng_state(loaders: list[Any]) -> dict[str, Any]:
    """Every random state a run draws from: torch's, each loader's (train, then validation) and CUDA's."""
    state = {"torch": torch.get_rng_state(), "data": loaders[0].generator.get_state(),
             "loaders": [loader.generator.get_state() for loader in loaders[1:]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], loaders: list[Any]) -> None:
    """Put back what rng_state saved."""
    torch.set_rng_state(state["torch"])
    loaders[0].generator.set_state(state["data"])
    for loader, generator_state in zip(loaders[1:], state.get("loaders", [])):
        loader.generator.set_state(generator_state)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def restore(ckpt: dict[str, Any], path: str, exp: Experiment, cfg: Config, model: nn.Module,
            optimizer: torch.optim.Optimizer,
            loaders: list[Any]) -> tuple[EarlyStopping, list[dict[str, float]]]:
    """Load a checkpoint's model, optimizer, RNG and early-stopping states, refusing another network."""
    architecture = ckpt.get("architecture")
    if architecture is not None and architecture != repr(model):
        change = next((f"'{a.strip()}' is now '{b.strip()}'"
                       for a, b in zip(architecture.splitlines(), repr(model).splitlines()) if a != b),
                      "layers were added or removed")
        raise UserError(f"--resume: {path} holds another network than {exp.path}'s model "
                        f"({change}); run without --resume to start again (the old run is moved "
                        f"aside)")
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise UserError(f"--resume: {path} does not fit {exp.path}'s model "
                        f"({first_line(e)}); run without --resume to start again") from None
    optimizer.load_state_dict(ckpt["optimizer"])  # the learning rate is set again every epoch
    old_lr = ckpt["config"].get("lr")
    if old_lr != cfg.lr:
        print(f"{cfg.step}: resuming with --lr {cfg.lr:g} (the checkpoint's run used {old_lr:g})")
    set_rng_state(ckpt["rng"], loaders)
    stopper = EarlyStopping.from_state(ckpt["early_stopping"]) if "early_stopping" in ckpt \
        else EarlyStopping(cfg.early_stopping, cfg.monitor, cfg.patience, cfg.min_delta)
    return stopper, ckpt["history"]


# ---------------------------------------------------------------------------------------------
# The faults that stop a run between checkpoints
# ---------------------------------------------------------------------------------------------

def check_training(cfg: Config, epoch: int, train: dict[str, Any], model: nn.Module,
                   folder: RunFolder) -> None:
    """Stop at a non-finite training loss or weights, before anything of the epoch is saved."""
    if train["first_bad_batch"] >= 0:
        raise TrainingError(
            f"{cfg.step}: the training loss became {train['loss']} at epoch {epoch}, batch "
            f"{train['first_bad_batch'] + 1}; stopped, {folder.kept()}; try a lower --lr")
    if not _all_finite(model):  # a step can break the weights after its loss was read
        raise TrainingError(
            f"{cfg.step}: the weights became non-finite at epoch {epoch} (after the training "
            f"loss of each batch was read); stopped, {folder.kept()}; try a lower --lr")


def check_evaluations(cfg: Config, epoch: float, row: dict[str, float], folder: RunFolder) -> None:
    """Stop at a non-finite evaluation: checkpoint.pt and best.pt never hold such an epoch."""
    bad = [f"{k.replace('_', ' ')} {row[k]}" for k in ("val_loss", "test_loss")
           if k in row and not math.isfinite(row[k])]
    if bad:
        raise TrainingError(f"{cfg.step}: the {' and '.join(bad)} at epoch {epoch}; stopped, "
                            f"{folder.kept()}; try a lower --lr")


@contextlib.contextmanager
def epoch_faults(cfg: Config, folder: RunFolder, device: torch.device, epoch: Any) -> Iterator[None]:
    """Ctrl-C, running out of memory and (--deterministic) an op without a deterministic kernel,
    during the epochs, as one sentence; epoch() is the current one."""
    try:
        yield
    except KeyboardInterrupt:
        # Writing the marker takes a moment; a second Ctrl-C should not have to wait for it.
        previous = on_sigint(exit_at_once)
        try:
            message = folder.mark_interrupted(epoch())
        finally:
            if previous is not None:
                on_sigint(previous)
        raise Interrupted(message) from None
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        gpu = ", or close other programs on the GPU (nvidia-smi lists them)" \
            if device.type == "cuda" else ""
        raise TrainingError(
            f"{cfg.step}: {device.type.upper()} out of memory at batch size {cfg.batch_size} "
            f"(epoch {epoch()}); try --batch-size {max(1, cfg.batch_size // 2)}{gpu}; "
            f"{folder.kept()}") from None
    except RuntimeError as e:
        no_deterministic_kernel(cfg, device, e, f"in epoch {epoch()}", folder.kept())
        raise


def no_deterministic_kernel(cfg: Config, device: torch.device, e: RuntimeError, when: str,
                            kept: str) -> None:
    """--deterministic met an op without a deterministic kernel: say which, in one sentence."""
    message = nondeterministic_error(e, cfg.step, device, when) if cfg.deterministic else None
    if message is not None:
        raise UserError(f"{message}; {kept}") from None


def _all_finite(model: nn.Module) -> bool:
    """Whether every floating-point weight and buffer is finite: one device sync per call."""
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    return not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())
