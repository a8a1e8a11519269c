"""What several test modules share: running main.py as a user would, small steps, reading runs back."""
import builtins
import contextlib
import csv
import dataclasses
import errno
import hashlib
import os
import subprocess
import sys

from experiments import load_experiment, resolve_path
from models import SimpleCNN

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, cwd=ROOT, script="main.py"):
    """Run main.py (or another script of the kit) as a user would, in a fresh process."""
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def one_line_error(result):
    """The one error line of a refused command: exit code 2, no traceback; returns the line."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def config(step, tmp_path, **changes):
    """A step's experiment and its config on 256 synthetic images, one epoch, on the CPU."""
    exp = load_experiment(resolve_path(step))
    cfg = dataclasses.replace(exp.config, dataset="synthetic", subset=256, epochs=1,
                              device="cpu", out=str(tmp_path / "runs"), pretrained=False)
    return exp, dataclasses.replace(cfg, **changes)


def small(exp):
    """The experiment with a narrow CNN that keeps dropout: the loop is under test, not the size."""
    return dataclasses.replace(exp, model=lambda cfg: SimpleCNN(widths=(8, 8, 8, 16), fc_units=64,
                                                                dropout=0.5))


def read_metrics(run_dir):
    """metrics.csv as a list of rows of strings, as csv reads them."""
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def table_rows(text):
    """The rows of the Markdown results tables in text, as {step: cells}; a table split by
    figure (main.py's end-of-command tables) has its parts joined, the step once."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] != "step":
                rows[cells[0]] = rows[cells[0]] + cells[1:] if cells[0] in rows else cells
    return rows


def drawn_figures():
    """A context in which every figure saved is read back as drawn, {path: what it shows}.

    Read from the matplotlib figure itself just after it is saved (its layout done), not from the
    PNG: its title, footnote, every text, and per axes the epoch ticks in view, the offset text
    and whether a legend covers the axes' frame.
    """
    import contextlib

    from matplotlib.figure import Figure

    seen = {}
    real = Figure.savefig

    def spy(fig, path, *args, **kwargs):
        real(fig, path, *args, **kwargs)
        # plotting.save writes into atomic.replacing's open "<path>.tmp": key it by the final path
        opened = not isinstance(path, (str, os.PathLike))
        seen[str(path.name).removesuffix(".tmp") if opened else str(path)] = _read_back(fig)

    @contextlib.contextmanager
    def patched():
        Figure.savefig = spy
        try:
            yield seen
        finally:
            Figure.savefig = real

    return patched()


def _read_back(fig):
    from matplotlib.text import Text

    fig.canvas.draw()  # at the figure's own dpi again: savefig drew at its own
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    frames = [ax.get_window_extent(renderer) for ax in fig.axes if ax.axison]  # not a legend's row
    axes = []
    for ax in fig.axes:
        low, high = sorted(ax.get_xlim())
        axes.append({
            "title": ax.get_title(),
            "xlabel": ax.get_xlabel(),
            "xticks": [float(t) for t in ax.get_xticks() if low <= t <= high],
            "offsets": [ax.xaxis.get_offset_text().get_text(), ax.yaxis.get_offset_text().get_text()],
        })
    return {
        "title": fig.get_suptitle(),
        "footnote": fig.get_supxlabel(),
        "text": "\n".join(t.get_text() for t in fig.findobj(Text)),
        "axes": axes,
        "legend_over_data": any(legend.get_window_extent(renderer).overlaps(frame)
                                for legend in legends for frame in frames),
    }
def error_line(err):
    """The one line an in-process refusal printed on stderr (no traceback); returns it."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def files(folder):
    """Every file under folder with its hash and modification time, and each folder's entries:
    equal before and after a command, the command changed nothing there."""
    seen = {}
    for here, dirs, names in os.walk(folder):
        seen[os.path.relpath(here, folder)] = sorted(dirs + names)
        for name in names:
            path = os.path.join(here, name)
            with open(path, "rb") as f:
                seen[os.path.relpath(path, folder)] = (hashlib.sha256(f.read()).hexdigest(),
                                                       os.stat(path).st_mtime_ns)
    return seen


class _NoSpace:
    """A file opened for writing on a full disk: opening works (and truncates), writing fails."""

    def __init__(self, f):
        self.f = f

    def write(self, *args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@contextlib.contextmanager
def full_disk(monkeypatch, under):
    """Within the block, every file opened for writing below the folder `under` cannot be written
    (ENOSPC), as on a full disk; open() still creates or truncates it, as the system's does."""
    real_open = builtins.open

    def opened(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        writes = any(c in mode for c in "wax+")
        return _NoSpace(f) if writes and str(file).startswith(str(under)) else f

    with monkeypatch.context() as mp:
        mp.setattr(builtins, "open", opened)
        yield
