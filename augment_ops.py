"""Batched forms of report 002's colour transforms, each drawing its random parameters per image.

torchvision's v2 transforms applied to a batch draw one set of parameters for all of it; these ops
draw one per image with the loader's generator and give, image by image, what the v2 transform
gives for those parameters (tests/test_augment_ops.py checks it). They follow the protocol of
augment.py's ops: `random`, `selects_pixels`, `name`, `sample(batch, generator)`, `apply(batch, params)`.
The geometric ones (perspective, affine, erasing) are in augment_geometry.py; `batched_op` maps a
v2 transform to either, or to None where it has no batched form and the kit goes per image.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torchvision.transforms.v2 import functional as F
from torchvision.transforms.v2 import ColorJitter, RandomAdjustSharpness, RandomAffine, \
    RandomEqualize, RandomErasing, RandomGrayscale, RandomPerspective, ToPILImage
# torchvision's own helpers, so that the arithmetic (and its rounding) is the kernels' very own.
from torchvision.transforms.v2.functional._color import _rgb_to_grayscale_image

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
    # index_select and index_copy_: 3x faster here than batch[index] and out[index] = ...
    return batch.clone().index_copy_(0, index, fn(batch.index_select(0, index), index))


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

# The adjustments below work on float32 batches. For a uint8 batch, Jitter converts it once and
# `levels` is True: each adjustment then truncates its result as torchvision's .to(uint8) would,
# so the values stay those of torchvision's uint8 path, without a uint8 round trip per adjustment
# (a uint8 * float product is 30 times slower than float * float on this CPU).

def _finish(out: torch.Tensor, levels: bool) -> torch.Tensor:
    """Clamp to [0, 1] or [0, 255] and, for uint8 levels, truncate as .to(torch.uint8) does."""
    return out.clamp_(0, 255).floor_() if levels else out.clamp_(0, 1)  # floor: trunc's 10x speed


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor, levels: bool) -> torch.Tensor:
    """F's _blend with a ratio per image: x * r + other * (1 - r), clamped."""
    r = ratio.view(-1, 1, 1, 1)
    one_minus = (1.0 - ratio.double()).float().view(-1, 1, 1, 1)  # 1 - r in double, as Python does
    # addcmul_ rounds as torchvision's add_(other, alpha=1 - r) does; x * r + other * (1 - r) not.
    return _finish(x.mul(r).addcmul_(other, one_minus), levels)


def _gray(x: torch.Tensor, levels: bool) -> torch.Tensor:
    gray = _rgb_to_grayscale_image(x, num_output_channels=1, preserve_dtype=False)
    return gray.floor_() if levels else gray


def _brightness(x: torch.Tensor, f: torch.Tensor, levels: bool) -> torch.Tensor:
    return _finish(x.mul(f.view(-1, 1, 1, 1)), levels)


def _contrast(x: torch.Tensor, f: torch.Tensor, levels: bool) -> torch.Tensor:
    gray = _gray(x, levels) if x.shape[1] == 3 else x
    return _blend(x, gray.mean(dim=(-3, -2, -1), keepdim=True), f, levels)


def _saturation(x: torch.Tensor, f: torch.Tensor, levels: bool) -> torch.Tensor:
    return x if x.shape[1] == 1 else _blend(x, _gray(x, levels), f, levels)


def _rgb_to_hue_sat(r: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """torchvision's _rgb_to_hsv on channel planes: the same float operations in the same order.

    Its aminmax, torch.where and fmod run 5-20x slower per element on this CPU than elementwise
    maxima, products with 0/1 masks and x - floor(x), which give the same values: a product with
    a 0/1 mask keeps x or gives 0, a sum with all but one term 0 is that term, and for x >= 0 (here
    x >= 5/6) fmod(x, 1) is x - floor(x), exactly.
    """
    maxc, minc = torch.maximum(torch.maximum(r, g), b), torch.minimum(torch.minimum(r, g), b)
    eqc = (maxc == minc).float()
    neqc = 1.0 - eqc
    channels_range = maxc - minc
    s = channels_range / torch.addcmul(eqc, maxc, neqc)  # where(eqc, 1, maxc)
    divisor = torch.addcmul(eqc, channels_range, neqc)  # where(eqc, 1, channels_range)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    is_r, is_g = maxc == r, maxc == g
    hr = (bc - gc).mul_(is_r.float())
    hg = rc.add(2.0).sub_(bc).mul_((is_g & ~is_r).float())
    hb = gc.add(4.0).sub_(rc).mul_((~is_r & ~is_g).float())
    h = hr.add_(hg).add_(hb).mul_(1.0 / 6.0).add_(1.0)
    return h.sub_(h.floor()), s, maxc


def _hue(x: torch.Tensor, f: torch.Tensor, levels: bool) -> torch.Tensor:
    """F.adjust_hue with a shift per image: the same float operations in the same order.

    torchvision's _hsv_to_rgb picks each channel's value among v, p, q, t with an int64 gather;
    sums of products with 0/1 masks pick the same values, 10x faster here.
    """
    if x.shape[1] == 1:
        return x
    rgb = x.mul(1.0 / 255) if levels else x  # to_dtype(uint8 -> float32, scale=True)
    h, s, v = _rgb_to_hue_sat(*rgb.unbind(dim=1))
    h = h.add_(f.view(-1, 1, 1))
    h = h.sub_(h.floor()).mul_(6)  # remainder(h, 1), then h6
    i = torch.floor(h)
    frac = h.sub_(i)
    # i is 0..5, or 6 where h * 6 rounds up to 6: torchvision takes that as sector 6 % 6 = 0.
    m = [(i == k).float() for k in range(6)]
    m[0] += (i == 6).float()
    sxf = s * frac
    one_minus_s = 1.0 - s
    q = (1.0 - sxf).mul_(v).clamp_(0.0, 1.0)
    t = sxf.add_(one_minus_s).mul_(v).clamp_(0.0, 1.0)
    p = one_minus_s.mul_(v).clamp_(0.0, 1.0)
    # _hsv_to_rgb's table [[0, 2, 1, 1, 3, 0], [3, 0, 0, 2, 1, 1], [1, 1, 3, 0, 0, 2]] over (v, p, q, t).
    red = v * (m[0] + m[5]) + q * m[1] + p * (m[2] + m[3]) + t * m[4]
    green = t * m[0] + v * (m[1] + m[2]) + q * m[3] + p * (m[4] + m[5])
    blue = p * (m[0] + m[1]) + t * m[2] + v * (m[3] + m[4]) + q * m[5]
    out = torch.stack([red, green, blue], dim=1)
    return out.mul_(255 + 1.0 - 1e-3).floor_() if levels else out  # to_dtype(float32 -> uint8)


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
        levels = not batch.is_floating_point()
        if levels and batch.dtype != torch.uint8:
            raise TypeError(f"ColorJitter takes uint8 or float images, not {batch.dtype}")
        out = batch.to(torch.float32) if levels else batch.clone()
        for k in range(4):
            for fn_id, adjust in enumerate(self.ADJUST):
                factors = params[f"{self.FIELDS[fn_id]}_factor"]
                if factors is None:
                    continue
                index = (params["fn_idx"][:, k] == fn_id).nonzero().squeeze(1)
                if len(index):
                    out.index_copy_(0, index, adjust(out.index_select(0, index), factors[index], levels))
        return out.to(batch.dtype)


# ---------------------------------------------------------------------------------------------
# The v2 transform -> batched op table
# ---------------------------------------------------------------------------------------------

def _to_pil_bytes(x: torch.Tensor) -> torch.Tensor:
    # F.to_pil_image's float -> uint8 conversion: mul(255) and truncate; ToImage then keeps uint8.
    return x.mul(255).byte() if x.is_floating_point() else x


def batched_op(t: Any) -> Any | None:
    """The batched, per-image-random form of one of report 002's v2 transforms, or None."""
    from augment import Fixed as _Fixed  # at call time: augment imports this module

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
