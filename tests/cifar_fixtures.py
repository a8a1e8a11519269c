"""Small CIFAR datasets written in the official on-disk layout, for tests that must not download.

The real archives hold Python pickles (protocol 2) of dicts with str keys: 'data' is a uint8 array
(N, 3072) whose rows hold the red, green and blue 32x32 planes in turn, row-major; the labels are a
plain list of ints. These helpers write the same structure with random content, so that the reader
(cifar.py, data.load_cifar) is exercised on the real layout, only smaller.
"""
from __future__ import annotations

import os
import pickle
import shutil
import struct
import tarfile
from typing import Any

import numpy as np

import cifar

PROTOCOL = 2  # what the official files use; it also makes numpy go through _codecs.encode

# The official layouts, spelled here from the datasets' page (cs.toronto.edu/~kriz/cifar.html) and
# not read from cifar.CifarSpec: a wrong file name or key in cifar.py must fail the reader's tests.
OFFICIAL = {
    "CIFAR-10": {"folder": "cifar-10-batches-py", "archive": "cifar-10-python.tar.gz",
                 "train": ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                           "data_batch_5"),
                 "test": "test_batch", "meta": "batches.meta", "labels": "labels",
                 "names": "label_names", "classes": 10},
    "CIFAR-100": {"folder": "cifar-100-python", "archive": "cifar-100-python.tar.gz",
                  "train": ("train",), "test": "test", "meta": "meta", "labels": "fine_labels",
                  "names": "fine_label_names", "classes": 100},
}


def cifar_arrays(spec: cifar.CifarSpec, n_train: int, n_test: int, seed: int = 0) -> dict[str, Any]:
    """The content write_cifar writes for these arguments, without touching the disk."""
    rng = np.random.default_rng(seed)
    classes = OFFICIAL[spec.title]["classes"]
    return {
        "train_data": rng.integers(0, 256, (n_train, 3072), dtype=np.uint8),
        "train_labels": rng.integers(0, classes, n_train).astype(np.int64),
        "test_data": rng.integers(0, 256, (n_test, 3072), dtype=np.uint8),
        "test_labels": rng.integers(0, classes, n_test).astype(np.int64),
        # Unsorted on purpose (37 is prime to 10 and 100): a reader that reorders them is caught.
        "names": [f"{spec.title.lower()}_class_{i * 37 % classes:03d}" for i in range(classes)],
    }


def dump(path: str | os.PathLike, obj: Any) -> None:
    """Pickle obj to path as Python 3 does at the official files' protocol."""
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=PROTOCOL)


def _py2_opcodes(obj: Any) -> bytes:
    """obj as Python 2's cPickle wrote it at protocol 2: byte strings, numpy.core globals."""
    if isinstance(obj, dict):
        return b"}(" + b"".join(_py2_opcodes(k) + _py2_opcodes(v) for k, v in obj.items()) + b"u"
    if isinstance(obj, list):
        return b"](" + b"".join(_py2_opcodes(v) for v in obj) + b"e"
    if isinstance(obj, tuple):
        return b"(" + b"".join(_py2_opcodes(v) for v in obj) + b"t"
    if obj is None:
        return b"N"
    if isinstance(obj, bool):
        return b"\x88" if obj else b"\x89"
    if isinstance(obj, int):
        return b"J" + struct.pack("<i", obj)
    if isinstance(obj, (str, bytes)):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        return (b"U" + struct.pack("<B", len(raw)) if len(raw) < 256
                else b"T" + struct.pack("<i", len(raw))) + raw
    if isinstance(obj, np.ndarray) and obj.dtype == np.uint8:
        dtype = (b"cnumpy\ndtype\n" + _py2_opcodes(("u1", 0, 1)) + b"R"
                 + _py2_opcodes((3, "|", None, None, None, -1, -1, 0)) + b"b")
        return (b"cnumpy.core.multiarray\n_reconstruct\n"
                + b"(cnumpy\nndarray\n" + _py2_opcodes((0,)) + _py2_opcodes("b") + b"tR("
                + _py2_opcodes(1) + _py2_opcodes(tuple(obj.shape)) + dtype + b"\x89"
                + _py2_opcodes(np.ascontiguousarray(obj).tobytes()) + b"tb")
    raise TypeError(f"no Python 2 pickle form for {type(obj).__name__}")


def dump_py2(path: str | os.PathLike, obj: Any) -> None:
    """Pickle obj to path in the form of the official Python 2 files (memo opcodes aside)."""
    with open(path, "wb") as f:
        f.write(b"\x80\x02" + _py2_opcodes(obj) + b".")


def batch_dict(spec: cifar.CifarSpec, images: np.ndarray, labels: np.ndarray, batch_label: str,
               first: int = 0) -> dict[str, Any]:
    """One batch file's dict, with the keys the official file of this kind has."""
    key = OFFICIAL[spec.title]["labels"]
    d: dict[str, Any] = {
        "batch_label": batch_label,
        key: [int(y) for y in labels],  # a list of Python ints, not an array
        "data": images,
        "filenames": [f"image_{first + i:05d}.png" for i in range(len(images))],
    }
    if key == "fine_labels":
        d["coarse_labels"] = [int(y) // 5 for y in labels]
    return d


def write_cifar(root: str | os.PathLike, spec: cifar.CifarSpec, n_train: int, n_test: int,
                seed: int = 0, *, py2: bool = False) -> dict[str, Any]:
    """Write a small dataset into root/<spec.folder>/ as the official archive extracts; return it.

    The returned dict holds the arrays written (train_data, train_labels, test_data, test_labels,
    names) and the folder's path under "folder". With py2, the files are byte strings and
    numpy.core globals as Python 2 wrote the real ones; otherwise as Python 3 pickles them.
    """
    official = OFFICIAL[spec.title]
    if n_train < len(official["train"]) or n_test < 1:
        # Python 3 pickles an empty array's b"" via __builtin__.bytes, which cifar.py refuses.
        raise ValueError(f"{spec.title} needs n_train >= {len(official['train'])} and n_test >= 1")
    write = dump_py2 if py2 else dump
    arrays = cifar_arrays(spec, n_train, n_test, seed)
    folder = os.path.join(root, official["folder"])
    os.makedirs(folder, exist_ok=True)

    # CIFAR-10 spreads the training set over data_batch_1..5; CIFAR-100 has a single `train`.
    bounds = np.linspace(0, n_train, len(official["train"]) + 1).astype(int)
    for k, name in enumerate(official["train"]):
        lo, hi = bounds[k], bounds[k + 1]
        label = f"training batch {k + 1} of {len(official['train'])}"
        part = batch_dict(spec, arrays["train_data"][lo:hi], arrays["train_labels"][lo:hi], label,
                          first=lo)
        write(os.path.join(folder, name), part)
    write(os.path.join(folder, official["test"]),
          batch_dict(spec, arrays["test_data"], arrays["test_labels"], "testing batch 1 of 1"))

    meta: dict[str, Any] = {official["names"]: list(arrays["names"])}
    if official["names"] == "fine_label_names":
        meta["coarse_label_names"] = [f"superclass_{i:02d}" for i in range(20)]
    else:
        meta["num_cases_per_batch"] = int(bounds[1] - bounds[0])
        meta["num_vis"] = 3072
    write(os.path.join(folder, official["meta"]), meta)
    return {**arrays, "folder": folder}


def make_archive(root: str | os.PathLike, spec: cifar.CifarSpec, n_train: int = 20,
                 n_test: int = 10, seed: int = 0) -> str:
    """Write the fixture, pack it into root/<spec.archive> as the official .tar.gz; return its path.

    The archive holds `<spec.folder>/...`, as the official one does; the extracted folder is removed
    so that only the archive is left in root.
    """
    write_cifar(root, spec, n_train, n_test, seed)
    folder = os.path.join(root, OFFICIAL[spec.title]["folder"])
    path = os.path.join(root, OFFICIAL[spec.title]["archive"])
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=OFFICIAL[spec.title]["folder"])
    shutil.rmtree(folder)
    return path
