"""Batched forms of report 002's colour transforms, each drawing its random parameters per image.

torchvision's v2 transforms applied to a batch draw one set of parameters for all of it; these ops
draw one per image with the loader's generator and give, image by image, what the v2 transform
gives for those parameters (tests/test_augment_ops.py checks it). ColorJitter is `Jitter`; the
table in augment/__init__.py wraps the others in augment/ops.py's RandomApplied or Fixed, around
the kernels here (`sharpen`, `grayscale`, `to_pil_bytes`) or torchvision's own (F.equalize).
"""
from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms.v2 import ColorJitter
from torchvision.transforms.v2 import functional as F
# torchvision's own helpers, so that the arithmetic (and its rounding) is the kernels' very own.
from torchvision.transforms.v2.functional._color import _rgb_to_grayscale_image

from augment.ops import uniform


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """F.rgb_to_grayscale keeping the channel count, as v2.RandomGrayscale does (num_input_channels)."""
    return F.rgb_to_grayscale(x, num_output_channels=x.shape[1])


def to_pil_bytes(x: torch.Tensor) -> torch.Tensor:
    """ToPILImage as a uint8 batch: F.to_pil_image's float -> uint8, mul(255) and truncate."""
    # A ToImage after it then keeps uint8.
    return x.mul(255).byte() if x.is_floating_point() else x


def sharpen(x: torch.Tensor, factor: float) -> torch.Tensor:
    """F.adjust_sharpness; for uint8 images its very values from integer sums, 1.6x faster here.

    torchvision blurs with a 3x3 kernel of 1/13 and a centre of 5/13 (one depthwise convolution)
    and rounds. For uint8 pixels that blur is k / 13 for an integer k, the neighbourhood's sum plus
    4 times the centre, and k / 13 is never within 1/26 of a half, while the convolution's float32
    error is below 2e-4: rounding k / 13 gives the same integer. The sums are exact in float32.
    """
    if x.dtype != torch.uint8 or x.shape[-3] not in (1, 3) or min(x.shape[-2:]) <= 2 or factor < 0:
        return F.adjust_sharpness(x, factor)  # torchvision's arithmetic, or its error
    out = x.to(torch.float32)
    rows = out[..., :, :-2] + out[..., :, 1:-1] + out[..., :, 2:]  # separable 3x3 sum
    centre = out[..., 1:-1, 1:-1]
    blurred = (rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]).add_(centre, alpha=4)
    blurred = blurred.div_(13).round_()
    # From here on torchvision's own steps: the border keeps its pixels.
    centre.add_(blurred.sub_(centre), alpha=1.0 - factor)
    return out.clamp_(0, 255).to(torch.uint8)


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


# to_dtype(float32 -> uint8) multiplies by this (255 + 1 - 1e-3) and truncates; over levels, / 255.
_TO_LEVELS = (255 + 1.0 - 1e-3) / 255


_SIX_MINUS_K: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def _six_minus_k(h: torch.Tensor) -> torch.Tensor:
    """6 - k_c for r, g, b as a (1, 3, 1, 1) tensor, made once per device and dtype."""
    key = (h.device, h.dtype)
    if key not in _SIX_MINUS_K:  # from a list each call: a host-to-device copy per batch on CUDA
        _SIX_MINUS_K[key] = torch.tensor([6.0, 2.0, 4.0], dtype=h.dtype, device=h.device).view(1, 3, 1, 1)
    return _SIX_MINUS_K[key]


def _hue(x: torch.Tensor, f: torch.Tensor, levels: bool) -> torch.Tensor:
    """F.adjust_hue with a shift per image, within 1/255 of it (exact on most pixels).

    torchvision goes RGB -> HSV -> RGB (a gather, bool masks, where). A hue shift keeps each
    pixel's maximum and range, so each channel is max - range * w(hue6 + shift), w the hexcone's
    triangle wave: ~50 float passes over a channel plane in ~36 calls, and no bool tensors (eq and
    where cost 5-20x a float pass here), 4x faster than the bit-exact version it replaces.
    Max and min channels come out exact; the third one's rounding differs from torchvision's
    (a division and products in another order), by at most one level for uint8 or 1/255 for float.
    """
    if x.shape[1] == 1:
        return x
    maxc = x.amax(dim=1)
    # Broadcast over the channels where the values are those of one op per channel: fewer calls.
    dr, dg, db = (maxc.unsqueeze(1) - x).unbind(dim=1)  # >= 0, and 0 for the maximum's channel
    span = torch.maximum(torch.maximum(dr, dg), db)  # max - min
    # hue * 6 before the division by span: (g - b) if r is the max, else 2 span + (b - r) if g
    # is, else 4 span + (r - g); as torchvision, r wins ties, then g. sign() is 0 or 1 here, a
    # float mask made without a bool tensor.
    if_r = db - dg
    if_g = (dr - db).add_(span, alpha=2)
    if_b = (dg - dr).add_(span, alpha=4)
    num = if_b.sub_(if_g).mul_(dg.sign_()).add_(if_g)  # g's unless g < max
    num = num.sub_(if_r).mul_(dr.sign_()).add_(if_r)  # r's unless r < max
    # span 0 (grey): num is 0 and any hue gives max; the clamp only avoids 0 / 0.
    h = num.div_(span.clamp_min(1e-30)).add_(f.view(-1, 1, 1) * 6.0)
    h = h.sub_(h.mul(1 / 6).floor_().mul_(6))  # into [0, 6]: w below is continuous and periodic
    if levels:  # out of levels and back into them (to_dtype's scale), once on max and span
        maxc, span = maxc.mul_(_TO_LEVELS), span.mul_(_TO_LEVELS)
    # Channel c is max - span * clamp(2 - |((h + k_c) mod 6) - 3|, 0, 1), k = 0, 4, 2 for r, g, b
    # (the hexcone's hsv -> rgb); |3 - |h + k - 6|| is that |...| for h + k in [0, 12].
    w = torch.rsub(h.unsqueeze(1).sub(_six_minus_k(h)).abs_().sub_(3.0).abs_(), 2.0).clamp_(0.0, 1.0)
    out = torch.addcmul(maxc.unsqueeze(1), span.unsqueeze(1), w, value=-1)
    return out.floor_() if levels else out.clamp_(0.0, 1.0)


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
        order = params["fn_idx"]
        n = len(order)
        # The images of each stage sorted by adjustment, so that each group is a slice of one
        # index; the group sizes of all stages in one read (one host sync on a GPU).
        grouped = order.argsort(dim=0, stable=True)  # column k: stage k's images by adjustment
        sizes = torch.zeros(4, 4, dtype=torch.long, device=order.device).scatter_add_(
            1, order.t(), torch.ones(4, n, dtype=torch.long, device=order.device)).tolist()
        factors = torch.stack([torch.zeros(n, device=out.device) if (f := params[f"{field}_factor"])
                               is None else f for field in self.FIELDS])
        for k in range(4):
            images = grouped[:, k]
            # Each image's factor for its k-th adjustment, in the stage's order.
            stage_factors = factors[order[images, k], images]
            start = 0
            for fn_id, (adjust, size) in enumerate(zip(self.ADJUST, sizes[k])):
                index = images[start:start + size]
                if size and params[f"{self.FIELDS[fn_id]}_factor"] is not None:
                    done = adjust(out.index_select(0, index), stage_factors[start:start + size], levels)
                    out.index_copy_(0, index, done)
                start += size
        return out.to(batch.dtype)

