"""Batched forms of report 002's colour transforms, each drawing its random parameters per image.

torchvision's v2 transforms applied to a batch draw one set of parameters for all of it; these ops
draw one per image with the loader's generator and give, image by image, what the v2 transform
gives for those parameters (tests/test_augment_ops.py checks it). They follow the protocol of
data.py's ops: `random`, `selects_pixels`, `name`, `sample(batch, generator)`, `apply(batch, params)`.
The geometric ones (perspective, affine, erasing) are in augment_geometry.py; `batched_op` maps a
v2 transform to either, or to None where it has no batched form and the kit goes per image.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torchvision.transforms._functional_tensor import _max_value
from torchvision.transforms.v2 import functional as F
from torchvision.transforms.v2 import ToPILImage, ColorJitter, RandomAdjustSharpness, \
    RandomAffine, RandomEqualize, RandomErasing, RandomGrayscale, RandomPerspective
# torchvision's own helpers, so that the arithmetic (and its rounding) is the kernels' very own.
from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_grayscale_image, \
    _rgb_to_hsv

import augment_geometry


def coin(batch: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """A bool per image, True with probability p: v2 applies a transform iff torch.rand(1) < p."""
    return torch.rand(len(batch), generator=generator, device=batch.device) < p


def uniform(n: int, low: float, high: float, generator: torch.Generator,
            device: torch.device) -> torch.Tensor:
    """n float32 draws from U(low, high), as v2's torch.empty(1).uniform_(low, high) makes one."""
    return torch.empty(n, device=device).uniform_(low, high, generator=generator)


def apply_to(batch: torch.Tensor, chosen: torch.Tensor,
             fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """batch with fn(batch[index], index) in place of the chosen images; the others untouched.

    Only the chosen images are computed: on a CPU that beats computing all and selecting.
    """
    index = chosen.nonzero().squeeze(1)
    if len(index) == 0:
        return batch
    out = batch.clone()
    out[index] = fn(batch[index], index)
    return out


class RandomApplied:
    """A transform with no parameters of its own, applied to each image with probability p."""

    random = True
    selects_pixels = False

    def __init__(self, name: str, p: float, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.name, self.p, self.fn = name, p, fn

    def sample(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A bool per image: transform it or not."""
        return coin(batch, self.p, generator)

    def apply(self, batch: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        return apply_to(batch, chosen, lambda x, _: self.fn(x))


# ---------------------------------------------------------------------------------------------
# ColorJitter: four adjustments in a random order per image, each with its own factor per image
# ---------------------------------------------------------------------------------------------

def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """F's _blend with a ratio per image: x * r + other * (1 - r), clamped, in x's dtype."""
    r = ratio.view(-1, 1, 1, 1)
    one_minus = (1.0 - ratio.double()).float().view(-1, 1, 1, 1)  # 1 - r in double, as Python does
    # addcmul_ rounds as torchvision's add_(other, alpha=1 - r) does; x * r + other * (1 - r) not.
    out = x.mul(r).addcmul_(other, one_minus).clamp_(0, _max_value(x.dtype))
    return out if x.is_floating_point() else out.to(x.dtype)


def _gray(x: torch.Tensor) -> torch.Tensor:
    gray = _rgb_to_grayscale_image(x, num_output_channels=1, preserve_dtype=False)
    return gray if x.is_floating_point() else gray.floor_()


def _brightness(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    out = x.mul(f.view(-1, 1, 1, 1)).clamp_(0, _max_value(x.dtype))
    return out if x.is_floating_point() else out.to(x.dtype)


def _contrast(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    gray = _gray(x) if x.shape[1] == 3 else x.to(torch.float32 if not x.is_floating_point() else x.dtype)
    return _blend(x, gray.mean(dim=(-3, -2, -1), keepdim=True), f)


def _saturation(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return x if x.shape[1] == 1 else _blend(x, _gray(x), f)


def _hue(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    hsv = _rgb_to_hsv(F.to_dtype(x, torch.float32, scale=True))
    hsv[:, 0].add_(f.view(-1, 1, 1)).remainder_(1.0)
    return F.to_dtype(_hsv_to_rgb(hsv), x.dtype, scale=True)


class Jitter:
    """ColorJitter: a random order of its four adjustments and a factor for each, per image."""

    random = True
    selects_pixels = False
    name = "ColorJitter"
    # v2.ColorJitter's fn_idx numbering: 0 brightness, 1 contrast, 2 saturation, 3 hue.
    FIELDS = ("brightness", "contrast", "saturation", "hue")
    ADJUST = (_brightness, _contrast, _saturation, _hue)

    def __init__(self, t: ColorJitter) -> None:
        self.ranges = [getattr(t, f) for f in self.FIELDS]  # (low, high) or None, as v2 keeps them

    def sample(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, Any]:
        """Each image's order (a permutation of 0..3, as torch.randperm(4)) and its factors."""
        n, dev = len(batch), batch.device
        order = torch.rand(n, 4, generator=generator, device=dev).argsort(dim=1)
        params: dict[str, Any] = {"fn_idx": order}
        for field, bounds in zip(self.FIELDS, self.ranges):
            params[f"{field}_factor"] = None if bounds is None else uniform(n, *bounds, generator, dev)
        return params

    def apply(self, batch: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        # Stage k applies each image's k-th adjustment: 16 calls on groups of images, not 24
        # orders times 4 on small ones. The groups of a stage are disjoint, so in place is safe.
        out = batch.clone()
        for k in range(4):
            for fn_id, adjust in enumerate(self.ADJUST):
                factors = params[f"{self.FIELDS[fn_id]}_factor"]
                if factors is None:
                    continue
                index = (params["fn_idx"][:, k] == fn_id).nonzero().squeeze(1)
                if len(index):
                    out[index] = adjust(out[index], factors[index])
        return out


# ---------------------------------------------------------------------------------------------
# The v2 transform -> batched op table
# ---------------------------------------------------------------------------------------------

def _to_pil_bytes(x: torch.Tensor) -> torch.Tensor:
    # F.to_pil_image's float -> uint8 conversion: mul(255) and truncate; ToImage then keeps uint8.
    return x.mul(255).byte() if x.is_floating_point() else x


def batched_op(t: Any) -> Any | None:
    """The batched, per-image-random form of one of report 002's v2 transforms, or None."""
    from data import _Fixed  # at call time: data imports this module

    kind = type(t)
    if kind is ColorJitter:
        return Jitter(t)
    if kind is RandomEqualize:
        if t.p >= 1:  # always applied: deterministic, so the loader can cache it once
            return _Fixed("RandomEqualize", F.equalize)
        return RandomApplied("RandomEqualize", t.p, F.equalize)
    if kind is RandomGrayscale:  # keeps the channel count, as v2 does (num_input_channels)
        return RandomApplied("RandomGrayscale", t.p,
                             lambda x: F.rgb_to_grayscale(x, num_output_channels=x.shape[1]))
    if kind is RandomAdjustSharpness:
        if t.sharpness_factor == 1:  # x + 0 * (blur - x): the identity, bit for bit
            return RandomApplied("RandomAdjustSharpness", t.p, lambda x: x)
        return RandomApplied("RandomAdjustSharpness", t.p,
                             lambda x: F.adjust_sharpness(x, t.sharpness_factor))
    if kind is ToPILImage and t.mode is None:
        return _Fixed("ToPILImage", _to_pil_bytes, pointwise=True)
    if kind in (RandomPerspective, RandomAffine, RandomErasing):
        return augment_geometry.batched_op(t)
    return None
