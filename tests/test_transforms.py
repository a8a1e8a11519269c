"""The batched transforms give torchvision's images for the same random choices."""
import PIL.Image
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

import augment
import data
from experiments import REPORT_STEPS, load_experiment, resolve_path


def images(n=24, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


def torchvision_params(op, params, i):
    """torchvision's parameter dict for image i, from the batched op's choices."""
    if isinstance(op, augment.Crop):
        return {"needs_crop": True, "top": int(params["top"][i]), "left": int(params["left"][i]),
                "height": op.height, "width": op.width, "needs_pad": any(params["padding"]),
                "padding": params["padding"]}
    return {}


def run_both(transform, batch, seed=0):
    """The batched pipeline's output, and torchvision's per image with the same random choices."""
    pipeline, missing = augment.compile_transform(transform)
    assert pipeline is not None, f"no batched form for {missing}"
    generator = torch.Generator().manual_seed(seed)
    singles = [tv_tensors.Image(img) for img in batch]
    for op, t in zip(pipeline.ops, augment.flatten(transform)):
        params = op.sample(batch, generator)
        batch = op.apply(batch, params)
        if isinstance(op, augment.Flip):
            singles = [t.transform(img, {}) if params[i] else img for i, img in enumerate(singles)]
        elif op.random:
            singles = [t.transform(img, torchvision_params(op, params, i))
                       for i, img in enumerate(singles)]
        else:
            singles = [t(img) for img in singles]
    return batch, torch.stack([s.as_subclass(torch.Tensor) for s in singles])


@pytest.mark.parametrize("transform", [
    v2.RandomHorizontalFlip(p=0.5),
    v2.RandomHorizontalFlip(p=0.2),
    v2.RandomCrop(32, padding=4),
    v2.RandomCrop(28),
    v2.RandomCrop((30, 26), padding=(1, 2, 3, 4), fill=127),
    v2.RandomCrop(32, padding=4, padding_mode="reflect"),
    v2.RandomCrop(36, pad_if_needed=True),
    v2.Resize((40, 40)),
    v2.Resize(224),
    v2.CenterCrop(24),
    v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(data.HALF, data.HALF)]),
], ids=repr)
def test_each_op_equals_torchvision(transform):
    batched, expected = run_both(transform, images())
    assert batched.shape == expected.shape and batched.dtype == expected.dtype
    assert torch.equal(batched, expected)


@pytest.mark.parametrize("step", REPORT_STEPS)
@pytest.mark.parametrize("split", ["train_transform", "test_transform"])
def test_every_step_pipeline_is_batched_and_equals_torchvision(step, split):
    transform = getattr(load_experiment(resolve_path(step)), split)
    batched, expected = run_both(transform, images(8))
    assert torch.equal(batched, expected)


@pytest.mark.parametrize("step", REPORT_STEPS)
def test_deterministic_test_pipelines_equal_torchvision_on_pil_images(step):
    """The report's loop fed PIL images to its transforms; ours gives the same tensors."""
    transform = load_experiment(resolve_path(step)).test_transform
    batch = images(6)
    pipeline, _ = augment.compile_transform(transform)
    batched = pipeline(batch, torch.Generator())
    for img, out in zip(batch, batched):
        pil = PIL.Image.fromarray(img.permute(1, 2, 0).numpy())
        assert torch.equal(transform(pil), out)


def test_flip_and_crop_choices_are_per_image_and_uniform():
    batch = images(4000, size=8)
    g = torch.Generator().manual_seed(1)
    flips = augment.Flip(0.5).sample(batch, g)
    assert 0.45 < flips.float().mean() < 0.55
    crop = augment.Crop(v2.RandomCrop(8, padding=2))
    params = crop.sample(batch, g)
    counts = torch.bincount(params["top"] * 5 + params["left"], minlength=25)
    # Every offset, about equally often: 160 each, within 5 standard deviations (about 12.6).
    assert len(counts) == 25 and ((counts - 160).abs() < 63).all(), counts
    out = crop.apply(batch, params)
    assert out.shape == (4000, 3, 8, 8)


def test_seeded_pipeline_repeats_and_another_seed_differs():
    transform = v2.Compose([v2.Resize((40, 40)), v2.RandomCrop(32), v2.RandomHorizontalFlip()])
    pipeline, _ = augment.compile_transform(transform)
    batch = images(64)
    a = pipeline(batch, torch.Generator().manual_seed(3))
    b = pipeline(batch, torch.Generator().manual_seed(3))
    c = pipeline(batch, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_a_transform_without_batched_form_falls_back_to_a_dataloader():
    transform = v2.Compose([v2.GaussianBlur(3), data.TO_NORMALIZED_TENSOR])
    pipeline, missing = augment.compile_transform(transform)
    assert pipeline is None and missing == ["GaussianBlur"]
    labels = torch.arange(10)
    loader = augment.make_loader(images(10), labels, transform, 4, False, torch.device("cpu"),
                              seed=0, workers=0)
    assert isinstance(loader, torch.utils.data.DataLoader)
    assert "GaussianBlur" in loader.description
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 3, 32, 32) and batches[0][0].dtype == torch.float32
    assert torch.equal(torch.cat([y for _, y in batches]), labels)


def test_device_loader_visits_every_image_once_per_epoch():
    labels = torch.arange(10)
    loader = augment.make_loader(images(10), labels, data.TO_NORMALIZED_TENSOR, 4, True,
                              torch.device("cpu"), seed=0)
    assert isinstance(loader, augment.DeviceLoader) and len(loader) == 3
    epoch1 = torch.cat([y for _, y in loader])
    epoch2 = torch.cat([y for _, y in loader])
    assert sorted(epoch1.tolist()) == list(range(10)) == sorted(epoch2.tolist())
    assert not torch.equal(epoch1, epoch2)  # reshuffled each epoch
    x, y = next(iter(loader))
    expected = (images(10)[y].float() / 255 - 0.5) / 0.5
    assert torch.allclose(x, expected, atol=1e-6)
