"""What a clone holds and installs: every module in pyproject.toml, the pins CI tests within its
ranges, nothing that points outside the repository, and the kit naming its own commit."""
import os
import re
import subprocess

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import kit
from helpers import ROOT

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")


def tracked(pattern="*"):
    """The tracked files of the checkout (every file below the root outside a git checkout)."""
    files = subprocess.run(["git", "ls-files", pattern], cwd=ROOT, capture_output=True,
                           text=True).stdout.split()
    return files or [os.path.relpath(os.path.join(d, f), ROOT)
                     for d, _, fs in os.walk(ROOT) if ".git" not in d for f in fs]


@pytest.fixture(scope="module")
def project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_pyproject_installs_every_module_and_package_of_the_kit(project):
    files = [f for f in tracked("*.py") if not f.startswith("tests/")]
    modules = {f[:-3] for f in files if "/" not in f}
    packages = {os.path.dirname(f).replace("/", ".") for f in files if f.endswith("/__init__.py")}
    setup = project["tool"]["setuptools"]
    assert set(setup["py-modules"]) == modules
    assert set(setup["packages"]) == packages


def test_the_pins_ci_tests_lie_within_the_declared_ranges(project):
    pins = {}
    with open(os.path.join(ROOT, "constraints.txt"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, version = line.strip().split("==")
                pins[canonicalize_name(name)] = version
    extras = project["project"]["optional-dependencies"]
    declared = project["project"]["dependencies"] + [
        r for name, reqs in extras.items() if name != "all" for r in reqs]
    for text in declared:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared but constraints.txt does not pin it"
        assert req.specifier.contains(pins[name]), (text, pins[name])
    assert Requirement(extras["all"][0]).extras == set(extras) - {"all"}


def test_no_tracked_file_points_at_files_outside_the_repository():
    outside = re.compile(r"\.\./shared|/work/|reports-001-004\.md")
    found = []
    for path in tracked():
        try:
            with open(os.path.join(ROOT, path), encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, FileNotFoundError):  # images; a file deleted but not staged
            continue
        if path != "tests/test_install.py":
            found += [f"{path}: {m.group()}" for m in outside.finditer(text)]
    assert not found


def test_the_kit_names_its_commit_and_its_local_changes(tmp_path):
    assert kit.git_state(str(tmp_path)) == {
        "commit": None, "local_changes": None,
        "note": "not a git checkout (or git is not installed): the commit is unknown"}

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c",
                               "user.email=t@t", *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "main.py").write_text("print(1)\n")
    git("add", "main.py")
    git("commit", "-q", "-m", "one")
    commit = git("rev-parse", "HEAD")
    (tmp_path / "runs").mkdir()  # untracked: a run's output is not a change to the kit
    (tmp_path / "runs" / "x.txt").write_text("x")
    assert kit.git_state(str(tmp_path)) == {"commit": commit, "local_changes": False}
    (tmp_path / "main.py").write_text("print(2)\n")
    assert kit.git_state(str(tmp_path)) == {"commit": commit, "local_changes": True}
    assert kit.text({"commit": commit, "local_changes": True}) == \
        f"kit {commit[:7]} with local changes"
    assert kit.text(kit.git_state(str(tmp_path / "runs"))).startswith(f"kit {commit[:7]}")
