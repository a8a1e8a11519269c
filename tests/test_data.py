"""The datasets on disk (cifar.py, data.py): reading, validating, downloading; the synthetic set.

Everything runs on small generated fixtures in tmp_path; nothing touches the network.
"""
from __future__ import annotations

import builtins
import dataclasses
import hashlib
import io
import os
import pickle
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

import cifar
import data
from cifar_fixtures import cifar_arrays, dump, make_archive, write_cifar
from errors import UserError

SPECS = [pytest.param(cifar.CIFAR100, id="cifar100"), pytest.param(cifar.CIFAR10, id="cifar10")]


def offline(spec: cifar.CifarSpec, tmp_path: Path) -> cifar.CifarSpec:
    """spec with a URL that cannot be fetched but keeps the official archive name."""
    return dataclasses.replace(spec, url=(tmp_path / "nowhere" / spec.archive).as_uri())


def md5(path: str | Path) -> str:
    """The hex MD5 of a file."""
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def names_path(path: str | Path) -> str:
    """A regex matching the path, for pytest.raises(match=...)."""
    return re.escape(str(path))


@pytest.fixture(autouse=True)
def fresh_cache():
    """load_dataset is lru_cached: a result from one test must not leak into the next."""
    data.load_dataset.cache_clear()
    yield
    data.load_dataset.cache_clear()


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything tries to download."""
    def urlopen(*args, **kwargs):
        raise AssertionError(f"unexpected download of {args[0] if args else kwargs}")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


# ---------------------------------------------------------------------------------------------
# Reading a dataset in the official layout
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("py2", [False, True], ids=["py3-pickle", "py2-pickle"])
@pytest.mark.parametrize("spec", SPECS)
def test_load_cifar_reads_the_official_layout(tmp_path, spec, py2, no_network):
    # py2: the real files come from Python 2, so they name numpy.core and hold byte strings.
    written = write_cifar(tmp_path, spec, n_train=23, n_test=7, seed=1, py2=py2)
    ds = data.load_cifar(offline(spec, tmp_path), str(tmp_path))

    for images, labels, what in ((ds.train_images, ds.train_labels, "train"),
                                 (ds.test_images, ds.test_labels, "test")):
        n = len(written[f"{what}_labels"])
        assert images.shape == (n, 3, 32, 32) and images.dtype == torch.uint8
        assert labels.shape == (n,) and labels.dtype == torch.int64
        assert labels.tolist() == written[f"{what}_labels"].tolist()
        # Index the flat rows with the documented formula rather than a reshape, so that a
        # transposed layout (HWC, or planes in another order) cannot pass.
        i, c, y, x = np.indices((n, 3, 32, 32))
        expected = written[f"{what}_data"][i, c * 1024 + y * 32 + x]
        np.testing.assert_array_equal(images.numpy(), expected)
    assert ds.classes == written["names"]


def test_load_cifar_pixel_order_on_a_known_image(tmp_path, no_network):
    """A hand-made image whose planes differ, checked pixel by pixel against its definition."""
    spec = cifar.CIFAR100
    write_cifar(tmp_path, spec, n_train=2, n_test=1)
    row = np.empty(3072, np.uint8)
    for c in range(3):
        for y in range(32):
            for x in range(32):
                row[c * 1024 + y * 32 + x] = (c * 80 + y * 2 + x * 3) % 256
    path = tmp_path / spec.folder / "train"
    d = pickle.loads(path.read_bytes())
    d["data"] = np.stack([row, row[::-1]])
    dump(path, d)

    img = data.load_cifar(offline(spec, tmp_path), str(tmp_path)).train_images[0]
    for c, y, x in [(0, 0, 0), (0, 0, 31), (0, 31, 0), (1, 5, 7), (2, 31, 31), (2, 10, 20)]:
        assert img[c, y, x].item() == (c * 80 + y * 2 + x * 3) % 256


def test_load_cifar_accepts_bytes_keys(tmp_path, no_network):
    """Pickles re-saved by Python 3 from bytes-keyed dicts still load."""
    spec = cifar.CIFAR100
    written = write_cifar(tmp_path, spec, n_train=4, n_test=2)
    for name in ("train", "test", "meta"):
        path = tmp_path / spec.folder / name
        d = pickle.loads(path.read_bytes())
        dump(path, {k.encode(): v for k, v in d.items()})
    ds = data.load_cifar(offline(spec, tmp_path), str(tmp_path))
    assert ds.train_labels.tolist() == written["train_labels"].tolist()
    assert ds.classes == written["names"]


@pytest.mark.parametrize("spec", SPECS)
def test_class_names_stored_as_bytes_are_decoded(tmp_path, spec, no_network):
    """A re-pickled copy whose batches.meta holds b'airplane' names its classes airplane."""
    written = write_cifar(tmp_path, spec, n_train=5, n_test=2)
    path = tmp_path / spec.folder / spec.meta_file
    d = pickle.loads(path.read_bytes())
    d[spec.names_key] = [n.encode() for n in d[spec.names_key]]
    dump(path, d)
    ds = data.load_cifar(offline(spec, tmp_path), str(tmp_path))
    assert ds.classes == written["names"]


def test_load_cifar_without_download_names_the_folder(tmp_path, no_network):
    with pytest.raises(UserError, match=names_path(tmp_path / cifar.CIFAR100.folder)):
        data.load_cifar(cifar.CIFAR100, str(tmp_path), download=False)


# ---------------------------------------------------------------------------------------------
# load_dataset: subsets and the cache
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def small_cifar100(tmp_path, monkeypatch):
    """A 50/10 CIFAR-100 fixture that load_dataset("cifar100", ...) reads, sized in data.SIZES."""
    written = write_cifar(tmp_path, cifar.CIFAR100, n_train=50, n_test=10, seed=5)
    monkeypatch.setitem(cifar.SPECS, "cifar100", offline(cifar.CIFAR100, tmp_path))
    monkeypatch.setitem(data.SIZES, "cifar100", (50, 10))
    return written


def test_load_dataset_subset_takes_the_first_images(tmp_path, small_cifar100, no_network):
    ds = data.load_dataset("cifar100", str(tmp_path), subset=20)
    assert ds.train_images.shape == (20, 3, 32, 32) and ds.test_images.shape == (4, 3, 32, 32)
    np.testing.assert_array_equal(ds.train_images.reshape(20, -1).numpy(),
                                  small_cifar100["train_data"][:20])
    np.testing.assert_array_equal(ds.test_images.reshape(4, -1).numpy(),
                                  small_cifar100["test_data"][:4])
    assert ds.train_labels.tolist() == small_cifar100["train_labels"][:20].tolist()
    assert ds.test_labels.tolist() == small_cifar100["test_labels"][:4].tolist()
    assert len(ds.classes) == 100


def test_load_dataset_without_subset_is_whole(tmp_path, small_cifar100, no_network):
    ds = data.load_dataset("cifar100", str(tmp_path))
    assert len(ds.train_labels) == 50 and len(ds.test_labels) == 10


def test_load_dataset_tiny_subset_keeps_one_test_image(tmp_path, small_cifar100, no_network):
    ds = data.load_dataset("cifar100", str(tmp_path), subset=3)
    assert len(ds.train_labels) == 3 and len(ds.test_labels) == 1


@pytest.mark.parametrize("subset", [0, -1, 51])
def test_load_dataset_rejects_out_of_range_subset(tmp_path, small_cifar100, no_network, subset):
    with pytest.raises(UserError, match=rf"--subset {subset}\b"):
        data.load_dataset("cifar100", str(tmp_path), subset=subset)


def test_load_dataset_subset_of_synthetic(tmp_path):
    ds = data.load_dataset("synthetic", str(tmp_path / "unused"), subset=50, seed=2)
    assert ds.train_images.shape == (50, 3, 32, 32) and ds.test_images.shape == (10, 3, 32, 32)
    assert not (tmp_path / "unused").exists()  # synthetic must not touch the data folder


# ---------------------------------------------------------------------------------------------
# Damaged files: each refused with a UserError that names the file
# ---------------------------------------------------------------------------------------------

def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _labels_out_of_range(path: Path) -> None:
    d = pickle.loads(path.read_bytes())
    key = "fine_labels" if "fine_labels" in d else "labels"
    d[key][-1] = 100 if key == "fine_labels" else 10
    dump(path, d)


def _negative_label(path: Path) -> None:
    d = pickle.loads(path.read_bytes())
    key = "fine_labels" if "fine_labels" in d else "labels"
    d[key][0] = -1
    dump(path, d)


def _edit(**changes):
    def edit(path: Path) -> None:
        d = pickle.loads(path.read_bytes())
        for key, fn in changes.items():
            d[key] = fn(d[key])
        dump(path, d)
    return edit


DAMAGE = {
    "truncated": _truncate,
    "empty": _empty,
    "label_too_large": _labels_out_of_range,
    "label_negative": _negative_label,
    "data_float": _edit(data=lambda a: a.astype(np.float32)),
    "data_int64": _edit(data=lambda a: a.astype(np.int64)),
    "data_3071_columns": _edit(data=lambda a: a[:, :3071].copy()),
    "data_4d": _edit(data=lambda a: a.reshape(-1, 3, 32, 32)),
    "data_list": _edit(data=lambda a: a.tolist()),
    "not_a_dict": lambda p: dump(p, [1, 2, 3]),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_cifar100_train_file_names_its_path(tmp_path, damage, no_network):
    spec = cifar.CIFAR100
    write_cifar(tmp_path, spec, n_train=12, n_test=4)
    path = tmp_path / spec.folder / "train"
    DAMAGE[damage](path)
    with pytest.raises(UserError, match=names_path(path)):
        data.load_cifar(offline(spec, tmp_path), str(tmp_path))


@pytest.mark.parametrize("damage", ["truncated", "empty", "label_too_large", "data_float"])
def test_damaged_cifar10_batch_names_its_path(tmp_path, damage, no_network):
    spec = cifar.CIFAR10
    write_cifar(tmp_path, spec, n_train=15, n_test=4)
    path = tmp_path / spec.folder / "data_batch_3"
    DAMAGE[damage](path)
    with pytest.raises(UserError, match=names_path(path)):
        data.load_cifar(offline(spec, tmp_path), str(tmp_path))


def test_labels_of_the_wrong_length_name_the_path(tmp_path, no_network):
    spec = cifar.CIFAR100
    write_cifar(tmp_path, spec, n_train=6, n_test=3)
    path = tmp_path / spec.folder / "test"
    _edit(fine_labels=lambda y: y[:-1])(path)
    with pytest.raises(UserError, match=names_path(path)):
        data.load_cifar(offline(spec, tmp_path), str(tmp_path))


def test_missing_labels_name_the_path(tmp_path, no_network):
    spec = cifar.CIFAR100
    write_cifar(tmp_path, spec, n_train=6, n_test=3)
    path = tmp_path / spec.folder / "train"
    d = pickle.loads(path.read_bytes())
    del d["fine_labels"]
    dump(path, d)
    with pytest.raises(UserError, match=names_path(path)):
        data.load_cifar(offline(spec, tmp_path), str(tmp_path))


@pytest.mark.parametrize("names", [["a"] * 99, "not a list", None])
def test_bad_meta_names_its_path(tmp_path, names, no_network):
    spec = cifar.CIFAR100
    write_cifar(tmp_path, spec, n_train=6, n_test=3)
    path = tmp_path / spec.folder / "meta"
    dump(path, {"fine_label_names": names} if names is not None else {})
    with pytest.raises(UserError, match=names_path(path)):
        data.load_cifar(offline(spec, tmp_path), str(tmp_path))


# ---------------------------------------------------------------------------------------------
# Pickles that would run code
# ---------------------------------------------------------------------------------------------

class _Payload:
    """Unpickles by calling `call(arg)`: how a malicious pickle runs code."""

    def __init__(self, call, arg: str) -> None:
        self.call, self.arg = call, arg

    def __reduce__(self):
        return self.call, (self.arg,)


def _payloads(marker: Path) -> dict[str, _Payload]:
    return {
        "os.system": _Payload(os.system, f"touch {shlex.quote(str(marker))}"),
        "builtins.eval": _Payload(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
    }


@pytest.mark.parametrize("call", ["os.system", "builtins.eval"])
@pytest.mark.parametrize("file", ["train", "test", "meta"])
def test_pickle_with_code_is_refused_without_running(tmp_path, call, file, no_network):
    spec = cifar.CIFAR100
    write_cifar(tmp_path, spec, n_train=4, n_test=2)
    path = tmp_path / spec.folder / file
    marker = tmp_path / "payload_ran"
    d = pickle.loads(path.read_bytes())
    d["filenames" if file != "meta" else "coarse_label_names"] = _payloads(marker)[call]
    dump(path, d)

    with pytest.raises(UserError, match=names_path(path)):
        data.load_cifar(offline(spec, tmp_path), str(tmp_path))
    assert not marker.exists()


def test_payload_pickle_is_live(tmp_path):
    """The payloads above do run under a plain pickle.load, so their refusal is what protects us."""
    marker = tmp_path / "payload_ran"
    for payload in _payloads(marker).values():
        pickle.load(io.BytesIO(pickle.dumps({"x": payload}, protocol=2)))
        assert marker.exists()
        marker.unlink()


# ---------------------------------------------------------------------------------------------
# Download, verification and extraction
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path):
    """An official-looking CIFAR-100 archive in a 'server' folder, and a spec that points to it."""
    server = tmp_path / "server"
    server.mkdir()
    archive = make_archive(server, cifar.CIFAR100, n_train=20, n_test=10, seed=7)
    spec = dataclasses.replace(cifar.CIFAR100, url=Path(archive).as_uri(), md5=md5(archive))
    return spec, archive


def test_download_verifies_extracts_and_loads(tmp_path, served):
    spec, archive = served
    root = tmp_path / "data"
    ds = data.load_cifar(spec, str(root))

    expected = cifar_arrays(cifar.CIFAR100, 20, 10, seed=7)
    assert ds.train_labels.tolist() == expected["train_labels"].tolist()
    np.testing.assert_array_equal(ds.test_images.reshape(10, -1).numpy(), expected["test_data"])
    assert ds.classes == expected["names"]
    assert (root / spec.archive).read_bytes() == Path(archive).read_bytes()
    assert {p.name for p in (root / spec.folder).iterdir()} == {"train", "test", "meta"}
    assert not list(root.glob("*.part"))


def test_download_works_through_data_specs(tmp_path, served, monkeypatch):
    spec, _ = served
    monkeypatch.setitem(cifar.SPECS, "cifar100", spec)
    monkeypatch.setitem(data.SIZES, "cifar100", (20, 10))
    ds = data.load_dataset("cifar100", str(tmp_path / "data"), subset=10)
    assert len(ds.train_labels) == 10 and len(ds.test_labels) == 2


def test_second_load_does_not_download_again(tmp_path, served, monkeypatch):
    spec, _ = served
    root = tmp_path / "data"
    data.load_cifar(spec, str(root))

    def urlopen(*args, **kwargs):
        raise AssertionError("downloaded although the folder is there")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    assert len(data.load_cifar(spec, str(root)).train_labels) == 20


def test_download_with_wrong_md5_is_refused(tmp_path, served):
    spec, _ = served
    root = tmp_path / "data"
    spec = dataclasses.replace(spec, md5="0" * 32)
    with pytest.raises(UserError, match="MD5") as info:
        data.load_cifar(spec, str(root))
    assert str(root / spec.archive) in str(info.value)
    assert not (root / spec.folder).exists()  # nothing unverified was extracted


def test_archive_in_root_is_verified_and_extracted_without_download(tmp_path, no_network):
    root = tmp_path / "data"
    root.mkdir()
    archive = make_archive(root, cifar.CIFAR10, n_train=10, n_test=5, seed=4)
    spec = dataclasses.replace(offline(cifar.CIFAR10, tmp_path), md5=md5(archive))

    ds = data.load_cifar(spec, str(root))
    expected = cifar_arrays(cifar.CIFAR10, 10, 5, seed=4)
    assert ds.train_labels.tolist() == expected["train_labels"].tolist()
    assert (root / spec.folder / "data_batch_5").is_file()


def test_damaged_archive_in_root_is_refused(tmp_path, no_network):
    root = tmp_path / "data"
    root.mkdir()
    archive = make_archive(root, cifar.CIFAR100, n_train=4, n_test=2)
    spec = dataclasses.replace(offline(cifar.CIFAR100, tmp_path), md5=md5(archive))
    raw = Path(archive).read_bytes()
    Path(archive).write_bytes(raw[:len(raw) // 2])
    with pytest.raises(UserError, match=names_path(archive)):
        data.load_cifar(spec, str(root))


def test_offline_without_archive_explains_what_to_do(tmp_path):
    spec = offline(cifar.CIFAR100, tmp_path)
    root = tmp_path / "data"
    with pytest.raises(UserError) as info:
        data.load_cifar(spec, str(root))
    message = str(info.value)
    assert str(root / spec.folder) in message
    assert spec.archive in message
    assert cifar.QUICK_START in message and cifar.MIRROR_VARIABLE in message
    assert not root.exists()  # nothing is created before the network answers


def test_a_mirror_named_by_the_environment_is_downloaded_from_and_md5_checked(
        tmp_path, served, monkeypatch):
    spec, archive = served
    official = dataclasses.replace(spec, url="http://127.0.0.1:9/" + spec.archive)  # unreachable
    monkeypatch.setenv(cifar.MIRROR_VARIABLE, Path(archive).parent.as_uri() + "/")
    ds = data.load_cifar(official, str(tmp_path / "data"))
    assert len(ds.train_labels) == 20
    assert (tmp_path / "data" / spec.archive).read_bytes() == Path(archive).read_bytes()
    with pytest.raises(UserError, match="not the published"):  # a mirror's file is checked too
        data.load_cifar(dataclasses.replace(official, md5="0" * 32), str(tmp_path / "other"))
    monkeypatch.setenv(cifar.MIRROR_VARIABLE, (tmp_path / "nowhere").as_uri())
    with pytest.raises(UserError, match=f"from {re.escape((tmp_path / 'nowhere').as_uri())}/"):
        data.load_cifar(official, str(tmp_path / "third"))


def test_download_failing_midway_leaves_no_part_file(tmp_path, monkeypatch):
    """A connection dropped after some bytes: the partial file is removed, not kept."""
    class Dropped(io.BytesIO):
        headers = {"Content-Length": "1000"}

        def read(self, n=-1):
            if self.tell():
                raise ConnectionResetError("connection reset by peer")
            return super().read(100)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Dropped(b"x" * 1000))
    spec = dataclasses.replace(cifar.CIFAR100, url="http://127.0.0.1:9/cifar-100-python.tar.gz")
    root = tmp_path / "data"
    with pytest.raises(UserError, match="--dataset synthetic"):
        data.load_cifar(spec, str(root))
    assert sorted(os.listdir(root)) == [f".{spec.archive}.lock"]  # the download lock, empty


# The lock's test: a process that loads CIFAR-100 from the served archive once the test says go,
# noting each read of the download, slow enough that the other process asks for the data meanwhile.
FETCH_TWICE = """
import os, sys, time, urllib.request
sys.path.insert(0, sys.argv[1])
import dataclasses, cifar, data
url, md5, root, go, count = sys.argv[2:]
real = urllib.request.urlopen
def counted(*args, **kwargs):
    response = real(*args, **kwargs)
    read = response.read
    def noted(*a):
        time.sleep(1.5)
        with open(count, "a") as f:
            f.write(f"{os.getpid()}\\n")
        return read(*a)
    response.read = noted
    return response
urllib.request.urlopen = counted
spec = dataclasses.replace(cifar.CIFAR100, url=url, md5=md5)
open(f"{go}.{os.getpid()}", "w").close()  # ready
while not os.path.exists(go):
    time.sleep(0.01)
ds = data.load_cifar(spec, root)
print(len(ds.train_labels), int(ds.train_labels.sum()))
"""


def test_two_processes_needing_cifar_at_once_download_it_once(tmp_path, served):
    spec, archive = served
    root, go, count = tmp_path / "data", tmp_path / "go", tmp_path / "downloads"
    args = [sys.executable, "-c", FETCH_TWICE, str(Path(__file__).parent.parent), spec.url,
            spec.md5, str(root), str(go), str(count)]
    both = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # both are past their imports: they ask for the data at the same moment
    results = [p.communicate(timeout=120) for p in both]
    assert [p.returncode for p in both] == [0, 0], results
    assert len(set(count.read_text().splitlines())) == 1  # one downloads; the other waited
    assert results[0][0] == results[1][0] == "20 " + results[0][0].split()[1] + "\n"
    assert any("waiting for another process to fetch CIFAR-100" in err for _, err in results)
    assert (root / spec.archive).read_bytes() == Path(archive).read_bytes()


# ---------------------------------------------------------------------------------------------
# The synthetic dataset
# ---------------------------------------------------------------------------------------------

def test_synthetic_is_deterministic_in_its_seed():
    a, b = data.synthetic(200, 40, seed=3), data.synthetic(200, 40, seed=3)
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    c = data.synthetic(200, 40, seed=4)
    assert not torch.equal(a.train_images, c.train_images)
    assert not torch.equal(a.train_labels, c.train_labels)
    assert not torch.equal(a.test_images, c.test_images)


def test_synthetic_shapes_dtypes_and_classes():
    ds = data.synthetic(1000, 300, seed=0)
    assert ds.train_images.shape == (1000, 3, 32, 32) and ds.train_images.dtype == torch.uint8
    assert ds.test_images.shape == (300, 3, 32, 32) and ds.test_images.dtype == torch.uint8
    assert ds.train_labels.shape == (1000,) and ds.train_labels.dtype == torch.int64
    assert ds.test_labels.shape == (300,) and ds.test_labels.dtype == torch.int64
    assert set(ds.train_labels.tolist()) == set(range(100))
    assert 0 <= ds.test_labels.min() and ds.test_labels.max() < 100
    assert len(ds.classes) == 100
    # Images are not constant: a dataset of flat grey squares would teach nothing.
    assert ds.train_images.float().std() > 10


def test_synthetic_respects_num_classes():
    ds = data.synthetic(50, 10, seed=0, num_classes=10)
    assert set(ds.train_labels.tolist()) == set(range(10)) and len(ds.classes) == 10
