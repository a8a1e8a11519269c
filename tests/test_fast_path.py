"""The fast path changes no result: cached transforms, channels_last, fused Adam, --compile."""
import dataclasses

import pytest
import torch
from torchvision.transforms import v2

import augment
import data
import devices
import main
import optimizers
import train
from config import Config
from experiments import REPORT_STEPS, load_experiment, resolve_path

CPU = torch.device("cpu")


def images(n=40, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


def batches(transform, budget, epochs=2, n=40, size=32):
    """Every batch of two epochs from make_loader with the given cache budget."""
    loader = augment.make_loader(images(n, size), torch.arange(n), transform, 16, True, CPU, seed=5,
                              cache_budget=budget)
    return loader, [(x, y) for _ in range(epochs) for x, y in loader]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert xa.dtype == xb.dtype and torch.equal(xa, xb) and torch.equal(ya, yb)


# Pipelines where a pointwise op may move ahead of a random one, and where it may not.
PIPELINES = {
    "flip then normalize": v2.Compose([v2.RandomHorizontalFlip(), data.TO_NORMALIZED_TENSOR]),
    "unpadded crop then normalize": v2.Compose([v2.RandomCrop(28), data.TO_NORMALIZED_TENSOR]),
    "padded crop then normalize": v2.Compose([v2.RandomCrop(32, padding=4),
                                              data.TO_NORMALIZED_TENSOR]),
    "filled crop then normalize": v2.Compose([v2.RandomCrop(30, padding=2, fill=200),
                                              data.TO_NORMALIZED_TENSOR]),
    "crop if needed then normalize": v2.Compose([v2.RandomCrop(34, pad_if_needed=True),
                                                 data.TO_NORMALIZED_TENSOR]),
    "flip, resize, normalize": v2.Compose([v2.RandomHorizontalFlip(), v2.Resize(40),
                                           data.TO_NORMALIZED_TENSOR]),
    "resize, crop, flip, center crop, normalize": v2.Compose([
        v2.Resize(36), v2.RandomCrop(32), v2.RandomHorizontalFlip(), v2.CenterCrop(30),
        data.TO_NORMALIZED_TENSOR]),
}
STEP_PIPELINES = {f"{s} {split}": getattr(load_experiment(resolve_path(s)), split)
                  for s in REPORT_STEPS for split in ("train_transform", "test_transform")}


@pytest.mark.parametrize("name", [*PIPELINES, *STEP_PIPELINES])
def test_cached_batches_equal_uncached_batches(name):
    transform = {**PIPELINES, **STEP_PIPELINES}[name]
    uncached, expected = batches(transform, budget=0)
    assert "nothing cached" in uncached.description
    cached, got = batches(transform, budget=augment.CACHE_BUDGET)
    assert_same_batches(got, expected)
    # And the generator is the loader's only randomness: its state ends where the uncached one's does.
    assert torch.equal(cached.generator.get_state(), uncached.generator.get_state())


@pytest.mark.parametrize("name, once, per_batch", [
    ("flip then normalize", "ToImage, ToDtype, Normalize", "RandomHorizontalFlip"),
    ("unpadded crop then normalize", "ToImage, ToDtype, Normalize", "RandomCrop"),
    # A padding fill would be normalized too if Normalize ran first: it must not move.
    ("padded crop then normalize", "", "RandomCrop, ToImage, ToDtype, Normalize"),
    ("filled crop then normalize", "", "RandomCrop, ToImage, ToDtype, Normalize"),
    ("crop if needed then normalize", "", "RandomCrop, ToImage, ToDtype, Normalize"),
    # Nothing is moved past a resize, which rounds.
    ("flip, resize, normalize", "", "RandomHorizontalFlip, Resize, ToImage, ToDtype, Normalize"),
    ("resize, crop, flip, center crop, normalize", "Resize",
     "RandomCrop, RandomHorizontalFlip, CenterCrop, ToImage, ToDtype, Normalize"),
])
def test_split_moves_only_pointwise_ops_past_pixel_selections(name, once, per_batch):
    pipeline, _ = augment.compile_transform(PIPELINES[name])
    a, b = pipeline.split()
    assert (repr(a), repr(b)) == (once, per_batch)


@pytest.mark.parametrize("name", ["unpadded crop then normalize", "padded crop then normalize",
                                  "flip then normalize"])
def test_take_cuts_the_batch_straight_from_the_images_as_indexing_first_would(name):
    pipeline, _ = augment.compile_transform(PIPELINES[name])
    source, index = images(30), torch.tensor([7, 3, 3, 29, 0, 12])
    got = pipeline.take(source, index, torch.Generator().manual_seed(2))
    assert torch.equal(got, pipeline(source[index], torch.Generator().manual_seed(2)))


def test_report_steps_cache_all_but_their_random_ops():
    cnn5b = load_experiment(resolve_path("CNN5b"))
    loader = augment.make_loader(images(), torch.arange(40), cnn5b.train_transform, 16, True, CPU, 0)
    assert loader.description.endswith("per batch: RandomCrop")
    assert loader.images.dtype == torch.float32 and loader.images.shape == (40, 3, 40, 40)
    loader = augment.make_loader(images(), torch.arange(40), cnn5b.test_transform, 16, False, CPU, 0)
    assert loader.description.endswith("per batch: nothing")


def test_over_the_budget_the_part_that_fits_is_cached():
    transform = load_experiment(resolve_path("CNN6")).test_transform  # Resize 224, then float
    uint8_bytes = 40 * 3 * 224 * 224
    loader, got = batches(transform, budget=2 * uint8_bytes, epochs=1)
    assert loader.images.dtype == torch.uint8 and loader.images.shape[-1] == 224
    assert "ToDtype, Normalize left per batch" in loader.description
    _, expected = batches(transform, budget=0, epochs=1)
    assert_same_batches(got, expected)
    loader, _ = batches(transform, budget=uint8_bytes - 1, epochs=1)
    assert "nothing cached (Resize would take" in loader.description


def test_normalize_is_torchvisions_and_keeps_its_errors():
    op, _ = augment.compile_transform(v2.Normalize(data.IMAGENET_MEAN, data.IMAGENET_STD))
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(op(x, torch.Generator()), v2.functional.normalize(x, data.IMAGENET_MEAN,
                                                                        data.IMAGENET_STD))
    with pytest.raises(TypeError, match="float"):
        op(images(2), torch.Generator())


def test_conv_nets_run_channels_last_and_the_mlp_does_not():
    cnn = devices.prepare_model(load_experiment(resolve_path("CNN2")).model(main.DEFAULTS), CPU)
    assert cnn.conv1[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert devices.uses_channels_last(cnn)
    mlp = devices.prepare_model(load_experiment(resolve_path("NN1")).model(main.DEFAULTS), CPU)
    assert not devices.uses_channels_last(mlp)
    assert optimizers.make_optimizer(cnn, Config(), CPU).defaults["fused"]


def test_compile_flag_reaches_the_config():
    exp = load_experiment(resolve_path("CNN2"))
    assert main.resolve_config(exp, main.build_parser().parse_args(["CNN2"])).compile is False
    assert main.resolve_config(exp, main.build_parser().parse_args(["CNN2", "--compile"])).compile


def test_compiled_run_trains_the_compiled_model_and_saves_plain_weights(tmp_path, monkeypatch):
    compiled = []
    real_compile = torch.compile

    def eager_compile(model):  # dynamo's wrapper without code generation: seconds, not minutes
        compiled.append(model)
        return real_compile(model, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    exp = load_experiment(resolve_path("CNN2"))
    cfg = dataclasses.replace(exp.config, dataset="synthetic", subset=64, epochs=1, batch_size=32,
                              device="cpu", out=str(tmp_path), compile=True, step="CNN2")
    train.run(train.prepare(exp, cfg))
    assert len(compiled) == 1
    state = torch.load(tmp_path / "CNN2" / "checkpoint.pt", weights_only=True)["model"]
    assert state and not any(k.startswith("_orig_mod") for k in state)
