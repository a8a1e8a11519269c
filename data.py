"""Datasets: CIFAR-100 and CIFAR-10 on disk (downloaded and verified), synthetic data, splits.

The images are decoded once into a uint8 tensor (N, 3, 32, 32); the augment package turns them
into batches.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import pickle
import sys
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
import torch
from torchvision.transforms import v2
from tqdm import tqdm

from errors import UserError

try:
    import fcntl  # POSIX: the download lock; elsewhere there is none
except ImportError:  # pragma: no cover (Windows)
    fcntl = None

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
NUM_CLASSES = {"cifar100": 100, "cifar10": 10}  # synthetic data takes the step's own dataset's
SIZES = {"cifar100": (50000, 10000), "cifar10": (50000, 10000), "synthetic": (50000, 10000)}


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
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as e:  # a part of the path is a file, or no permission
            raise UserError(f"--data-dir {root}: cannot create the folder ({e.strerror or e}); "
                            f"choose another --data-dir") from None
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


@contextlib.contextmanager
def _fetch_lock(spec: CifarSpec, root: str) -> Iterator[None]:
    """Hold <root>/.<archive>.lock while the archive is downloaded and extracted: of several
    processes that need it at once (--jobs, a Slurm array), one fetches it and the others wait."""
    try:
        os.makedirs(root, exist_ok=True)
        lock = open(os.path.join(root, f".{spec.archive}.lock"), "a")
    except OSError:  # a folder that cannot be written: the download says so, in its own words
        yield
        return
    with lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for another process to fetch {spec.title} into {root}/",
                      file=sys.stderr, flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def load_cifar(spec: CifarSpec, root: str, download: bool = True) -> Dataset:
    """Read an official CIFAR folder under root, fetching the archive first if it is missing."""
    folder = os.path.join(root, spec.folder)
    for path in (root, folder):
        if os.path.exists(path) and not os.path.isdir(path):
            raise UserError(f"{path} is a file, not a folder: --data-dir names the folder that holds "
                            f"{spec.folder}/ (default: data)")
    needed = (*spec.train_files, *spec.test_files, spec.meta_file)

    def there() -> bool:
        return all(os.path.isfile(os.path.join(folder, name)) for name in needed)

    if not there():
        if not download:
            raise UserError(f"{spec.title} is not in {folder}")
        with _fetch_lock(spec, root):
            if not there():  # another process may have fetched it while this one waited
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
    # A copy re-pickled by Python 3 may hold the names as bytes: decoded, as the keys are.
    return Dataset(train_images, train_labels, test_images, test_labels,
                   [n.decode() if isinstance(n, bytes) else str(n) for n in names])


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


def sizes(name: str, subset: int | None = None) -> tuple[int, int]:
    """The training and test images a run of `name` uses: all, or the first `subset` and `subset // 5`."""
    n_train, n_test = SIZES[name]
    if subset is None:
        return n_train, n_test
    if not 1 <= subset <= n_train:
        raise UserError(f"--subset {subset} is out of range: {name} has {n_train} training images")
    return subset, max(1, subset // 5)


@lru_cache(maxsize=2)  # decode once per dataset: `main.py all` spans CIFAR-100 and CIFAR-10
def load_dataset(name: str, data_dir: str, subset: int | None = None, seed: int = 0,
                 num_classes: int = 100, download: bool = True) -> Dataset:
    """The named dataset as a run sees it: cut to sizes(name, subset).

    Synthetic data has num_classes classes (the step's own dataset's); CIFAR has its own and is
    fetched when missing unless download is False.
    """
    n_train, n_test = sizes(name, subset)
    if name == "synthetic":
        return synthetic(n_train, n_test, seed, num_classes)
    ds = load_cifar(SPECS[name], data_dir, download)
    return Dataset(ds.train_images[:n_train], ds.train_labels[:n_train],
                   ds.test_images[:n_test], ds.test_labels[:n_test], ds.classes)


# ---------------------------------------------------------------------------------------------
# Validation splits and channel statistics
# ---------------------------------------------------------------------------------------------

# How a validation set is cut from the training set (Config.val_split):
#   none    no validation set
#   random  val_size images drawn at random, seeded by the run's seed (reports 001 and 004)
#   last    the last val_size images (report 002: 49,000-49,999)
#   batch5  CIFAR-10's fifth training file, data_batch_5: the last 10,000 images, as the files are
#           read in order (report 003)
SPLITS = ("none", "random", "last", "batch5")
BATCH5 = 10000


def split_size(kind: str, val_size: int) -> int:
    """The validation images a split holds out of CIFAR's 50,000 training images."""
    return BATCH5 if kind == "batch5" else (0 if kind == "none" else val_size)


def split_indices(n: int, kind: str, val_size: int, seed: int,
                  full: int = 50000) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation indices into a training set of n images, each sorted.

    val_size counts images of the full set of `full`; a subset (n < full) holds out the same
    share, at least one image.
    """
    assert kind in SPLITS, kind
    size = split_size(kind, val_size)
    if size and n < full:
        size = max(1, round(size * n / full))
    if size >= n:
        raise UserError(f"a validation split of {size} images leaves nothing to train on: the "
                        f"training set has {n}; choose a smaller val_size")
    if kind == "random":
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    else:
        order = torch.arange(n)
    train, val = order[:n - size], order[n - size:]
    return train.sort().values, val.sort().values


@dataclass(frozen=True)
class Split:
    """A training set cut into the images a run trains on and those it validates on."""

    train_index: torch.Tensor  # sorted indices into the whole training set
    val_index: torch.Tensor  # empty without a validation split
    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor


def split_dataset(ds: Dataset, kind: str, val_size: int, seed: int) -> Split:
    """ds's training images cut by split_indices: the one place a run's split is worked out."""
    train, val = split_indices(len(ds.train_labels), kind, val_size, seed)
    if not len(val):  # no split: the whole set, without a copy
        return Split(train, val, ds.train_images, ds.train_labels, ds.train_images[:0],
                     ds.train_labels[:0])
    return Split(train, val, ds.train_images[train], ds.train_labels[train], ds.train_images[val],
                 ds.train_labels[val])


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of uint8 images (N, C, H, W), in [0, 1].

    As np.mean and np.std over every pixel of every image, divided by 255: report 001's recipe,
    which gives its published CIFAR-10 values from the 50,000 training images. The sums are
    exact integers, so the result does not depend on the order of the images.
    """
    assert images.dtype == torch.uint8 and images.ndim == 4, (images.dtype, images.shape)
    total = torch.zeros(images.shape[1], dtype=torch.int64)
    squares = torch.zeros(images.shape[1], dtype=torch.int64)
    for start in range(0, len(images), 4096):  # chunks keep the int64 temporaries small
        x = images[start:start + 4096].to(torch.int64).transpose(0, 1).flatten(1)
        total += x.sum(1)
        squares += (x * x).sum(1)
    n = images.numel() // images.shape[1]
    mean = total.double() / n
    std = (squares.double() / n - mean ** 2).clamp_min(0).sqrt()
    return tuple((mean / 255).tolist()), tuple((std / 255).tolist())
