"""The report's figures, drawn from a run's per-epoch metrics."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: runs happen on servers without a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

TRAIN_STYLE = {"color": "tab:blue", "linestyle": "-", "marker": "o", "markersize": 3}
TEST_STYLE = {"color": "tab:orange", "linestyle": "--", "marker": "s", "markersize": 3}


def plot_loss_accuracy(history: list[dict[str, float]], step: str, path: str) -> None:
    """The step's loss and accuracy per epoch, train and test side by side, saved as a PNG."""
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, key, label in ((ax_loss, "loss", "cross-entropy loss (per image)"),
                           (ax_acc, "accuracy", "accuracy (%)")):
        ax.plot(epochs, [r[f"train_{key}"] for r in history], label="train", **TRAIN_STYLE)
        ax.plot(epochs, [r[f"test_{key}"] for r in history], label="test", **TEST_STYLE)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    last = history[-1]
    fig.suptitle(f"{step}: after {len(history)} epochs, train loss {last['train_loss']:.3f}, "
                 f"test accuracy {last['test_accuracy']:.1f}%")
    fig.savefig(path, dpi=150)
    plt.close(fig)
