"""Datasets (CIFAR-100, CIFAR-10, synthetic) and the loaders that feed the training loop.

The images are decoded once into a uint8 tensor kept on the training device; experiments declare
torchvision.transforms.v2 pipelines, which are mapped onto batched tensor ops on that device. The
part of a pipeline with no randomness (a resize, the conversion to float, the normalization) is
applied once to the whole dataset when the loader is made, if the result fits CACHE_BUDGET; only
the random part runs per batch. A pipeline with a transform that has no batched form falls back to
a standard DataLoader that applies it image by image, as torchvision's own CIFAR datasets do.
"""
from __future__ import annotations

import hashlib
import http.client
import math
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator

import numpy as np
import PIL.Image
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F
from tqdm import tqdm

import augment_ops
from errors import UserError

HALF = (0.5, 0.5, 0.5)  # the report normalizes every channel with mean 0.5 and std 0.5
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ToImage, then float in [0, 1], then the report's normalization: every step's final transforms.
TO_NORMALIZED_TENSOR = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                                   v2.Normalize(HALF, HALF)])


# ---------------------------------------------------------------------------------------------
# The datasets on disk
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CifarSpec:
    """Where an official CIFAR archive comes from and what its extracted folder holds."""

    title: str
    folder: str  # the folder the archive extracts to, inside --data-dir
    url: str
    md5: str  # of the archive, as published
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    label_key: str
    names_key: str
    num_classes: int

    @property
    def archive(self) -> str:
        return os.path.basename(self.url)


CIFAR100 = CifarSpec("CIFAR-100", "cifar-100-python",
                     "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                     "eb9058c3a382ffc7106e4002c42a8d85", ("train",), ("test",), "meta",
                     "fine_labels", "fine_label_names", 100)
CIFAR10 = CifarSpec("CIFAR-10", "cifar-10-batches-py",
                    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    "c58f30108f718f92721af3b95e74349a",
                    tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "batches.meta",
                    "labels", "label_names", 10)
SPECS = {"cifar100": CIFAR100, "cifar10": CIFAR10}
DATASETS = ("cifar100", "cifar10", "synthetic")
NUM_CLASSES = {"cifar100": 100, "cifar10": 10, "synthetic": 100}
SIZES = {"cifar100": (50000, 10000), "cifar10": (50000, 10000), "synthetic": (50000, 10000)}
# Bytes a loader may spend on the deterministic part of its pipeline, applied once to the whole
# dataset. Over it, the part that fits is cached and the rest runs per batch: CNN6's 224x224 images
# are 7.5 GB for 50,000 as uint8, 30 GB as float.
CACHE_BUDGET = 2 * 1024 ** 3


@dataclass
class Dataset:
    """A classification dataset decoded into tensors: images uint8 (N, 3, H, W), labels int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: list[str]


class _ArrayUnpickler(pickle.Unpickler):
    """Reads the CIFAR pickles but refuses anything other than numpy arrays and plain data."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR file never does")
        if name in ("_reconstruct", "scalar"):  # numpy 2 moved numpy.core to numpy._core
            return getattr(np._core.multiarray if hasattr(np, "_core") else np.core.multiarray, name)
        return super().find_class(module, name)


def _read_pickle(path: str, spec: CifarSpec) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            d = _ArrayUnpickler(f, encoding="latin1").load()
    except Exception as e:
        raise UserError(f"{path} is not a readable {spec.title} file ({type(e).__name__}: {e}); delete "
                        f"the folder {os.path.dirname(path)} to extract or download it again") from None
    if not isinstance(d, dict):
        raise UserError(f"{path} is not a {spec.title} file: it holds a {type(d).__name__}, not a dict")
    # Files written by Python 3 without latin1 strings have bytes keys; the official ones have str.
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}


def _read_batch(path: str, spec: CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    d = _read_pickle(path, spec)

    def bad(what: str) -> UserError:
        return UserError(f"{path} is not a valid {spec.title} file: {what}; delete the folder "
                         f"{os.path.dirname(path)} to extract or download it again")

    data, labels = d.get("data"), d.get(spec.label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        shape = getattr(data, "shape", None)
        raise bad(f"'data' should be a uint8 array of shape (N, 3072), found {type(data).__name__} "
                  f"{getattr(data, 'dtype', '')} {shape if shape is not None else ''}".rstrip())
    if labels is None:
        raise bad(f"it has no '{spec.label_key}'")
    labels = np.asarray(labels)
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise bad(f"'{spec.label_key}' should hold {len(data)} integers, found shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= spec.num_classes):
        raise bad(f"labels range over {labels.min()}..{labels.max()}, outside 0..{spec.num_classes - 1}")
    return data, labels.astype(np.int64)


def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch_archive(spec: CifarSpec, root: str) -> None:
    """Download (unless already there), verify and extract the official archive into root."""
    archive = os.path.join(root, spec.archive)
    if not os.path.exists(archive):
        os.makedirs(root, exist_ok=True)
        part = archive + ".part"
        try:
            # A short timeout: offline, fail at once rather than hang on a dead connection.
            with urllib.request.urlopen(spec.url, timeout=20) as response, open(part, "wb") as f:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {spec.archive}",
                          disable=None) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        f.write(chunk)
                        bar.update(len(chunk))
            os.replace(part, archive)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            reason = getattr(e, "reason", e)
            raise UserError(
                f"{spec.title} is not in {os.path.join(root, spec.folder)} and could not be downloaded "
                f"from {spec.url} ({reason}); put {spec.archive} from that address into {root}/ "
                f"(it is checked and extracted on the next run), or use --dataset synthetic to run "
                f"without it") from None
        finally:
            if os.path.exists(part):  # a download that did not finish, whatever stopped it
                os.remove(part)
    digest = _md5(archive)
    if digest != spec.md5:
        raise UserError(f"{archive} has MD5 {digest}, not the published {spec.md5}: the file is damaged "
                        f"or not the official archive; delete it and run again")
    with tarfile.open(archive, "r:gz") as tar:
        # The "data" filter refuses absolute paths and links out of root (Python 3.11.4 and later).
        tar.extractall(root, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


def load_cifar(spec: CifarSpec, root: str, download: bool = True) -> Dataset:
    """Read an official CIFAR folder under root, fetching the archive first if it is missing."""
    folder = os.path.join(root, spec.folder)
    needed = (*spec.train_files, *spec.test_files, spec.meta_file)
    if not all(os.path.isfile(os.path.join(folder, name)) for name in needed):
        if not download:
            raise UserError(f"{spec.title} is not in {folder}")
        _fetch_archive(spec, root)

    def read(files: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [_read_batch(os.path.join(folder, name), spec) for name in files]
        data = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        # Rows hold the red, green and blue planes in turn, each 32x32 row-major: that is CHW.
        return torch.from_numpy(data.reshape(-1, 3, 32, 32)), torch.from_numpy(labels)

    train_images, train_labels = read(spec.train_files)
    test_images, test_labels = read(spec.test_files)
    meta_path = os.path.join(folder, spec.meta_file)
    names = _read_pickle(meta_path, spec).get(spec.names_key)
    if not isinstance(names, list) or len(names) != spec.num_classes:
        raise UserError(f"{meta_path} is not a valid {spec.title} file: '{spec.names_key}' should list "
                        f"{spec.num_classes} class names")
    return Dataset(train_images, train_labels, test_images, test_labels, [str(n) for n in names])


def synthetic(n_train: int, n_test: int, seed: int = 0, num_classes: int = 100) -> Dataset:
    """A learnable CIFAR-shaped dataset: each class a smooth colour pattern, each image a noisy copy.

    Deterministic in (n_train, n_test, seed). Smooth noise as strong as the class pattern, pixel
    noise and a brightness shift make classes overlap, so accuracy climbs over epochs (CNN2: about
    45% after 3 epochs on 10,000 images) instead of jumping to 100%.
    """
    g = torch.Generator().manual_seed(seed)

    def smooth(n: int) -> torch.Tensor:
        """Random 4x4 colour grids blown up to 32x32: structure at the scale of CIFAR's objects."""
        coarse = torch.randn(n, 3, 4, 4, generator=g)
        return torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear",
                                               align_corners=False)

    prototypes = smooth(num_classes)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=g)]
        images = torch.empty(n, 3, 32, 32, dtype=torch.uint8)
        for start in range(0, n, 4096):  # chunks keep the float temporaries small
            y = labels[start:start + 4096]
            x = (128 + 40 * prototypes[y] + 40 * smooth(len(y))
                 + 45 * torch.randn(len(y), 3, 32, 32, generator=g)
                 + 20 * torch.randn(len(y), 1, 1, 1, generator=g))
            images[start:start + 4096] = x.round().clamp(0, 255).to(torch.uint8)
        return images, labels

    train_images, train_labels = draw(n_train)
    test_images, test_labels = draw(n_test)
    return Dataset(train_images, train_labels, test_images, test_labels,
                   [f"class_{i:02d}" for i in range(num_classes)])


@lru_cache(maxsize=1)  # `main.py all` runs eleven steps on the same data: decode it once
def load_dataset(name: str, data_dir: str, subset: int | None = None, seed: int = 0) -> Dataset:
    """The named dataset, cut to its first `subset` training and `subset // 5` test images."""
    n_train, n_test = SIZES[name]
    if subset is not None and not 1 <= subset <= n_train:
        raise UserError(f"--subset {subset} is out of range: {name} has {n_train} training images")
    if subset is not None:
        n_train, n_test = subset, max(1, subset // 5)
    if name == "synthetic":
        return synthetic(n_train, n_test, seed)
    ds = load_cifar(SPECS[name], data_dir)
    return Dataset(ds.train_images[:n_train], ds.train_labels[:n_train],
                   ds.test_images[:n_test], ds.test_labels[:n_test], ds.classes)


# ---------------------------------------------------------------------------------------------
# Batched transforms: torchvision v2 pipelines applied to whole uint8 batches on the device
# ---------------------------------------------------------------------------------------------

class _Fixed:
    """A transform with no randomness: the same torchvision kernel, applied to the whole batch.

    `pointwise`: each output value depends only on the input value at the same place and its
    channel, so the op gives the same images before or after a flip or an unpadded crop.
    """

    random = False
    selects_pixels = False

    def __init__(self, name: str, fn: Callable[[torch.Tensor], torch.Tensor],
                 pointwise: bool = False) -> None:
        self.name, self.fn, self.pointwise = name, fn, pointwise

    def sample(self, batch: torch.Tensor, generator: torch.Generator) -> None:
        return None

    def apply(self, batch: torch.Tensor, params: None) -> torch.Tensor:
        return self.fn(batch)


class _Normalize(_Fixed):
    """Normalize as torchvision computes it, with mean and std made once per device.

    F.normalize builds them from Python lists on every call, a host-to-device copy that makes
    the CPU wait for the GPU once per batch.
    """

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__("Normalize", self._normalize, pointwise=True)
        self.mean, self.std = list(mean), list(std)
        self._stats: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point() or x.ndim < 3 or not all(self.std):
            return F.normalize(x, self.mean, self.std)  # torchvision's own error
        key = (x.device, x.dtype)
        if key not in self._stats:
            self._stats[key] = tuple(torch.as_tensor(v, dtype=x.dtype, device=x.device).view(-1, 1, 1)
                                     for v in (self.mean, self.std))
        mean, std = self._stats[key]
        return x.sub(mean).div_(std)  # F.normalize's very ops, so the same bits


class _Flip:
    """RandomHorizontalFlip: each image flipped with probability p."""

    random = True
    selects_pixels = True  # moves pixels, never changes one
    name = "RandomHorizontalFlip"

    def __init__(self, p: float) -> None:
        self.p = p

    def sample(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A bool per image: flip it or not."""
        return torch.rand(len(batch), generator=generator, device=batch.device) < self.p

    def apply(self, batch: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
        return torch.where(flip[:, None, None, None], batch.flip(-1), batch)


class _Crop:
    """RandomCrop: pad the batch once, then cut each image's window at its own random offset."""

    random = True
    name = "RandomCrop"

    def __init__(self, t: v2.RandomCrop) -> None:
        self.height, self.width = t.size
        self.padding = t.padding  # [left, right, top, bottom] or None, as v2 stores it
        self.pad_if_needed, self.fill, self.padding_mode = t.pad_if_needed, t.fill, t.padding_mode
        # Without padding a crop only cuts pixels out; a fill value would change under Normalize.
        self.selects_pixels = not any(self.padding or ()) and not self.pad_if_needed

    def _pad(self, h: int, w: int) -> list[int]:
        """F.pad's [left, top, right, bottom], worked out as v2.RandomCrop.make_params does."""
        left, right, top, bottom = self.padding or (0, 0, 0, 0)
        if self.pad_if_needed and h + top + bottom < self.height:
            diff = self.height - (h + top + bottom)
            top, bottom = top + diff, bottom + diff
        if self.pad_if_needed and w + left + right < self.width:
            diff = self.width - (w + left + right)
            left, right = left + diff, right + diff
        return [left, top, right, bottom]

    def sample(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, Any]:
        """The padding and each image's top-left corner in the padded image."""
        pad = self._pad(*batch.shape[-2:])
        h = batch.shape[-2] + pad[1] + pad[3]
        w = batch.shape[-1] + pad[0] + pad[2]
        if h < self.height or w < self.width:
            raise ValueError(f"RandomCrop of {(self.height, self.width)} is larger than the "
                             f"padded image {(h, w)}")
        n, dev = len(batch), batch.device
        top = torch.randint(0, h - self.height + 1, (n,), generator=generator, device=dev)
        left = torch.randint(0, w - self.width + 1, (n,), generator=generator, device=dev)
        return {"padding": pad, "top": top, "left": left}

    def apply(self, batch: torch.Tensor, params: dict[str, Any],
              index: torch.Tensor | None = None) -> torch.Tensor:
        """The crops; with `index`, cut from batch[index] without copying batch[index] first."""
        if any(params["padding"]):
            batch = F.pad(batch, params["padding"], fill=self.fill, padding_mode=self.padding_mode)
        # Every window of the crop's size, as a view: (N, C, H - h + 1, W - w + 1, h, w). Picking
        # one per image copies whole rows, 4x faster than indexing each pixel on this CPU.
        windows = batch.unfold(2, self.height, 1).unfold(3, self.width, 1)
        if index is None:
            index = torch.arange(len(params["top"]), device=batch.device)
        # Advanced indices around a slice put the batch dim first: (N, C, h, w).
        return windows[index, :, params["top"], params["left"]]


def _flatten(transform: Any) -> list[Any]:
    if isinstance(transform, (v2.Compose,)):
        return [t for inner in transform.transforms for t in _flatten(inner)]
    return [transform]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x  # the batch is already a uint8 CHW tensor, as ToImage would make it


def _batched_op(t: Any) -> _Fixed | _Flip | _Crop | None:
    """The batched form of one v2 transform, or None if it has none."""
    if isinstance(t, (v2.ToImage, v2.ToPureTensor, v2.Identity)):
        return _Fixed(type(t).__name__, _identity, pointwise=True)
    if isinstance(t, v2.ToDtype) and isinstance(t.dtype, torch.dtype):
        return _Fixed("ToDtype", lambda x: F.to_dtype(x, t.dtype, scale=t.scale), pointwise=True)
    if isinstance(t, v2.Normalize):
        return _Normalize(t.mean, t.std)
    if isinstance(t, v2.Resize):
        return _Fixed("Resize", lambda x: F.resize(x, t.size, t.interpolation, t.max_size, t.antialias))
    if isinstance(t, v2.CenterCrop):
        return _Fixed("CenterCrop", lambda x: F.center_crop(x, t.size))
    if type(t) is v2.RandomHorizontalFlip:
        return _Flip(t.p)
    if type(t) is v2.RandomCrop and isinstance(t.fill, (int, float)):
        return _Crop(t)
    return augment_ops.batched_op(t)


class BatchPipeline:
    """A v2 transform pipeline as a list of batched ops; call it on a uint8 (N, C, H, W) batch."""

    def __init__(self, ops: list[_Fixed | _Flip | _Crop]) -> None:
        self.ops = ops

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for op in self.ops:
            batch = op.apply(batch, op.sample(batch, generator))
        return batch

    def take(self, images: torch.Tensor, index: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
        """self(images[index], generator), with a leading crop cut straight out of images.

        One gather instead of two (the batch, then its crops): CNN5b's per-batch work.
        """
        if not self.ops or not isinstance(self.ops[0], _Crop) or not self.ops[0].selects_pixels:
            return self(images[index], generator)  # a padded crop would pad every image
        crop = self.ops[0]
        shape = images[:1].expand(len(index), *images.shape[1:])  # the batch's shape, no copy
        batch = crop.apply(images, crop.sample(shape, generator), index)
        return BatchPipeline(self.ops[1:])(batch, generator)

    def __repr__(self) -> str:
        return ", ".join(op.name for op in self.ops)

    def split(self) -> tuple[BatchPipeline, BatchPipeline]:
        """The ops that can run once on the whole dataset, and those that must run per batch.

        A fixed op runs once if every op before it does, or if it is pointwise and every op
        before it that runs per batch only moves pixels (a flip, an unpadded crop): moving it
        ahead of them gives the same images, and their random draws depend on the batch's shape
        only, which a pointwise op keeps.
        """
        once: list[_Fixed] = []
        per_batch: list[_Fixed | _Flip | _Crop] = []
        for op in self.ops:
            after_selections = all(o.selects_pixels for o in per_batch)
            runs_once = not op.random and after_selections and (op.pointwise or not per_batch)
            (once if runs_once else per_batch).append(op)
        return BatchPipeline(once), BatchPipeline(per_batch)


def compile_transform(transform: Any) -> tuple[BatchPipeline | None, list[str]]:
    """The batched form of a transform pipeline, or None and the names of the transforms without one."""
    transforms = _flatten(transform)
    ops = [_batched_op(t) for t in transforms]
    missing = [type(t).__name__ for t, op in zip(transforms, ops) if op is None]
    return (None, missing) if missing else (BatchPipeline(ops), [])


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------

class DeviceLoader:
    """Batches cut from uint8 images already on the device and transformed there, whole."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pipeline: BatchPipeline,
                 batch_size: int, shuffle: bool, generator: torch.Generator) -> None:
        self.images, self.labels, self.pipeline = images, labels, pipeline
        self.batch_size, self.shuffle, self.generator = batch_size, shuffle, generator
        self.description = f"batched on {images.device.type}: {pipeline}"

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, dev = len(self.images), self.images.device
        order = (torch.randperm(n, generator=self.generator, device=dev) if self.shuffle
                 else torch.arange(n, device=dev))
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            yield self.pipeline.take(self.images, index, self.generator), self.labels[index]


class _PerImage(torch.utils.data.Dataset):
    """torchvision's CIFAR behaviour: each item a PIL image through the transform, and its label."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Any) -> None:
        self.images = images.permute(0, 2, 3, 1).contiguous().numpy()  # HWC, as PIL wants
        self.labels, self.transform = labels.tolist(), transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        return self.transform(PIL.Image.fromarray(self.images[i])), self.labels[i]


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def cache_fixed_prefix(images: torch.Tensor, pipeline: BatchPipeline, budget: int = CACHE_BUDGET,
                       chunk: int = 1024) -> tuple[torch.Tensor, BatchPipeline, str]:
    """Apply the pipeline's deterministic part to every image once, as far as `budget` bytes allow.

    Returns the images so transformed, the ops left to run per batch, and a phrase saying what
    was cached. Batches of the result through the ops left equal batches of `images` through
    the whole pipeline (tests/test_transforms.py checks it bit for bit).
    """
    once, _ = pipeline.split()
    ops = list(once.ops)
    probe, probes = images[:1], []  # one image after each op of the prefix
    for op in ops:
        probe = op.apply(probe, None)
        probes.append(probe)
    sizes = [p.numel() * p.element_size() * len(images) for p in probes]  # the whole dataset's
    while ops and sizes[len(ops) - 1] > budget:  # drop ops from the end until the rest fits
        ops.pop()
    # What is not cached runs per batch in the experiment's order: valid, since the cached ops
    # commute with the flips and crops they were moved ahead of.
    left = BatchPipeline([op for op in pipeline.ops if all(op is not c for c in ops)])
    # Identity ops (ToImage) cost nothing per batch: caching only them is no cache at all.
    if all(op.fn is _identity for op in ops):
        first = next((i for i, op in enumerate(once.ops) if op.fn is not _identity), None)
        over = "" if first is None else (f" ({once.ops[first].name} would take "
                                         f"{_size(sizes[first])}, over the budget of {_size(budget)})")
        return images, pipeline, f"nothing cached{over}"
    prefix, probe = BatchPipeline(ops), probes[len(ops) - 1]
    cached = torch.empty((len(images), *probe.shape[1:]), dtype=probe.dtype, device=images.device)
    for start in range(0, len(images), chunk):  # chunks keep the temporaries small
        cached[start:start + chunk] = prefix(images[start:start + chunk], torch.Generator(images.device))
    note = f"{prefix} cached once ({_size(sizes[len(ops) - 1])})"
    if len(ops) < len(once.ops):
        note += f", {BatchPipeline(once.ops[len(ops):])} left per batch to stay under the budget"
    return cached, left, note


def make_loader(images: torch.Tensor, labels: torch.Tensor, transform: Any, batch_size: int,
                shuffle: bool, device: torch.device, seed: int, workers: int = 2,
                cache_budget: int = CACHE_BUDGET) -> Any:
    """A loader yielding (images, labels) batches: batched on the device, or per image as a fallback.

    Either way it has `len()`, a `generator` whose state is the loader's only randomness, and a
    `description` saying which path it took and what it cached.
    """
    pipeline, missing = compile_transform(transform)
    if pipeline is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
        cached, per_batch, note = cache_fixed_prefix(images.to(device), pipeline, cache_budget)
        loader = DeviceLoader(cached, labels.to(device), per_batch, batch_size, shuffle, generator)
        loader.description = f"batched on {device.type}: {note}; per batch: {repr(per_batch) or 'nothing'}"
        return loader
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        _PerImage(images, labels, transform), batch_size=batch_size, shuffle=shuffle,
        num_workers=workers, generator=generator, pin_memory=device.type == "cuda")
    loader.description = (f"per image in a DataLoader ({workers} workers): no batched form for "
                          f"{', '.join(missing)}")
    return loader
