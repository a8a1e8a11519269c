"""Report 002's batched transforms draw per image and give torchvision's images for those draws.

Tolerance: none, except for ColorJitter's hue and bilinear resampling. Every other comparison is
torch.equal, uint8 and float32 alike: those ops use torchvision's arithmetic in torchvision's order
(where they re-express a step for speed, they pick or combine the same values). The hue adjustment
is computed another way, 3x faster (augment.colour._hue): it is within one level (uint8) or 1/255
(float) of F.adjust_hue and equal on almost every value; a later adjustment or op may scale that
difference, and the tests below allow the scaled bound, and no more.

Bilinear perspective and rotation go through grid_sample, whose CPU kernel differs with the
machine's vector units: on an Intel Xeon with AVX-512 and AMX the batched call and torchvision's
per-image call round the interpolation weights differently (float32: up to 7.6e-4; uint8: one
level in one pixel of 73,728), while on an AMD Zen 4 they agree bit for bit. Nearest sampling
only picks a source pixel, so it stays exact everywhere. For bilinear ops the tests allow
BILINEAR_ROUNDING (float) or one level (uint8) on at most 0.1% of values: a wrong draw (another
angle, other corners, another chosen image) moves most pixels of an image by many levels and fails.
"""
import math

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.functional import _get_perspective_coeffs

import augment
from augment import colour, geometry, ops
from experiments.r002 import augmentations
from test_transforms import torchvision_params

CPU = torch.device("cpu")


def images(n=24, size=32, seed=0, dtype=torch.uint8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    # A few flat images and grey pixels: the cases hue and contrast treat apart.
    x[0] = 77
    x[1, :, :8] = x[1, 0, :8]
    return x if dtype == torch.uint8 else v2.functional.to_dtype(x, dtype, scale=True)


def reference(t, op, params, i, img):
    """torchvision's v2 transform `t` on image i, with the parameters the batched op drew for it."""
    if not op.random:
        return t(img)
    if isinstance(op, colour.Jitter):
        return t.transform(img, {k: (v if k == "fn_idx" or v is None else float(v[i]))
                                 for k, v in {k: (v[i] if k == "fn_idx" else v)
                                              for k, v in params.items()}.items()})
    if isinstance(op, augment.Flip):
        return t.transform(img, {}) if params[i] else img
    if isinstance(op, augment.Crop):
        return t.transform(img, torchvision_params(op, params, i))
    if isinstance(op, geometry.Affine):
        return t.transform(img, {"angle": float(params[i]), "translate": (0, 0), "scale": 1.0,
                                 "shear": (0.0, 0.0)})
    chosen = params[i] if isinstance(op, ops.RandomApplied) else params["chosen"][i]
    if not chosen:
        return img
    if isinstance(op, geometry.Perspective):
        return t.transform(img, {"coefficients": params["coefficients"][i].tolist()})
    if isinstance(op, geometry.Erasing):
        tv = {k: int(params[k][i]) for k in "ijhw"}
        return t.transform(img, {**tv, "v": torch.tensor(t.value)[:, None, None]})
    return t.transform(img, {"num_input_channels": img.shape[-3]})  # RandomGrayscale's; others: {}


def run_both(transform, batch, seed=0):
    """The batched output and torchvision's, image by image with the same draws; and the params."""
    pipeline, missing = augment.compile_transform(transform)
    assert pipeline is not None, f"no batched form for {missing}"
    generator = torch.Generator().manual_seed(seed)
    singles = [tv_tensors.Image(img) for img in batch]
    drawn = []
    for op, t in zip(pipeline.ops, augment.flatten(transform)):
        params = op.sample(batch, generator)
        drawn.append(params)
        batch = op.apply(batch, params)
        singles = [reference(t, op, params, i, img) for i, img in enumerate(singles)]
        if isinstance(t, v2.ToPILImage):
            singles = [v2.functional.pil_to_tensor(img) for img in singles]
    return batch, torch.stack([s.as_subclass(torch.Tensor) for s in singles]), drawn


# The ops of report 002 with several arguments each; uint8 and float32 batches below.
JITTERS = [
    v2.ColorJitter(brightness=(0.2, 0.8), contrast=(0.2, 0.5), saturation=(0.1, 0.3), hue=(-0.2, 0.2)),
    v2.ColorJitter(brightness=(0.3, 0.8), contrast=(0.3, 0.7), saturation=(0.1, 0.4), hue=(-0.3, 0.3)),
    v2.ColorJitter(brightness=0.5, hue=0.1),
    v2.ColorJitter(contrast=(1.2, 1.9), saturation=2.0),
]
PHOTOMETRIC = [
    *JITTERS,
    v2.RandomEqualize(p=1), v2.RandomEqualize(p=0.5),
    v2.RandomGrayscale(p=0.2), v2.RandomGrayscale(p=0.6),
    v2.RandomAdjustSharpness(sharpness_factor=2, p=0.7),
    v2.RandomAdjustSharpness(sharpness_factor=0.3, p=0.5),
    v2.RandomAdjustSharpness(sharpness_factor=1, p=0.5),
]
GEOMETRIC = [
    v2.RandomPerspective(distortion_scale=0.2, p=0.6),
    v2.RandomPerspective(distortion_scale=0.7, p=0.5),
    v2.RandomPerspective(distortion_scale=0.5, p=0.8, interpolation=v2.InterpolationMode.NEAREST,
                         fill=128),
    v2.RandomAffine(degrees=(-20, 20)),
    v2.RandomAffine(degrees=45, interpolation=v2.InterpolationMode.BILINEAR, fill=[10, 200, 30]),
    v2.RandomErasing(p=0.5, scale=(0.39, 0.40), ratio=(1.0, 1.0)),
    v2.RandomErasing(p=0.9),  # default scale and ratio: rectangles of every shape, some misses
    v2.RandomErasing(p=0.7, scale=(0.1, 0.2), value=(0.2, 0.4, 0.6)),
]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
@pytest.mark.parametrize("transform", PHOTOMETRIC + GEOMETRIC, ids=repr)
def test_each_op_equals_torchvision_for_the_same_draws(transform, dtype):
    batched, expected, _ = run_both(transform, images(dtype=dtype))
    assert batched.shape == expected.shape and batched.dtype == expected.dtype
    if getattr(transform, "hue", None) is not None:
        assert_within_levels(batched, expected, jitter_gain(transform))
    elif bilinear(transform):
        assert_within_rounding(batched, expected)
    else:
        assert torch.equal(batched, expected)


# float32 images are in [0, 1]: 1e-3 is a quarter of one uint8 level, above the 7.6e-4 seen on AMX.
BILINEAR_ROUNDING = 1e-3


def bilinear(t) -> bool:
    """Whether t resamples with bilinear weights, whose float rounding depends on the CPU's kernels."""
    mode = getattr(t, "interpolation", None)  # v2 keeps a default as the string "bilinear"
    return mode is not None and v2.InterpolationMode(mode) == v2.InterpolationMode.BILINEAR


def assert_within_rounding(batched, expected):
    """batched equals expected but for rounding: at most one level on 0.1% of values (uint8), or
    BILINEAR_ROUNDING anywhere and a tenth of it on average (float; a wrong draw averages ~0.1)."""
    diff = (batched.double() - expected.double()).abs()
    if batched.dtype == torch.uint8:
        assert diff.max() <= 1 and (diff > 0).double().mean() <= 1e-3, diff.max()
    else:
        assert diff.max() <= BILINEAR_ROUNDING and diff.mean() <= BILINEAR_ROUNDING / 10, diff.max()


def jitter_gain(t):
    """How much ColorJitter's adjustments after the hue can scale its error of one level.

    brightness multiplies by f; contrast and saturation give x * f + other * (1 - f), which moves
    by at most (2f - 1) times the change of x and other when f > 1, and by at most 1 when f <= 1.
    """
    gain = max(1.0, t.brightness[1]) if t.brightness else 1.0
    for bounds in (t.contrast, t.saturation):
        gain *= max(1.0, 2 * bounds[1] - 1) if bounds else 1.0
    return gain


def assert_within_levels(batched, expected, levels, scale=1.0):
    """batched is within `levels` uint8 levels (levels / 255 for floats, times scale) of expected,
    and equal on at least 99.9% of values: the hue's difference is a rounding one, rare."""
    unit = scale * (1.0 if batched.dtype == torch.uint8 else 1 / 255)
    diff = (batched.double() - expected.double()).abs()
    assert diff.max() <= math.floor(levels) * unit + 1e-6, (diff.max() / unit, levels)
    if batched.dtype == torch.uint8:
        assert (diff == 0).double().mean() >= 0.999


def test_hue_is_within_one_level_of_torchvisions():
    # Many images, greys and ties between channels (the sectors' edges), shifts at +-0.5 and 1/6.
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (300, 3, 16, 16), dtype=torch.uint8, generator=g)
    x[:100] = torch.randint(0, 4, (100, 3, 16, 16), dtype=torch.uint8, generator=g) * 85
    x[100:150] = x[100:150] // 64 * 64 + 63
    f = torch.rand(300, generator=g) - 0.5
    f[:10] = torch.tensor([0.5, -0.5, 0.0, 1 / 6, -1 / 6, 1 / 3, -1 / 3, 0.25, 1 / 12, -1e-8])
    expected = torch.stack([v2.functional.adjust_hue(img, float(s)) for img, s in zip(x, f)])
    batched = colour._hue(x.float(), f, True).to(torch.uint8)
    assert_within_levels(batched, expected, 1)
    xf = (x / 255 + torch.rand(x.shape, generator=g) / 300).clamp(0, 1)
    expected = torch.stack([v2.functional.adjust_hue(img, float(s)) for img, s in zip(xf, f)])
    assert_within_levels(colour._hue(xf, f, False), expected, 1)


@pytest.mark.parametrize("factor", [0.0, 0.3, 1.5, 2.0, 7.0])
def test_sharpen_equals_torchvision_on_every_uint8_pattern(factor):
    # Random pixels, extremes (0 and 255 side by side, where a blur lands near a half if anything
    # does), one channel, and images too small to blur, which torchvision returns as they are.
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 256, (200, 3, 16, 16), dtype=torch.uint8, generator=g)
    x[:50] = torch.randint(0, 2, (50, 3, 16, 16), dtype=torch.uint8, generator=g) * 255
    for batch in (x, x[:, :1], x[:, :, :2, :2], x[:, :, :3, :5]):
        expected = v2.functional.adjust_sharpness(batch, factor)
        assert torch.equal(colour.sharpen(batch, factor), expected)
    floats = x.float() / 255  # floats take torchvision's own path
    expected = v2.functional.adjust_sharpness(floats, factor)
    assert torch.equal(colour.sharpen(floats, factor), expected)


def test_to_pil_image_truncates_floats_to_bytes_as_torchvision_does():
    # Values just under a whole number of 255ths: mul(255) then a cast truncates, not rounds.
    batch = torch.rand(6, 3, 8, 8) * 0.999
    batched, expected, _ = run_both(v2.Compose([v2.ToPILImage(), v2.ToImage()]), batch)
    assert batched.dtype == torch.uint8 and torch.equal(batched, expected)


@pytest.mark.parametrize("name", ["DA1", "DA2", "DA3", "VGG_DA", "VGG_TRAIN", "TEST"])
def test_report_pipelines_equal_torchvision_image_by_image(name):
    batched, expected, _ = run_both(getattr(augmentations, name), images(12))
    assert batched.dtype == torch.float32
    if name not in ("DA1", "DA2"):
        assert torch.equal(batched, expected)
        return
    # The hue's one level (ColorJitter's factors here are <= 1, so it stays one) can become 3 in
    # RandomAdjustSharpness(2) (2x - blur), and one more in the perspective's rounding to uint8;
    # Normalize(0.5, 0.5) then doubles it: 4 levels * 2 / 255.
    assert_within_levels(batched, expected, 4, scale=2.0)
    assert (batched == expected).double().mean() >= 0.999


@pytest.mark.parametrize("name", ["DA1", "DA2", "DA3", "VGG_DA", "VGG_TRAIN", "TEST"])
def test_report_pipelines_are_batched_with_no_per_image_fallback(name):
    loader = augment.make_loader(images(40), torch.arange(40), getattr(augmentations, name), 16, True,
                              CPU, seed=0)
    assert isinstance(loader, augment.DeviceLoader), loader.description
    x, y = next(iter(loader))
    assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32 and len(y) == 16


def test_always_applied_equalize_is_cached_once():
    loader = augment.make_loader(images(40), torch.arange(40), augmentations.DA1, 16, True, CPU, seed=0)
    assert "RandomEqualize cached once" in loader.description


@pytest.mark.parametrize("transform", [
    v2.RandomAffine(degrees=10, translate=(0.1, 0.1)),
    v2.RandomAffine(degrees=10, scale=(0.9, 1.1)),
    v2.RandomErasing(value="random"),
    v2.ToPILImage(mode="RGB"),
], ids=repr)
def test_unsupported_arguments_fall_back_to_the_per_image_loader(transform):
    pipeline = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), transform,
                           v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    assert augment.compile_transform(pipeline)[0] is None
    loader = augment.make_loader(images(6), torch.arange(6), pipeline, 4, False, CPU, seed=0, workers=0)
    assert isinstance(loader, torch.utils.data.DataLoader)
    x, y = next(iter(loader))
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32


# ---------------------------------------------------------------------------------------------
# The draws: per image, with the right probabilities and ranges
# ---------------------------------------------------------------------------------------------

def draw(transform, n=4000, size=32, seed=1):
    op = augment.batched_op(transform)
    return op, op.sample(images(n, size), torch.Generator().manual_seed(seed))


def chosen(op, params):
    return params if isinstance(op, ops.RandomApplied) else params["chosen"]


@pytest.mark.parametrize("transform", [*JITTERS, *GEOMETRIC, v2.RandomEqualize(p=0.5),
                                       v2.RandomGrayscale(p=0.5)], ids=repr)
def test_two_images_of_a_batch_get_different_draws(transform):
    op, params = draw(transform, n=64)
    if isinstance(params, torch.Tensor):
        params = {"angle": params}
    # Every draw varies over the batch; a square of fixed area (ratio 1) has one size, though.
    fixed = {"h", "w"} if tuple(getattr(transform, "ratio", ())) == (1.0, 1.0) else set()
    for name, value in params.items():
        if isinstance(value, torch.Tensor) and name not in fixed:
            assert not torch.all(value == value[0]), f"every image got the same {name}: {value}"


@pytest.mark.parametrize("p", [0.2, 0.7])
@pytest.mark.parametrize("make", [
    lambda p: v2.RandomEqualize(p=p), lambda p: v2.RandomGrayscale(p=p),
    lambda p: v2.RandomAdjustSharpness(2, p=p), lambda p: v2.RandomPerspective(0.5, p=p),
    lambda p: v2.RandomErasing(p=p, scale=(0.39, 0.40), ratio=(1.0, 1.0)),
], ids=["equalize", "grayscale", "sharpness", "perspective", "erasing"])
def test_images_are_transformed_with_probability_p(make, p):
    op, params = draw(make(p))
    # 4,000 draws: the standard deviation of the fraction is at most 0.008; 0.03 is 3.75 of them.
    assert abs(chosen(op, params).float().mean().item() - p) < 0.03


@pytest.mark.parametrize("transform", JITTERS, ids=repr)
def test_jitter_factors_stay_in_range_and_every_order_occurs(transform):
    op, params = draw(transform)
    for field, bounds in zip(op.FIELDS, op.ranges):
        f = params[f"{field}_factor"]
        assert (f is None) == (bounds is None)
        if f is not None:
            assert bounds[0] <= f.min() and f.max() <= bounds[1] and f.std() > 0
    order = params["fn_idx"]
    assert torch.equal(order.sort(dim=1).values, torch.arange(4).expand(len(order), 4))
    orders = torch.unique(order, dim=0, return_counts=True)[1]
    assert len(orders) == 24 and orders.min() > 4000 / 24 * 0.6  # all 24 orders, about equally


@pytest.mark.parametrize("scale", [0.2, 0.7])
def test_perspective_corners_stay_in_their_boxes_and_give_torchvisions_coefficients(scale):
    op, params = draw(v2.RandomPerspective(distortion_scale=scale), n=500)
    ends = geometry.corners(params["offsets"], 32, 32, op.distortion_scale)
    bound = int(scale * 16) + 1
    starts = [[0, 0], [31, 0], [31, 31], [0, 31]]
    for e, chosen, coefficients in zip(ends.tolist(), params["chosen"], params["coefficients"]):
        for (x, y), (sx, sy) in zip(e, starts):
            assert abs(x - sx) < bound and abs(y - sy) < bound
        if chosen:  # only the images warped are solved for
            assert coefficients.tolist() == _get_perspective_coeffs(starts, e)
        else:
            assert coefficients.isnan().all()
    assert 200 < params["chosen"].sum() < 300  # p = 0.5 of 500
    assert len({tuple(e) for e in params["offsets"].view(500, -1).tolist()}) > 400


def test_affine_angles_are_uniform_over_the_degrees():
    _, angles = draw(v2.RandomAffine(degrees=(-20, 20)))
    assert -20 <= angles.min() < -19 and 19 < angles.max() <= 20 and abs(angles.mean()) < 1


def test_erasing_rectangles_fit_and_match_the_scale():
    op, params = draw(v2.RandomErasing(p=1, scale=(0.02, 0.33), ratio=(0.3, 3.3)))
    h, w, i, j = (params[k][params["chosen"]] for k in "hwij")
    assert (h < 32).all() and (w < 32).all() and (i + h <= 32).all() and (j + w <= 32).all()
    area = (h * w).float() / 1024
    assert area.min() > 0.01 and area.max() < 0.36  # scale's range, give or take the rounding
    assert (i == 0).any() and (i + h == 32).any()  # every offset can be drawn, the last one too


def test_erasing_gives_up_after_ten_rectangles_that_do_not_fit():
    # Nearly the whole image at extreme aspect ratios: most tries do not fit, some images miss.
    op, params = draw(v2.RandomErasing(p=1, scale=(0.9, 1.0), ratio=(0.3, 3.3)))
    missed = 1 - params["chosen"].float().mean().item()
    assert 0.05 < missed < 0.99
    op, params = draw(v2.RandomErasing(p=1, scale=(1.0, 1.0), ratio=(1.0, 1.0)))  # never fits
    batch = images(8)
    assert not params["chosen"].any() and torch.equal(op.apply(batch, op.sample(
        batch, torch.Generator())), batch)


def test_seeded_draws_repeat():
    pipeline, _ = augment.compile_transform(augmentations.DA1)
    a = pipeline(images(16), torch.Generator().manual_seed(3))
    b = pipeline(images(16), torch.Generator().manual_seed(3))
    c = pipeline(images(16), torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
