"""Batched forms of report 002's geometric transforms: RandomPerspective, RandomAffine, RandomErasing.

Each image gets its own draw; perspective and affine build one sampling grid per image, the way
torchvision's kernels build theirs, and resample the whole group with one grid_sample. The ops
follow the protocol in augment/ops.py; the table in augment/__init__.py says which v2 transforms,
with which arguments, map here.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torchvision.transforms.v2 import RandomAffine, RandomErasing, RandomPerspective
from torchvision.transforms.v2._utils import _get_fill
from torchvision.transforms.v2.functional._geometry import _check_interpolation

from augment.ops import apply_to, coin, uniform


def _base_grid(h: int, w: int, start: tuple[float, float], dtype: torch.dtype,
               device: torch.device, linspace_dtype: torch.dtype | None) -> torch.Tensor:
    """torchvision's (1, h * w, 3) grid of pixel centres (x, y, 1), starting at `start`."""
    base = torch.empty(1, h, w, 3, dtype=dtype, device=device)
    base[..., 0].copy_(torch.linspace(start[0], start[0] + w - 1.0, steps=w, device=device,
                                      dtype=linspace_dtype))
    base[..., 1].copy_(torch.linspace(start[1], start[1] + h - 1.0, steps=h, device=device,
                                      dtype=linspace_dtype).unsqueeze_(-1))
    base[..., 2].fill_(1)
    return base.view(1, h * w, 3)


def _resample(x: torch.Tensor, theta: torch.Tensor, interpolation: Any, fill: Any,
              perspective: torch.Tensor | None = None) -> torch.Tensor:
    """x resampled through one grid per image, as F.affine (theta) or F.perspective builds it.

    theta: (m, 2, 3) in the grid's dtype; perspective: (m, 3) denominators, or None for affine.
    """
    m, _, h, w = x.shape
    dtype, dev = theta.dtype, theta.device
    if perspective is None:  # _affine_grid: centred coordinates, linspace in the default dtype
        base = _base_grid(h, w, ((1.0 - w) * 0.5, (1.0 - h) * 0.5), dtype, dev, None)
    else:  # _perspective_grid: coordinates from 0.5, linspace in the grid's dtype
        base = _base_grid(h, w, (0.5, 0.5), dtype, dev, dtype)
    scale = torch.tensor([0.5 * w, 0.5 * h], dtype=dtype, device=dev)
    grid = _times_each(base, theta.transpose(1, 2).div(scale))  # (m, 2, h * w)
    if perspective is not None:  # both coordinates share their denominator
        grid = grid.div_(_times_each(base, perspective[:, :, None])).sub_(1.0)
    return _grid_sample(x, grid.transpose(1, 2).reshape(m, h, w, 2), interpolation.value, fill)


def _times_each(base: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """base (1, P, 3) times each of matrices (m, 3, k), as torchvision's base.bmm(theta), as (m, k, P).

    bmm's m tiny products cost 2 ms per 200 images here; x * a + y * b + c, elementwise in that
    order, gives bmm's very values (tests/test_py compares them with torchvision's).
    The pixels are the last dimension: with the k coordinates last, each op runs 3x slower.
    """
    x, y = base[0, :, 0], base[0, :, 1]  # base[..., 2] is all 1
    a, b, c = (matrices[:, i, :, None] for i in range(3))
    return (x * a + y * b) + c


def _grid_sample(x: torch.Tensor, grid: torch.Tensor, mode: str, fill: Any) -> torch.Tensor:
    """torchvision's _apply_grid_transform with one grid per image, in fewer passes over the batch.

    As it does: a channel of ones is resampled beside the image and says how much of each output
    pixel comes from inside it; the rest is the fill. The image and that channel are written into
    one float tensor at once, and a fill of 0 skips subtracting and adding it (x - 0 + 0 is x).
    """
    m, c, h, w = x.shape
    fp = x.dtype == grid.dtype
    if fill is None:
        img = x if fp else x.to(grid.dtype)
    else:
        img = torch.empty(m, c + 1, h, w, dtype=grid.dtype, device=x.device)
        img[:, :c].copy_(x)
        img[:, c].fill_(1.0)
    out = torch.nn.functional.grid_sample(img, grid, mode=mode, padding_mode="zeros",
                                          align_corners=False)
    if fill is not None:
        out, mask = out[:, :c], out[:, c:]
        fill_list = fill if isinstance(fill, (tuple, list)) else [float(fill)]
        fill_img = torch.tensor(fill_list, dtype=out.dtype, device=out.device).view(1, -1, 1, 1)
        if mode == "nearest":
            out = torch.where(mask < 0.5, fill_img.expand_as(out), out)
        elif not any(fill_list):
            out = out.mul(mask)
        else:
            out = out.sub(fill_img).mul_(mask).add_(fill_img)
    return out if fp else out.round_().to(x.dtype)


def _grid_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.is_floating_point() else torch.float32


def _bounds(h: int, w: int, distortion_scale: float) -> tuple[int, int]:
    return int(distortion_scale * (h // 2)) + 1, int(distortion_scale * (w // 2)) + 1


def corners(offsets: torch.Tensor, h: int, w: int, distortion_scale: float) -> torch.Tensor:
    """RandomPerspective's end points (N, 4, 2) from each corner's (x, y) offset in its box.

    Corners top-left, top-right, bottom-right, bottom-left, as v2's make_params lists them; each
    moves inside a box of bound pixels at its corner of the image.
    """
    bound_h, bound_w = _bounds(h, w, distortion_scale)
    origin = torch.tensor([[0, 0], [w - bound_w, 0], [w - bound_w, h - bound_h], [0, h - bound_h]],
                          device=offsets.device)
    return offsets + origin


class Perspective:
    """RandomPerspective: with probability p, each image's four corners moved at random."""

    random = True
    selects_pixels = False
    name = "RandomPerspective"

    def __init__(self, t: RandomPerspective) -> None:
        self.p, self.distortion_scale = t.p, t.distortion_scale
        self.interpolation = _check_interpolation(t.interpolation)
        self.fill = _get_fill(t._fill, torch.Tensor)

    def sample(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Whether each image is warped, its corners' offsets and, if it is, its 8 coefficients."""
        n, (h, w), dev = len(batch), batch.shape[-2:], batch.device
        bound_h, bound_w = _bounds(h, w, self.distortion_scale)
        offsets = torch.stack([torch.randint(0, bound_w, (n, 4), generator=generator, device=dev),
                               torch.randint(0, bound_h, (n, 4), generator=generator, device=dev)], -1)
        chosen = coin(batch, self.p, generator)
        # NaN where an image is not warped: solving for those too cost 40% more here.
        coefficients = torch.full((n, 8), math.nan, device=dev)
        index = chosen.nonzero().squeeze(1)
        ex, ey = corners(offsets[index], h, w, self.distortion_scale).unbind(-1)
        m = len(index)
        sx = torch.tensor([0, w - 1, w - 1, 0], device=dev).expand(m, 4)
        sy = torch.tensor([0, 0, h - 1, h - 1], device=dev).expand(m, 4)
        # _get_perspective_coeffs's least squares, for all images at once, in double as it does.
        one, zero = torch.ones_like(ex), torch.zeros_like(ex)
        rows_x = torch.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], dim=-1)
        rows_y = torch.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], dim=-1)
        a = torch.stack([rows_x, rows_y], dim=2).reshape(m, 8, 8).double()
        b = torch.stack([sx, sy], dim=2).reshape(m, 8, 1).double()
        if m:
            coefficients[index] = torch.linalg.lstsq(a, b, driver="gels").solution.squeeze(-1).float()
        return {"chosen": chosen, "offsets": offsets, "coefficients": coefficients}

    def apply(self, batch: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        def warp(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            c = params["coefficients"][index].to(_grid_dtype(x))
            theta = c[:, :6].reshape(-1, 2, 3)
            denominator = torch.cat([c[:, 6:], torch.ones_like(c[:, :1])], dim=1)
            return _resample(x, theta, self.interpolation, self.fill, perspective=denominator)
        return apply_to(batch, params["chosen"], warp)


class Affine:
    """RandomAffine with rotation only: each image turned by its own angle about its centre."""

    random = True
    selects_pixels = False
    name = "RandomAffine"

    def __init__(self, t: RandomAffine) -> None:
        self.degrees = t.degrees
        self.interpolation = _check_interpolation(t.interpolation)
        self.fill = _get_fill(t._fill, torch.Tensor)

    def sample(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """An angle in degrees per image."""
        return uniform(len(batch), *self.degrees, generator, batch.device)

    def apply(self, batch: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
        # _get_inverse_affine_matrix with no shear, translation or scaling, about the centre:
        # [[cos, sin, 0], [-sin, cos, 0]], in double as Python's math computes it.
        rot = angle.double() * (math.pi / 180)  # math.radians
        cos, sin, zero = rot.cos(), rot.sin(), torch.zeros_like(rot)
        theta = torch.stack([cos, sin, zero, -sin, cos, zero], dim=1).view(-1, 2, 3)
        return _resample(batch, theta.to(_grid_dtype(batch)), self.interpolation, self.fill)


class Erasing:
    """RandomErasing with a fixed value: with probability p, a random rectangle per image filled."""

    random = True
    selects_pixels = False
    name = "RandomErasing"
    TRIES = 10  # v2's make_params gives up after 10 rectangles that do not fit

    def __init__(self, t: RandomErasing) -> None:
        self.p, self.scale, self.value = t.p, t.scale, t.value
        self.log_ratio = [float(r) for r in t._log_ratio]  # float32 logs, as v2 draws from them

    def sample(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Whether each image is erased, and its rectangle's top, left, height and width."""
        n, (img_h, img_w), dev = len(batch), batch.shape[-2:], batch.device
        chosen = coin(batch, self.p, generator)
        area = img_h * img_w * uniform(n * self.TRIES, *self.scale, generator, dev).double()
        ratio = uniform(n * self.TRIES, *self.log_ratio, generator, dev).exp().double()
        # Python's round() and torch.round both round half to even.
        h = (area * ratio).sqrt().round().long().view(n, self.TRIES)
        w = (area / ratio).sqrt().round().long().view(n, self.TRIES)
        fits = (h < img_h) & (w < img_w)
        first = fits.long().argmax(dim=1, keepdim=True)  # the first try that fits, as the loop stops
        h, w = h.gather(1, first).squeeze(1), w.gather(1, first).squeeze(1)
        # randint(0, k) per image with its own k: floor(u * k), in double so it never reaches k.
        u = torch.rand(n, 2, generator=generator, device=dev, dtype=torch.float64)
        i = (u[:, 0] * (img_h - h + 1)).floor().long()
        j = (u[:, 1] * (img_w - w + 1)).floor().long()
        return {"chosen": chosen & fits.any(dim=1), "i": i, "j": j, "h": h, "w": w}

    def apply(self, batch: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        dev = batch.device
        rows = torch.arange(batch.shape[-2], device=dev).view(1, -1, 1)
        cols = torch.arange(batch.shape[-1], device=dev).view(1, 1, -1)
        i, j, h, w = (params[k].view(-1, 1, 1) for k in "ijhw")
        inside = (rows >= i) & (rows < i + h) & (cols >= j) & (cols < j + w)
        inside &= params["chosen"].view(-1, 1, 1)
        # F.erase assigns a float32 value into the image: the same cast as .to(dtype).
        value = torch.tensor(self.value, device=dev).view(-1, 1, 1).to(batch.dtype)
        return torch.where(inside[:, None], value, batch)

