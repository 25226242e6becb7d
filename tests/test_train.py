"""The training engine: validation-chosen length with early stopping, bit-for-bit resume from
checkpoints, checksummed checkpoints loaded with weights_only, and the classifier loop on it."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

from serlib.config import ParameterError
from serlib.train import Engine, Stopping, fit, load_checkpoint, save_checkpoint, train_classifier


class Opaque:
    """Not a tensor, number or container: a checkpoint must never need to unpickle such a thing."""


def _data(seed: int = 0, n: int = 120):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 8)) + 1.5 * np.eye(3, 8)[y]).astype(np.float32)
    return x, y


def _trainer(seed: int, *, stopping, checkpoint=None, stop_after=None):
    """A small MLP trained with dropout (so the torch RNG matters) and validated on held-out rows."""
    torch.manual_seed(seed)
    x, y = _data()
    xv, yv = _data(1, 60)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    xt, yt = torch.tensor(x), torch.tensor(y)
    ce = nn.CrossEntropyLoss()
    state = {"steps": 0}

    def step(idx):
        if stop_after is not None and state["steps"] >= stop_after:
            raise KeyboardInterrupt  # a run killed part-way
        state["steps"] += 1
        opt.zero_grad()
        loss = ce(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
        return {"loss": loss}

    def validate():
        with torch.no_grad():
            logits = model(torch.tensor(xv))
        return {"val_accuracy": float((logits.argmax(1).numpy() == yv).mean()),
                "val_loss": float(ce(logits, torch.tensor(yv)))}

    out = fit(step, n=len(x), batch_size=16, stopping=stopping, modules={"model": model}, optimizers={"opt": opt},
              rng=np.random.default_rng(seed), validate=validate,
              score=lambda m: (m["val_accuracy"], -m["val_loss"]), state=state, checkpoint=checkpoint)
    return out, model


def test_best_epoch_is_restored_and_history_has_one_row_per_epoch():
    out, model = _trainer(0, stopping=Stopping(max_epochs=15))
    h = out.history
    assert list(h["epoch"]) == list(range(1, 16)) and out.epochs_trained == 15 and not out.stopped_early
    best = h.loc[h["epoch"] == out.best_epoch].iloc[0]
    # the best epoch has the highest validation accuracy, ties broken by the lower loss
    top = h.sort_values(["val_accuracy", "val_loss"], ascending=[False, True]).iloc[0]
    assert best["epoch"] == top["epoch"] and out.best_score == pytest.approx(best["val_accuracy"])
    # the model handed back is the best epoch's, not the last one's
    xv, yv = _data(1, 60)
    with torch.no_grad():
        acc = float((model(torch.tensor(xv)).argmax(1).numpy() == yv).mean())
    assert acc == pytest.approx(best["val_accuracy"])
    assert not model.training


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    full, _ = _trainer(0, stopping=Stopping(max_epochs=40))
    early, _ = _trainer(0, stopping=Stopping(max_epochs=40, patience=3))
    h = full.history
    # the first epoch followed by 3 epochs that do not beat the best so far is where training stops
    best, wait, stop = None, 0, None
    for _, r in h.iterrows():
        s = (r["val_accuracy"], -r["val_loss"])
        if best is None or s > best:
            best, wait = s, 0
        else:
            wait += 1
        if wait >= 3:
            stop = int(r["epoch"])
            break
    assert stop is not None and stop < 40
    assert early.epochs_trained == stop and early.stopped_early
    # up to the stop, both runs are the same training
    np.testing.assert_array_equal(early.history["loss"].to_numpy(), h["loss"].to_numpy()[:stop])


def test_min_delta_counts_only_improvements_larger_than_it():
    out, _ = _trainer(0, stopping=Stopping(max_epochs=40, patience=2, min_delta=0.5))
    assert out.epochs_trained == 3 and out.best_epoch == 1  # no accuracy can improve by 0.5 after epoch 1


def _nan_scored(scores, *, patience=0):
    """A tiny training whose validation score at epoch k is ``scores[k - 1]``."""
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.ones(4, 2)
    epoch = {"n": 0}

    def step(idx):
        opt.zero_grad()
        loss = model(x[idx]).pow(2).mean()
        loss.backward()
        opt.step()
        return {"loss": loss}

    def validate():
        epoch["n"] += 1
        return {"val_uar": scores[epoch["n"] - 1]}

    return fit(step, n=4, batch_size=2, stopping=Stopping(max_epochs=len(scores), patience=patience),
               modules={"model": model}, optimizers={"opt": opt}, validate=validate, desc="nan test")


@pytest.mark.parametrize("patience", [0, 2])
def test_an_empty_validation_part_is_refused_not_a_silent_first_epoch(patience):
    # an accuracy over no utterances is NaN at every epoch: no epoch can be chosen on it, so fit
    # refuses at the first epoch, naming the cause, instead of keeping epoch 1
    with pytest.raises(ValueError, match=r"nan test: the validation score is NaN at epoch 1 .*empty \(no utterances\)"):
        _nan_scored([float("nan")] * 5, patience=patience)


def test_a_nan_after_finite_scores_is_logged_and_never_an_improvement(caplog):
    nan = float("nan")
    with caplog.at_level(logging.WARNING, logger="serlib.train"):
        out = _nan_scored([0.2, 0.5, nan, 0.4, nan])
    assert out.best_epoch == 2 and out.best_score == pytest.approx(0.5) and out.epochs_trained == 5
    assert sum("NaN at epoch" in r.getMessage() for r in caplog.records) == 2
    early = _nan_scored([0.5, nan, nan, 0.9], patience=2)  # the NaN epochs count towards the patience
    assert early.epochs_trained == 3 and early.stopped_early and early.best_epoch == 1


def test_stopping_parameters_are_checked():
    for bad in ({"max_epochs": 0}, {"max_epochs": 5, "patience": -1}, {"max_epochs": 5, "min_delta": -0.1}):
        with pytest.raises(ParameterError):
            Stopping(**bad)


def test_a_killed_training_resumes_bit_for_bit(tmp_path):
    ck = tmp_path / "run.ckpt"
    whole, model_a = _trainer(3, stopping=Stopping(max_epochs=12, patience=4))
    with pytest.raises(KeyboardInterrupt):
        _trainer(3, stopping=Stopping(max_epochs=12, patience=4), checkpoint=ck, stop_after=8 * 5 + 3)
    assert load_checkpoint(ck)["epoch"] == 5
    resumed, model_b = _trainer(3, stopping=Stopping(max_epochs=12, patience=4), checkpoint=ck)
    assert resumed.history.equals(whole.history)
    assert resumed.best_epoch == whole.best_epoch and resumed.state["steps"] == whole.state["steps"]
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_corrupt_checkpoint_is_logged_and_redone(tmp_path, caplog):
    ck = tmp_path / "run.ckpt"
    _trainer(0, stopping=4, checkpoint=ck)
    raw = bytearray(ck.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    ck.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="serlib.train"):
        out, _ = _trainer(0, stopping=4, checkpoint=ck)
    assert "checksum does not match" in caplog.text and str(ck) in caplog.text
    assert out.epochs_trained == 4 and load_checkpoint(ck)["epoch"] == 4  # trained again from the start


def test_checkpoints_load_with_weights_only_and_refuse_arbitrary_objects(tmp_path, caplog):
    ck = tmp_path / "x.ckpt"
    save_checkpoint(ck, model=nn.Linear(2, 2), epoch=3, rng=np.random.default_rng(0).bit_generator.state)
    assert load_checkpoint(ck)["epoch"] == 3

    save_checkpoint(ck, thing=Opaque())
    with caplog.at_level(logging.WARNING, logger="serlib.train"):
        assert load_checkpoint(ck) is None
    assert "cannot be read" in caplog.text and not ck.exists()
    save_checkpoint(ck, epoch=1)
    ck.with_name(ck.name + ".sha256").unlink()
    with caplog.at_level(logging.WARNING, logger="serlib.train"):
        assert load_checkpoint(ck) is None
    assert "no checksum" in caplog.text


def test_fit_classifier_trains_as_the_plain_loop_did():
    """The classifier on the engine makes exactly the updates of the loop it replaced."""
    x, y = _data()

    def plain(model):
        xt, yt = torch.tensor(x), torch.tensor(y)
        counts = torch.bincount(yt, minlength=3).float()
        loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / counts.clamp(min=1) / 3)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        rng = np.random.default_rng(5)
        for _ in range(6):
            order = rng.permutation(len(xt))
            for i in range(0, len(xt), 32):
                idx = order[i:i + 32]
                opt.zero_grad()
                loss_fn(model(xt[idx]), yt[idx]).backward()
                opt.step()

    torch.manual_seed(0)
    a = nn.Linear(8, 3)
    b = nn.Linear(8, 3)
    b.load_state_dict(a.state_dict())
    plain(a)
    hist = train_classifier(b, x, y, epochs=6, lr=1e-2, batch_size=32, device="cpu", seed=5)
    assert len(hist.frame()) == 6 and hist.frame()["loss"].iloc[-1] < hist.frame()["loss"].iloc[0]
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_engine_is_plain_float32_on_cpu_and_refuses_amp_without_cuda():
    eng = Engine("cpu")
    assert not eng.amp and not eng.tf32
    with eng.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(ParameterError, match="CUDA"):
        Engine("cpu", amp=True)
