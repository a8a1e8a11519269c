"""Faults and bad input: Ctrl-C, SIGKILL, changed options on resume, full disks, OOM, bad data."""
import dataclasses
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import run_folder
from run_folder import lock, writer
import cifar
import data
import main
import plotting
import train
from errors import Interrupted, TrainingError, UserError
from cifar_fixtures import write_cifar
from helpers import ROOT, cli, config, error_line, full_disk, one_line_error, read_metrics, small


def same_metrics(a, b):
    """Two metrics.csv row lists equal in everything but the seconds each epoch took."""
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    return drop(a) == drop(b)


def small_cnn5b(tmp_path, **changes):
    """CNN5b narrowed: dropout and random crops, so both torch's and the loader's RNG matter."""
    exp, cfg = config("CNN5b", tmp_path, batch_size=32, **changes)
    return small(exp), cfg


@pytest.fixture(scope="module")
def _finished_once(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("finished")
    train.run(train.prepare(*small_cnn5b(tmp, subset=32)))
    return tmp / "runs" / "CNN5b"


@pytest.fixture
def finished(_finished_once, tmp_path):
    """small_cnn5b on 32 images after its one epoch, in tmp_path (trained once, copied per test)."""
    shutil.copytree(_finished_once, tmp_path / "runs" / "CNN5b")
    return small_cnn5b(tmp_path, subset=32)


# ---- Ctrl-C ---------------------------------------------------------------------------------

def test_ctrl_c_keeps_the_last_epoch_and_resume_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    exp, cfg = small_cnn5b(tmp_path, epochs=2)
    train.run(train.prepare(exp, dataclasses.replace(cfg, out=str(tmp_path / "whole"))))

    real_step, calls = torch.optim.Adam.step, []

    def step_then_ctrl_c(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 8 + 3:  # 8 batches an epoch: the third batch of epoch 2
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step_then_ctrl_c)
    with pytest.raises(Interrupted, match=r"CNN5b: interrupted during epoch 2; the checkpoint "
                                          r"of epoch 1 is kept and --resume continues from it"):
        train.run(train.prepare(exp, cfg))
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)

    run_dir = tmp_path / "runs" / "CNN5b"
    assert "interrupted during epoch 2" in (run_dir / run_folder.INTERRUPTED).read_text()
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 1
    train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True)))
    assert not (run_dir / run_folder.INTERRUPTED).exists()
    assert same_metrics(read_metrics(run_dir), read_metrics(tmp_path / "whole" / "CNN5b"))


@pytest.mark.parametrize("signum, code, how", [
    (signal.SIGINT, 130, "interrupted"),
    # kill, timeout, docker stop, systemd and scancel send SIGTERM: taken as Ctrl-C, exit 128 + 15.
    (signal.SIGTERM, 143, "stopped by SIGTERM"),
])
def test_ctrl_c_or_sigterm_from_a_shell_stops_with_one_line(signum, code, how, tmp_path):
    out = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "main.py"), "CNN2", "--dataset", "synthetic",
         "--subset", "64", "--batch-size", "32", "--epochs", "1000", "--device", "cpu",
         "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "CNN2" / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock.holder(str(out / "CNN2"))["pid"] == process.pid  # one writer while it trains
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert lock.holder(str(out / "CNN2")) is None  # released as it stopped
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"CNN2: {how} during epoch "), err
    kept = torch.load(out / "CNN2" / "checkpoint.pt", weights_only=True)["epoch"]
    assert f"the checkpoint of epoch {kept} is kept" in lines[0]
    assert (out / "CNN2" / run_folder.INTERRUPTED).read_text().startswith(lines[0])


@pytest.mark.parametrize("script", ["main.py", "results.py"])
def test_ctrl_c_while_a_command_still_imports_is_one_line(script, tmp_path):
    """Ctrl-C just after the first of the command's own imports, while torch's are still to come."""
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", os.path.join(ROOT, script), "--out", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []  # -X importtime: a line on stderr as each module is imported
    for line in process.stderr:
        seen.append(line)
        if len(seen) > 1 and seen[-2].rstrip().endswith("| errors"):  # then the handler is in
            process.send_signal(signal.SIGINT)
            break
    err = "".join(seen) + process.communicate(timeout=60)[1]
    said = [line for line in err.splitlines() if line.strip() and not line.startswith("import time:")]
    assert process.returncode == 130 and said == ["interrupted while starting: nothing was done"], err


def test_ctrl_c_while_a_checkpoint_is_written_lets_it_finish(tmp_path, monkeypatch):
    exp, cfg = small_cnn5b(tmp_path, epochs=3)
    real_save, calls = torch.save, []

    def save_with_ctrl_c(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_with_ctrl_c)
    with pytest.raises(Interrupted, match="the checkpoint of epoch 2 is kept"):
        train.run(train.prepare(exp, cfg))
    assert torch.load(tmp_path / "runs" / "CNN5b" / "checkpoint.pt", weights_only=True)["epoch"] == 2


@pytest.mark.parametrize("epochs, says", [
    (2, "interrupted during epoch 2; the checkpoint of epoch 1 is kept"),
    (1, "interrupted after its last epoch, 1, before its end (the kept weights on the test set, "
        "summary.json); the checkpoint of epoch 1 is kept"),
])
def test_ctrl_c_after_an_epoch_s_line_keeps_that_epoch(epochs, says, tmp_path, monkeypatch, capsys):
    """Ctrl-C while epoch 1 is recorded (its figure drawn): the epoch printed is the epoch kept."""
    exp, cfg = small_cnn5b(tmp_path, epochs=epochs)
    real_draw = plotting.plot_loss_accuracy

    def draw_with_ctrl_c(*args, **kwargs):
        monkeypatch.setattr(plotting, "plot_loss_accuracy", real_draw)
        signal.raise_signal(signal.SIGINT)
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(plotting, "plot_loss_accuracy", draw_with_ctrl_c)
    with pytest.raises(Interrupted, match=re.escape(f"CNN5b: {says}")):
        train.run(train.prepare(exp, cfg))
    run_dir = tmp_path / "runs" / "CNN5b"
    assert re.search(rf"CNN5b epoch +1/{epochs} ", capsys.readouterr().out)  # epoch 1's line, printed
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert (run_dir / run_folder.INTERRUPTED).read_text().startswith(f"CNN5b: {says}")
    train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True)))
    assert len(read_metrics(run_dir)) == epochs and (run_dir / run_folder.SUMMARY).exists()


def test_a_second_ctrl_c_exits_at_once(tmp_path, monkeypatch):
    """While the first Ctrl-C is handled, another one ends the process without waiting."""
    exp, cfg = small_cnn5b(tmp_path)

    class ExitedAtOnce(Exception):
        pass

    def fake_exit(code):
        raise ExitedAtOnce(code)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    def second_ctrl_c(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pytest.fail("the second Ctrl-C waited for the cleanup instead of exiting")
        pytest.fail("the second Ctrl-C was not acted on")

    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(os, "_exit", fake_exit)
    monkeypatch.setattr(train, "train_one_epoch", ctrl_c)
    monkeypatch.setattr(writer.RunFolder, "mark_interrupted", second_ctrl_c)
    with pytest.raises(ExitedAtOnce) as exited:
        train.run(train.prepare(exp, cfg))
    assert exited.value.args == (130,)
    assert signal.getsignal(signal.SIGINT) is before  # and the usual handler is back afterwards


# ---- SIGKILL --------------------------------------------------------------------------------

KILLED_WHILE_SAVING = textwrap.dedent("""\
    import os, signal, sys
    import torch
    import main

    real_save, calls = torch.save, []

    def save_half_then_die(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second epoch's checkpoint: write part of it, then be killed
            f.write(b"PK" + bytes(100_000))
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return real_save(obj, f, *args, **kwargs)

    torch.save = save_half_then_die
    sys.exit(main.main(sys.argv[1:]))
""")


def test_sigkill_while_writing_a_checkpoint_leaves_the_previous_one(tmp_path, capsys):
    args = ["CNN2", "--dataset", "synthetic", "--subset", "64", "--batch-size", "32",
            "--device", "cpu", "--epochs", "3"]
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_SAVING, *args, "--out",
                             str(tmp_path / "runs")], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run_dir = tmp_path / "runs" / "CNN2"
    assert (run_dir / "checkpoint.pt.tmp").exists()  # it did die mid-write
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 1

    assert len(read_metrics(run_dir)) == 2  # epoch 2's row was written before its checkpoint
    assert main.main([*args[:-1], "1", "--out", str(tmp_path / "runs"), "--resume"]) == 0
    assert len(read_metrics(run_dir)) == 1  # resuming makes the folder agree with its checkpoint
    assert main.main([*args[:-1], "2", "--out", str(tmp_path / "runs"), "--resume"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert main.main([*args[:-1], "2", "--out", str(tmp_path / "whole")]) == 0
    assert same_metrics(read_metrics(run_dir), read_metrics(tmp_path / "whole" / "CNN2"))
    assert not (run_dir / "checkpoint.pt.tmp").exists()


# ---- --resume refuses what it cannot continue -------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"subset": 64}, "was trained with subset 32, but this run has subset 64"),
    ({"dataset": "cifar10", "num_classes": 10},
     "was trained with dataset synthetic, num_classes 100, but this run has dataset cifar10, "
     "num_classes 10"),
    ({"seed": 1}, "was trained with seed 0, but this run has seed 1"),  # synthetic data: its seed
])
def test_resume_with_other_data_says_what_differs(finished, tmp_path, change, message):
    exp, cfg = finished
    with pytest.raises(UserError, match=message):
        train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True, epochs=2, **change)))


def test_resume_with_a_changed_layer_says_which(finished, tmp_path):
    exp, cfg = finished
    wider = dataclasses.replace(exp, model=lambda c: type(exp.model(c))(
        widths=(8, 8, 8, 16), fc_units=64, dropout=0.25))
    with pytest.raises(UserError, match=r"holds another network .*'\(dropout\): "
                                        r"Dropout\(p=0.5.*' is now '\(dropout\): Dropout\(p=0.25"):
        train.run(train.prepare(wider, dataclasses.replace(cfg, resume=True, epochs=2)))


def truncated(path):
    path.write_bytes(path.read_bytes()[:1000])


def zero_bytes(path):
    path.write_bytes(b"")


def other_file(path):
    torch.save({"weights": torch.zeros(3)}, path)


def text_file(path):
    path.write_text("not a checkpoint\n")


CNN2_ON_32 = ["CNN2", "--dataset", "synthetic", "--subset", "32", "--epochs", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def _cnn2_once(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn2")
    assert main.main([*CNN2_ON_32, "--out", str(out)]) == 0
    return out / "CNN2"


@pytest.mark.parametrize("damage, message", [
    (truncated, "is not a readable checkpoint"),
    (zero_bytes, "is not a readable checkpoint"),
    (text_file, "is not a readable checkpoint"),
    (other_file, "is not a checkpoint written by this kit"),
])
def test_resume_refuses_a_damaged_or_foreign_file_by_name(_cnn2_once, tmp_path, damage, message,
                                                          capsys):
    args = [*CNN2_ON_32, "--out", str(tmp_path)]
    shutil.copytree(_cnn2_once, tmp_path / "CNN2")  # as `main.main(args)` leaves it, run once
    damage(tmp_path / "CNN2" / "checkpoint.pt")
    capsys.readouterr()
    assert main.main([*args, "--epochs", "2", "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and os.path.join(str(tmp_path), "CNN2", "checkpoint.pt") in err[0]
    assert message in err[0]


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {PAYLOAD_RAN}",))


PAYLOAD_RAN = None


def test_a_checkpoint_that_would_run_code_is_refused_unrun(finished, tmp_path):
    global PAYLOAD_RAN
    PAYLOAD_RAN = tmp_path / "payload-ran"
    exp, cfg = finished
    path = tmp_path / "runs" / "CNN5b" / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["history"] = _Payload()
    torch.save(ckpt, path)
    with pytest.raises(UserError, match=r"checkpoint.pt is not a readable checkpoint"):
        train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True, epochs=2)))
    assert not PAYLOAD_RAN.exists()
    torch.load(path, weights_only=False)  # the payload is live: loading it unsafely runs it
    assert PAYLOAD_RAN.exists()


def test_resume_with_another_lr_uses_it(finished, tmp_path, capsys):
    exp, cfg = finished
    seen = []
    real = train.train_one_epoch

    def spy(model, loader, optimizer, *args, **kwargs):
        seen.append(optimizer.param_groups[0]["lr"])
        return real(model, loader, optimizer, *args, **kwargs)

    train.train_one_epoch, saved = spy, train.train_one_epoch
    try:
        train.run(train.prepare(exp, dataclasses.replace(cfg, resume=True, epochs=2, lr=5e-4)))
    finally:
        train.train_one_epoch = saved
    assert seen == [5e-4]
    assert "resuming with --lr 0.0005 (the checkpoint's run used 0.0001)" in capsys.readouterr().out


# ---- finished runs are not destroyed ----------------------------------------------------------

def test_running_a_finished_step_again_moves_the_old_run_aside(finished, tmp_path, capsys):
    exp, cfg = finished
    old = (tmp_path / "runs" / "CNN5b" / "metrics.csv").read_text()
    train.run(train.prepare(exp, dataclasses.replace(cfg, seed=1)))
    kept = [p for p in (tmp_path / "runs").iterdir() if p.name.startswith("CNN5b-")]
    assert len(kept) == 1 and (kept[0] / "metrics.csv").read_text() == old
    assert run_folder.SET_ASIDE.fullmatch(kept[0].name)  # report.py leaves such folders out
    assert (kept[0] / "checkpoint.pt").exists()
    assert f"moved it to {kept[0]}" in capsys.readouterr().out
    assert (tmp_path / "runs" / "CNN5b" / "metrics.csv").read_text() != old


# ---- NaN, memory, disk ------------------------------------------------------------------------

def test_nan_in_a_later_epoch_keeps_the_last_good_checkpoint(tmp_path):
    exp, cfg = small_cnn5b(tmp_path, epochs=3)
    real_forward, calls = torch.nn.Linear.forward, []

    def forward(self, x):
        calls.append(self.training and self.out_features == 100)
        out = real_forward(self, x)
        return out * float("nan") if sum(calls) == 8 + 5 else out  # epoch 2, batch 5

    torch.nn.Linear.forward = forward
    try:
        with pytest.raises(TrainingError, match=r"nan at epoch 2, batch 5; stopped, the "
                                                r"checkpoint of epoch 1 is kept"):
            train.run(train.prepare(exp, cfg))
    finally:
        torch.nn.Linear.forward = real_forward
    ckpt = torch.load(tmp_path / "runs" / "CNN5b" / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1


def test_out_of_memory_says_the_batch_size_and_what_to_try(tmp_path, monkeypatch, capsys):
    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train, "train_one_epoch", oom)
    code = main.main(["CNN2", "--dataset", "synthetic", "--subset", "64", "--batch-size", "64",
                      "--device", "cpu", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "out of memory at batch size 64 (epoch 1); try --batch-size 32" in err[0]


def test_unwritable_out_is_refused_before_any_data_is_loaded(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "runs"
    monkeypatch.setattr(data, "load_dataset", lambda *a: pytest.fail("data was loaded"))
    assert main.main(["CNN2", "--dataset", "synthetic", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--out {out}: cannot write there (Not a directory)" in err[0]


def test_missing_data_offline_is_said_before_anything_is_created(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(cifar.MIRROR_VARIABLE, (tmp_path / "no-mirror").as_uri())  # offline, at once
    out, data_dir = tmp_path / "runs", tmp_path / "data"
    assert main.main(["001-A", "--out", str(out), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CIFAR-10 is not in" in err[0] and cifar.QUICK_START in err[0]
    assert sorted(os.listdir(tmp_path)) == []  # neither --out nor --data-dir


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    assert main.main(["CNN2", "--dataset", "synthetic", "--out", str(tmp_path / "a-file")]) == 2
    line = error_line(capsys.readouterr().err)
    assert f"--out {tmp_path / 'a-file'}: cannot write there" in line


def test_too_little_free_space_is_refused_before_training(tmp_path, monkeypatch):
    exp, cfg = small_cnn5b(tmp_path)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=5 << 20))
    monkeypatch.setattr(train, "train_one_epoch", lambda *a: pytest.fail("it trained"))
    with pytest.raises(UserError, match=r"runs.CNN5b: 5 MB free on its disk, but this step's "
                                        r"checkpoints need about \d+ MB"):
        train.run(train.prepare(exp, cfg))


def test_disk_full_while_saving_names_the_folder_and_keeps_the_last_checkpoint(tmp_path):
    exp, cfg = small_cnn5b(tmp_path, epochs=3)
    real_save, calls = torch.save, []

    def fills_the_disk(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"part of a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    torch.save = fills_the_disk
    try:
        with pytest.raises(UserError, match=r"could not write .*runs.CNN5b.checkpoint.pt \(No space "
                                            r"left on device\); the checkpoint of epoch 1 is kept"):
            train.run(train.prepare(exp, cfg))
    finally:
        torch.save = real_save
    run_dir = tmp_path / "runs" / "CNN5b"
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert not (run_dir / "checkpoint.pt.tmp").exists()  # the half-written file gave its space back


def test_a_full_disk_while_an_epoch_is_drawn_leaves_the_last_figure_whole(tmp_path, monkeypatch):
    exp, cfg = small_cnn5b(tmp_path, epochs=2)
    run_dir, real_plot, drawn = tmp_path / "runs" / "CNN5b", plotting.plot_loss_accuracy, []

    def fills_the_disk_at_epoch_2(history, *args, **kwargs):
        drawn.append((run_dir / run_folder.CURVES).read_bytes() if drawn else b"")
        if len(drawn) == 1:
            return real_plot(history, *args, **kwargs)
        with full_disk(monkeypatch, run_dir):
            return real_plot(history, *args, **kwargs)

    monkeypatch.setattr(plotting, "plot_loss_accuracy", fills_the_disk_at_epoch_2)
    with pytest.raises(UserError, match=r"could not write .*CNN5b.loss_accuracy.png \(No space left "
                                        r"on device\); the checkpoint of epoch 1 is kept"):
        train.run(train.prepare(exp, cfg))
    assert (run_dir / run_folder.CURVES).read_bytes() == drawn[1] != b""  # epoch 1's, whole
    assert not list(run_dir.glob("*.tmp"))


# ---- bad input --------------------------------------------------------------------------------

def experiment(tmp_path, body):
    path = tmp_path / "Custom.py"
    path.write_text(textwrap.dedent("""\
        from torch import nn
        from data import TO_NORMALIZED_TENSOR
        reported = None
        train_transform = test_transform = TO_NORMALIZED_TENSOR

    """) + textwrap.dedent(body))
    return str(path)


def test_a_model_with_too_few_outputs_for_the_labels(tmp_path, capsys):
    path = experiment(tmp_path, """\
        def model(cfg):
            return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    """)
    assert main.main([path, "--dataset", "synthetic", "--subset", "64",
                      "--out", str(tmp_path / "runs")]) == 2
    line = error_line(capsys.readouterr().err)
    assert "the model gives (10,) outputs per image, but synthetic has 100 classes (labels 0..99)" in line


def test_a_model_that_cannot_take_the_images(tmp_path, capsys):
    path = experiment(tmp_path, """\
        def model(cfg):
            return nn.Sequential(nn.Flatten(), nn.Linear(3 * 28 * 28, cfg.num_classes))
    """)
    assert main.main([path, "--dataset", "synthetic", "--subset", "64",
                      "--out", str(tmp_path / "runs")]) == 2
    line = error_line(capsys.readouterr().err)
    assert "Custom.py: the model cannot take a 32x32 image (RuntimeError: mat1 and mat2" in line


def test_a_truncated_dataset_file_from_a_shell(tmp_path):
    """The one refusal here run as a process (the others call main.main): exit status 2 and one
    line on stderr after torch and the data are loaded, nothing else printed by the libraries."""
    write_cifar(tmp_path, cifar.CIFAR100, n_train=12, n_test=4)
    train_file = tmp_path / cifar.CIFAR100.folder / "train"
    train_file.write_bytes(train_file.read_bytes()[:500])
    line = one_line_error(cli("CNN2", "--data-dir", str(tmp_path), "--out", str(tmp_path / "runs")))
    assert f"{train_file} is not a readable CIFAR-100 file" in line
