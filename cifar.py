"""The official CIFAR-100 and CIFAR-10 files: where each archive comes from (the official host or
$CIFAR_MIRROR), fetched once (under a lock, for several processes at once), checked against its
published MD5 and extracted, and their pickles read without running anything they might hold.

data.load_cifar reads a whole dataset through them.
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
from typing import Any, Callable, Iterator

import filelock
import numpy as np
from tqdm import tqdm

from config import MIRROR_VARIABLE, QUICK_START
from errors import UserError

TIMEOUT = 10  # seconds without an answer: offline, the missing dataset is said at once


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


def read_pickle(path: str, spec: CifarSpec) -> dict[str, Any]:
    """A CIFAR pickle's dict, its keys as str; a file that is not one is refused in one sentence."""
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


def read_batch(path: str, spec: CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    """A batch file's images (N, 3072) uint8 and labels int64, each checked against spec."""
    d = read_pickle(path, spec)

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


def source_url(spec: CifarSpec) -> str:
    """Where spec's archive is downloaded from: $CIFAR_MIRROR/<archive> when that is set (a mirror
    nearer than the official host), else the official address. The MD5 check is the same."""
    mirror = os.environ.get(MIRROR_VARIABLE, "").strip()
    return f"{mirror.rstrip('/')}/{spec.archive}" if mirror else spec.url


def fetch(spec: CifarSpec, root: str, there: Callable[[], bool]) -> None:
    """Make spec's folder appear in root: its archive, downloaded unless root holds it, verified
    and extracted, under a lock; there() says whether another process did it meanwhile.

    The connection is opened before anything is created: offline, the error comes within
    TIMEOUT seconds and root is left as it was.
    """
    archive = os.path.join(root, spec.archive)
    response = None if os.path.exists(archive) else _connect(spec, root)
    try:
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as e:  # a part of the path is a file, or no permission
            raise UserError(f"--data-dir {root}: cannot create the folder ({e.strerror or e}); "
                            f"choose another --data-dir") from None
        with _lock(spec, root):
            if there():  # another process fetched it while this one waited
                return
            if not os.path.exists(archive):
                assert response is not None, archive  # it was there before the lock: still is
                _download(response, spec, root)
            _verify_and_extract(spec, root)
    finally:
        if response is not None:
            response.close()


def _offline(spec: CifarSpec, root: str, reason: object) -> UserError:
    url = source_url(spec)
    mirror = (f"check ${MIRROR_VARIABLE}" if url != spec.url else
              f"set ${MIRROR_VARIABLE} to a mirror's folder (the MD5 is checked all the same)")
    return UserError(
        f"{spec.title} is not in {os.path.join(root, spec.folder)} and could not be downloaded from "
        f"{url} ({reason}); put {spec.archive} from that address into {root}/ (it is checked and "
        f"extracted on the next run) or {mirror}; without it, try the kit on generated data: "
        f"{QUICK_START}")


def _connect(spec: CifarSpec, root: str) -> Any:
    try:
        return urllib.request.urlopen(source_url(spec), timeout=TIMEOUT)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        raise _offline(spec, root, getattr(e, "reason", e)) from None


def _download(response: Any, spec: CifarSpec, root: str) -> None:
    archive = os.path.join(root, spec.archive)
    part = archive + ".part"
    try:
        with open(part, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {spec.archive}",
                      disable=None) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    f.write(chunk)
                    bar.update(len(chunk))
        os.replace(part, archive)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise _offline(spec, root, getattr(e, "reason", e)) from None
    finally:
        if os.path.exists(part):  # a download that did not finish, whatever stopped it
            os.remove(part)


def _verify_and_extract(spec: CifarSpec, root: str) -> None:
    archive = os.path.join(root, spec.archive)
    digest = _md5(archive)
    if digest != spec.md5:
        raise UserError(f"{archive} has MD5 {digest}, not the published {spec.md5}: the file is damaged "
                        f"or not the official archive; delete it and run again")
    with tarfile.open(archive, "r:gz") as tar:
        # The "data" filter refuses absolute paths and links out of root (Python 3.11.4 and later).
        tar.extractall(root, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


@contextlib.contextmanager
def _lock(spec: CifarSpec, root: str) -> Iterator[None]:
    """Hold <root>/.<archive>.lock (filelock: every OS) while the archive is downloaded and
    extracted: of several processes that need it at once (--jobs, a Slurm array), one fetches it
    and the others wait."""
    lock = filelock.FileLock(os.path.join(root, f".{spec.archive}.lock"))
    try:
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            print(f"waiting for another process to fetch {spec.title} into {root}/",
                  file=sys.stderr, flush=True)
            lock.acquire()
    except OSError as e:  # a folder that holds the archive but cannot be written
        raise UserError(f"--data-dir {root}: cannot write there ({e.strerror or e}) to extract "
                        f"{spec.archive}; choose another --data-dir") from None
    try:
        yield
    finally:
        lock.release()
