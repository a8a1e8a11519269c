"""Every number the kit reports, checked against a computation written here, and the NaN guard.

evaluate and train_one_epoch against hand-computed cross-entropy; metrics.csv, checkpoint.pt,
best.pt and summary.json against a plain evaluation loop over an independently recomputed split;
the random ops' draw statistics at several probabilities; non-finite losses and weights never saved.
"""
import csv
import dataclasses
import json
import math

import pytest
import torch
from torch import nn
from torchvision.transforms import v2

import augment
import data
import main
import optimizers
import train
from errors import TrainingError, UserError
from config import check_config
from helpers import config, read_metrics, small

# ---- evaluate and train_one_epoch against a hand computation --------------------------------------

# Ten images in batches of 4, 4 and 2 (a short last one); each "image" is its own index, and the
# model returns this table's row for it: fixed logits over 3 classes.
LOGITS = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.5, 0.0], [0.5, 0.0, 0.0],
          [0.0, 2.5, 0.0], [0.0, 0.0, 0.2], [1.0, 0.0, 4.0], [0.0, 0.0, 9.0], [7.0, 0.0, 0.0]]
LABELS = [0, 1, 1, 0, 0, 1, 2, 0, 1, 0]  # argmax hits images 0, 1, 4, 5, 6, 9: 6 of 10, not half
BATCHES = [(0, 4), (4, 8), (8, 10)]


def hand_loss(i):
    """-log softmax(LOGITS[i])[LABELS[i]], in plain Python."""
    row = LOGITS[i]
    return math.log(sum(math.exp(v) for v in row)) - row[LABELS[i]]


HAND_LOSS = sum(hand_loss(i) for i in range(10)) / 10  # the mean over images, not over batches
HAND_ACCURACY = 60.0


class Table(nn.Module):
    """Fixed logits per image index; records the mode of every call."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))  # something for the optimizer to hold
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return torch.tensor(LOGITS)[x.long()] * self.scale


def loader():
    x, y = torch.arange(10), torch.tensor(LABELS)
    return [(x[a:b], y[a:b]) for a, b in BATCHES]


def test_evaluate_gives_the_hand_computed_loss_and_accuracy_in_eval_mode():
    model = Table()
    model.train()
    result = train.evaluate(model, loader(), torch.device("cpu"))
    assert result["loss"] == pytest.approx(HAND_LOSS, rel=1e-6)
    assert result["accuracy"] == HAND_ACCURACY
    assert model.modes == [False] * 3


def test_evaluate_counts_the_confusion_matrix_of_every_batch():
    result = train.evaluate(Table(), loader(), torch.device("cpu"))
    hand = [[0] * 3 for _ in range(3)]
    for row, label in zip(LOGITS, LABELS):
        hand[label][row.index(max(row))] += 1
    assert result["confusion"].tolist() == hand
    assert sum(hand[i][i] for i in range(3)) == 6  # the hand accuracy's 6 of 10


def test_evaluate_reads_the_device_once_per_figure_whatever_the_batches(monkeypatch):
    """The confusion matrix adds no read per batch: loss and accuracy are the only two."""
    reads = []
    item = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda t: reads.append(1) or item(t))
    for name in ("tolist", "cpu", "numpy", "__bool__", "__int__", "__float__"):
        monkeypatch.setattr(torch.Tensor, name, lambda t, *a, **k: pytest.fail("a device read"))
    train.evaluate(Table(), loader(), torch.device("cpu"))
    assert len(reads) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to count host syncs")
def test_evaluate_syncs_with_the_gpu_only_to_read_its_two_sums():
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10)).cuda()
    batches = [(torch.rand(16, 3, 8, 8, device="cuda"), torch.randint(0, 10, (16,), device="cuda"))
               for _ in range(5)]
    item, reads = torch.Tensor.item, []
    torch.cuda.set_sync_debug_mode("error")  # any other sync raises
    try:
        with pytest.MonkeyPatch.context() as mp:
            def counted(t):
                reads.append(1)
                torch.cuda.set_sync_debug_mode(0)
                try:
                    return item(t)
                finally:
                    torch.cuda.set_sync_debug_mode("error")
            mp.setattr(torch.Tensor, "item", counted)
            result = train.evaluate(model, batches, torch.device("cuda"))
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert len(reads) == 2 and int(result["confusion"].sum()) == 80


def test_train_one_epoch_weighs_each_image_once_and_trains_in_train_mode():
    model = Table()
    model.eval()
    # lr 0: the weights stay as they are, so every batch's loss is the table's.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    # A mean of the batch means would differ: the short batch's two images weigh as much as four.
    batch_means = [sum(hand_loss(i) for i in range(a, b)) / (b - a) for a, b in BATCHES]
    assert abs(sum(batch_means) / 3 - HAND_LOSS) > 0.3
    result = train.train_one_epoch(model, loader(), optimizer, torch.device("cpu"), "test")
    assert result["loss"] == pytest.approx(HAND_LOSS, rel=1e-6)
    assert result["accuracy"] == HAND_ACCURACY
    assert result["first_bad_batch"] == -1
    assert model.modes == [True] * 3


@pytest.mark.parametrize("bad, batch", [(float("nan"), 0), (float("inf"), 0), (float("inf"), 2)])
def test_train_one_epoch_names_the_first_non_finite_batch(bad, batch):
    model = Table()
    # inf in a wrong class's logit makes that image's loss inf (not NaN): inf is caught too.
    LOGITS_BAD = [row[:] for row in LOGITS]
    a, _ = BATCHES[batch]
    wrong = (LABELS[a] + 1) % 3
    LOGITS_BAD[a][wrong] = bad
    model.forward = lambda x: torch.tensor(LOGITS_BAD)[x.long()] * model.scale
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    result = train.train_one_epoch(model, loader(), optimizer, torch.device("cpu"), "test")
    assert result["first_bad_batch"] == batch
    assert not math.isfinite(result["loss"])


# ---- end to end: the saved weights give the numbers metrics.csv and summary.json hold ------------

def plain_evaluate(model, images, labels, transform):
    """Mean loss and accuracy (%) of model on uint8 images, one image transformed at a time."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for a in range(0, len(labels), 16):
            x = torch.stack([transform(img) for img in images[a:a + 16]])
            logits = model(x)
            y = labels[a:a + 16]
            loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum())
    return loss / len(labels), 100 * correct / len(labels)


def tiny(cfg):
    """Batch norm and dropout, so that a figure taken in train mode differs from eval mode's."""
    return nn.Sequential(nn.Conv2d(3, 8, 5, stride=2), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 7 * 7, cfg.num_classes))


def test_saved_weights_give_the_reported_test_and_validation_figures(tmp_path):
    exp, cfg = config("001-A", tmp_path, subset=400, epochs=3, batch_size=32, lr=0.02,
                      val_split="last", val_size=10000, num_classes=10)
    exp = dataclasses.replace(exp, model=tiny)
    result = train.run(train.prepare(exp, cfg))
    run_dir = tmp_path / "runs" / "001-A"
    rows = read_metrics(run_dir)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert list(rows[0]) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                             "test_loss", "test_accuracy", "seconds"]

    # The data as a user would take it: the subset's first 400 training images, of which "last"
    # holds out the last 10,000 / 50,000 = 20%, and the first 400 / 5 test images.
    ds = data.load_dataset("synthetic", cfg.data_dir, 400, cfg.seed, cfg.num_classes)
    assert len(ds.train_labels) == 400 and len(ds.test_labels) == 80
    val_images, val_labels = ds.train_images[320:], ds.train_labels[320:]
    figures = lambda m: (plain_evaluate(m, ds.test_images, ds.test_labels, exp.test_transform),  # noqa: E731
                         plain_evaluate(m, val_images, val_labels, exp.test_transform))

    def check(row, weights):
        model = exp.model(cfg)
        model.load_state_dict(weights)
        (test_loss, test_acc), (val_loss, val_acc) = figures(model)
        assert float(row["test_loss"]) == pytest.approx(test_loss, rel=1e-4)
        assert float(row["test_accuracy"]) == pytest.approx(test_acc, abs=1e-3)
        assert float(row["val_loss"]) == pytest.approx(val_loss, rel=1e-4)
        assert float(row["val_accuracy"]) == pytest.approx(val_acc, abs=1e-3)
        return test_loss, test_acc

    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 3
    check(rows[-1], ckpt["model"])
    assert result["test_accuracy"] == pytest.approx(float(rows[-1]["test_accuracy"]), abs=1e-3)

    best = torch.load(run_dir / "best.pt", weights_only=True)
    best_row = max(rows, key=lambda r: float(r["val_accuracy"]))  # the first of the highest
    assert best["epoch"] == int(best_row["epoch"])
    best_loss, best_acc = check(best_row, best["model"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_epoch"] == best["epoch"]
    assert summary["best_test_accuracy"] == pytest.approx(best_acc, abs=1e-9)
    assert summary["best_test_loss"] == pytest.approx(best_loss, rel=1e-4)


@pytest.mark.parametrize("keep", ["last", "best"])
def test_confusion_csv_counts_the_kept_weights_on_the_whole_test_set(tmp_path, keep):
    exp, cfg = config("001-A", tmp_path, subset=200, epochs=3, batch_size=32, lr=0.05,
                      val_split="last", val_size=10000, num_classes=10, keep=keep)
    exp = dataclasses.replace(exp, model=tiny)
    train.run(train.prepare(exp, cfg))
    run_dir = tmp_path / "runs" / "001-A"
    ds = data.load_dataset("synthetic", cfg.data_dir, 200, cfg.seed, cfg.num_classes)

    def predictions(weights_file):
        model = exp.model(cfg)
        model.load_state_dict(torch.load(run_dir / weights_file, weights_only=True)["model"])
        model.eval()
        with torch.no_grad():
            return model(torch.stack([exp.test_transform(i) for i in ds.test_images])).argmax(1)

    predicted = predictions("best.pt" if keep == "best" else "checkpoint.pt")
    # The best epoch (2) is not the last (3) and predicts otherwise: the two cases differ here.
    assert not torch.equal(predictions("best.pt"), predictions("checkpoint.pt"))
    hand = [[0] * 10 for _ in range(10)]
    for y, p in zip(ds.test_labels.tolist(), predicted.tolist()):
        hand[y][p] += 1
    with open(run_dir / "confusion.csv", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["true \\ predicted", *ds.classes] and [r[0] for r in rows] == ds.classes
    assert [[int(c) for c in r[1:]] for r in rows] == hand
    summary = json.loads((run_dir / "summary.json").read_text())
    assert list(summary["per_class_accuracy"]) == ds.classes
    for name, row, k in zip(ds.classes, hand, range(10)):
        expected = 100 * row[k] / sum(row) if sum(row) else None
        assert summary["per_class_accuracy"][name] == pytest.approx(expected)
    kept_accuracy = summary["best_test_accuracy"] if keep == "best" else \
        float(read_metrics(run_dir)[-1]["test_accuracy"])
    assert 100 * sum(hand[k][k] for k in range(10)) / len(ds.test_labels) == \
        pytest.approx(kept_accuracy, abs=1e-3)
    png = (run_dir / "confusion.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


# ---- draw statistics of the random ops, at several probabilities and ranges ------------------

@pytest.mark.parametrize("p", [0.1, 0.3, 0.9])
def test_flip_flips_a_share_p_of_the_images(p):
    n = 20000
    op = augment.batched_op(v2.RandomHorizontalFlip(p))
    batch = torch.tensor([0, 1], dtype=torch.uint8).expand(n, 1, 1, 2).clone()  # 0 left, 1 right
    out = op.apply(batch, op.sample(batch, torch.Generator().manual_seed(0)))
    flipped = out[:, 0, 0, 0] == 1
    assert flipped.float().mean().item() == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize("size, padding, rows, cols", [(32, 4, 9, 9), ((24, 28), None, 9, 5)])
def test_crop_offsets_cover_their_range_evenly(size, padding, rows, cols):
    n = 18000
    op = augment.batched_op(v2.RandomCrop(size, padding=padding))
    params = op.sample(torch.zeros(n, 3, 32, 32, dtype=torch.uint8), torch.Generator().manual_seed(0))
    for offsets, k in ((params["top"], rows), (params["left"], cols)):
        counts = torch.bincount(offsets, minlength=k)
        assert len(counts) == k  # 0..k-1, nothing beyond
        assert ((counts - n / k).abs() < 5 * math.sqrt(n / k)).all(), counts


# ---- non-finite values: refused at the command line, never saved -------------------------------

@pytest.mark.parametrize("args", [["--lr", "nan"], ["--lr", "inf"], ["--lr", "-inf"],
                                  ["--set", "momentum=nan"], ["--set", "weight_decay=inf"],
                                  ["--set", "lr_decay=-inf"]])
def test_non_finite_options_are_refused_in_one_line(args, capsys):
    try:
        code = main.main(["CNN2", "--summary", *args])
    except SystemExit as e:  # argparse's own exit, for --lr
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]


def test_non_finite_options_set_in_code_are_refused(tmp_path):
    for key in ("lr", "momentum", "weight_decay", "lr_decay", "min_delta"):
        for bad in (float("nan"), float("inf")):
            exp, cfg = config("CNN2", tmp_path, **{key: bad})
            with pytest.raises(UserError, match=f"{key} {bad} must be a finite number"):
                check_config(cfg)


def all_finite(weights):
    return all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())


class BreaksAtStep(torch.optim.SGD):
    """SGD whose step number `at` writes inf into every weight: --lr inf, on one chosen step."""

    at = 2

    def step(self, closure=None):
        super().step(closure)
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == self.at:
            with torch.no_grad():
                for group in self.param_groups:
                    for p in group["params"]:
                        p.fill_(float("inf"))


@pytest.mark.parametrize("at, message", [
    (1, "weights became non-finite at epoch 1 .*no epoch had finished, so nothing was saved"),
    (2, "weights became non-finite at epoch 2 .*the checkpoint of epoch 1 is kept"),
])
def test_a_step_that_breaks_the_weights_stops_the_run_before_saving(tmp_path, monkeypatch, at, message):
    # One batch per epoch: the step that breaks the weights is the epoch's last, so no training
    # loss after it ever shows the damage.
    monkeypatch.setattr(BreaksAtStep, "at", at)
    monkeypatch.setitem(optimizers.OPTIMIZERS, "sgd",
                        lambda params, cfg, fused: BreaksAtStep(params, lr=cfg.lr))
    exp, cfg = config("CNN2", tmp_path, subset=64, batch_size=64, epochs=3, optimizer="sgd",
                      val_split="last", val_size=10000)
    with pytest.raises(TrainingError, match=message):
        train.run(train.prepare(small(exp), cfg))
    run_dir = tmp_path / "runs" / "CNN2"
    assert all_finite(torch.load(run_dir / "best.pt", weights_only=True)["model"])
    if at == 1:
        assert not (run_dir / "checkpoint.pt").exists()
    else:
        ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
        assert ckpt["epoch"] == 1 and all_finite(ckpt["model"])
        assert [r["epoch"] for r in read_metrics(run_dir)] == ["1"]


class NanInEvaluation(nn.Module):
    """A linear model whose evaluations from call `at` on give NaN logits, the weights intact."""

    def __init__(self, at):
        super().__init__()
        self.layer = nn.Linear(3 * 32 * 32, 100)
        self.at, self.calls = at, 0

    def forward(self, x):
        out = self.layer(x.flatten(1))
        if not self.training:
            self.calls += 1
            if self.calls >= self.at:
                return out * float("nan")
        return out


@pytest.mark.parametrize("val_split, at, message", [
    # One validation batch and one test batch per epoch; the check at the start is one more call.
    ("last", 4, "val loss nan and test loss nan at epoch 2; stopped, the checkpoint of epoch 1"),
    ("none", 3, "test loss nan at epoch 2; stopped, the checkpoint of epoch 1"),
])
def test_a_non_finite_evaluation_stops_the_run_and_saves_nothing_of_it(tmp_path, val_split, at,
                                                                       message):
    exp, cfg = config("CNN2", tmp_path, subset=64, batch_size=64, epochs=3,
                      val_split=val_split, val_size=10000 if val_split != "none" else 0)
    exp = dataclasses.replace(exp, model=lambda cfg: NanInEvaluation(at))
    with pytest.raises(TrainingError, match=message):
        train.run(train.prepare(exp, cfg))
    run_dir = tmp_path / "runs" / "CNN2"
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 1
    rows = read_metrics(run_dir)
    assert [r["epoch"] for r in rows] == ["1"] and math.isfinite(float(rows[0]["test_loss"]))
    if val_split != "none":
        assert torch.load(run_dir / "best.pt", weights_only=True)["epoch"] in (0, 1)


def test_nan_in_the_very_first_training_batch_is_caught(tmp_path):
    exp, cfg = config("CNN2", tmp_path, subset=128, batch_size=64)

    class NanFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(3 * 32 * 32, 100)

        def forward(self, x):
            out = self.layer(x.flatten(1))
            return out * float("nan") if self.training else out

    exp = dataclasses.replace(exp, model=lambda cfg: NanFirst())
    with pytest.raises(TrainingError, match=r"became nan at epoch 1, batch 1; stopped, no epoch"):
        train.run(train.prepare(exp, cfg))
