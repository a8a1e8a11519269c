"""A run's checkpoint: what checkpoint.pt holds, reading it back for --resume (what it must match),
putting a run back as it was; and the one reader of saved weights (checkpoint.pt, best.pt, snapshots).

A checkpoint is written after every finished epoch (writer.RunFolder.save_epoch) with every state the
next epoch depends on: the weights, the optimizer, the metrics so far, the early-stopping rule and
every random generator. Resuming from it gives, on the CPU, the very metrics an uninterrupted run
gives. The faults that stop a run between two checkpoints are train.py's, beside the loop.
"""
from __future__ import annotations

import dataclasses
import os
import zipfile
from typing import Any

import torch
from torch import nn

from config import Config, fields_with
from early_stopping import EarlyStopping
from errors import UserError, first_line
from experiments import Experiment
from run_folder import BEST, CHECKPOINT

CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "history", "rng", "config", "architecture")


def contents(cfg: Config, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
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
    then = ckpt["config"]
    differs = differences(then, cfg)
    if differs:
        raise UserError(f"--resume: {path} was trained with {differs[0]}, but this run has "
                        f"{differs[1]}; resume with the same options, or run without --resume to "
                        f"start again (the old run is moved aside)")
    if ckpt["epoch"] > cfg.epochs:  # config.json and the verdict would state epochs it did not run
        raise UserError(f"--resume: {path} has {ckpt['epoch']} epochs trained, more than --epochs "
                        f"{cfg.epochs}; give --epochs {ckpt['epoch']} to finish it as it is, or more "
                        f"to train on")
    # A run whose epochs mix precisions agrees with neither; a checkpoint from before the precision
    # was recorded computed as auto does on its device, which cannot be told here: it is taken.
    # "auto" is resolved by train.run on the run's own device (a Slurm node's, not the login
    # node's): checked there, not before.
    if cfg.precision != "auto" and then.get("precision", cfg.precision) not in (cfg.precision, "auto"):
        raise UserError(f"--resume: {path} was trained in {then['precision']}, but this run would "
                        f"compute in {cfg.precision}; add --precision {then['precision']} to resume "
                        f"it as it was, or run without --resume to start again")
    return ckpt


def differences(then: dict[str, Any], cfg: Config) -> tuple[str, str] | None:
    """The settings a run keeps through --resume (its data, its network's shape, its optimizer) that
    `then`, a run's recorded config, has otherwise than cfg: (what it was, what is asked); None if
    none. A finished run is held to them too (launch.plan), so that it counts only for its own."""
    now = dataclasses.asdict(cfg)
    # The seed generates synthetic data and draws a random split: then it must match too.
    keys = fields_with("resume") + (("seed",) if cfg.dataset == "synthetic"
                                    or cfg.val_split == "random" else ())
    was = {k: then.get(k, Config.__dataclass_fields__[k].default) for k in keys}
    differs = [k for k in keys if was[k] != now[k]]
    if not differs:
        return None
    return ", ".join(f"{k} {was[k]}" for k in differs), ", ".join(f"{k} {now[k]}" for k in differs)


def read_for_resume(run_dir: str, cfg: Config) -> dict[str, Any]:
    """The checkpoint --resume goes on from in run_dir; refuses by name one, or a best.pt, it cannot."""
    ckpt = load_checkpoint(os.path.join(run_dir, CHECKPOINT), cfg)
    if cfg.val_split != "none":  # finishing the run tests best.pt's weights
        try:
            read_weights(os.path.join(run_dir, BEST), cfg.step)
        except UserError as e:
            raise UserError(f"--resume: {e} (best.pt holds the best epoch's weights, which the "
                            f"run's end tests); run without --resume to start again (the old "
                            f"run is moved aside)") from None
    return ckpt


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
# Saved weights, read back
# ---------------------------------------------------------------------------------------------

def read_weights(path: str, step: str) -> dict[str, Any]:
    """A weights file of the run (checkpoint.pt, best.pt, a snapshot), refused in one sentence naming
    it when it is missing, empty, damaged or not one; tensors and plain data only (weights_only)."""
    if not os.path.isfile(path):
        raise UserError(f"{step}: there is no {path}")
    if os.path.getsize(path) == 0:
        raise UserError(f"{path} is empty, not a weights file of {step}")
    if not zipfile.is_zipfile(path):  # cut short, overwritten, or never written by torch.save
        raise UserError(f"{path} is damaged: it is not the zip archive torch.save writes")
    try:
        # mmap: a checkpoint also holds the optimizer's state, which only --resume reads.
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # damaged inside, or a pickle that would run code
        raise UserError(f"{path} is not a readable weights file of {step} ({first_line(e)})") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise UserError(f"{path} is not a weights file written by this kit (it lacks epoch, model)")
    return state


def load_weights(model: nn.Module, path: str, step: str) -> dict[str, Any]:
    """Load a weights file of the run (read_weights) into model; returns it.

    The one reader of saved weights: one sentence naming the file when it is missing, damaged or
    of another network.
    """
    state = read_weights(path, step)
    try:
        model.load_state_dict(state["model"])
    except Exception as e:  # another architecture
        raise UserError(f"{path} is not a readable weights file of {step} ({first_line(e)})") from None
    return state
