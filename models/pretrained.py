"""ImageNet weights from torchvision's cache: a hash-checked download, else one clear line offline."""
from __future__ import annotations

import contextlib
import contextvars
import os
import urllib.error
from typing import Iterator

import torch
from torchvision.models import WeightsEnum

from errors import UserError

# Set by cached_only(): figures drawn from finished runs never download hundreds of megabytes.
_CACHED_ONLY = contextvars.ContextVar("cached_only", default=False)


class MissingWeights(UserError):
    """The ImageNet weights are not in the cache (and could not, or may not, be downloaded)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


def weights_path(weights: WeightsEnum) -> str:
    """Where torchvision's cache keeps these weights (TORCH_HOME moves it)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(weights.url))


@contextlib.contextmanager
def cached_only() -> Iterator[None]:
    """Within it, missing weights raise MissingWeights at once instead of being downloaded."""
    token = _CACHED_ONLY.set(True)
    try:
        yield
    finally:
        _CACHED_ONLY.reset(token)


def imagenet_state_dict(weights: WeightsEnum) -> dict[str, torch.Tensor]:
    """The weights' state dict, downloaded into the cache first if it is not there."""
    path = weights_path(weights)
    if not os.path.exists(path):
        missing = (f"the ImageNet weights {os.path.basename(path)} are not in "
                   f"{os.path.dirname(path)}")
        if _CACHED_ONLY.get():
            raise MissingWeights(missing, path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            # The file name carries the first digits of its SHA-256; a corrupt download is refused.
            torch.hub.download_url_to_file(weights.url, path, hash_prefix=path.rsplit("-", 1)[1][:8])
        except (urllib.error.URLError, OSError, RuntimeError) as e:
            raise MissingWeights(
                f"{missing} and could not be downloaded ({e}); download {weights.url} into that "
                f"directory, or run with --no-pretrained to train from scratch", path) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which one
        raise UserError(f"{path} is not a readable weights file ({e}); delete it so that it is "
                        f"downloaded again, or run with --no-pretrained") from None
