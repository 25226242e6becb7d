"""Chapters 1-3 train on the engine (serlib.train.fit) exactly as their hand-written loops did.

Each training function is run beside its reference loop (bench.reference_loops, the
loop it replaced, kept for timing) from the same initial weights and seeds: the parameters must
end bit for bit equal on the CPU (same random draws, same updates), and the loss histories equal
up to float32 summation (the engine sums on the device in float32, the loops summed Python floats).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from bench import reference_loops as ref
from serlib.models import infogan as ig
from serlib.models.aae import AdversarialAutoencoder, GMMPrior, train_aae
from serlib.models.gan import ConditionalGAN, VanillaGAN, train_cgan, train_gan
from serlib.models.mixup_gan import MixupGAN, train_mixup_classifier, train_mixup_gan
from serlib.train import fit

from .test_ahn import _toy


def _data(n: int = 45, dim: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    # 45 rows in batches of 8: a last batch of 5 rows, so the skip/weighting rules matter
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32), np.arange(n) % 4


def _same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"{k} differs from the reference loop's"


def _same_history(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and a.shape == b.shape
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-5, atol=1e-6)


def _twins(make):
    torch.manual_seed(0)
    m = make()
    return m, copy.deepcopy(m)


def test_gan_and_cgan_train_as_their_loops_did():
    x, y = _data()
    a, b = _twins(lambda: VanillaGAN(12, 2, g_hidden=(8,), d_hidden=(8,)))
    ra = train_gan(a, x, epochs=3, batch_size=8, g_steps_per_d_step=2, x_val=x[:9], seed=3)
    rb = ref.ref_train_gan(b, x, epochs=3, batch_size=8, g_steps_per_d_step=2, x_val=x[:9], seed=3)
    _same_weights(a, b)
    _same_history(ra.history, rb.history)
    assert not a.training
    a, b = _twins(lambda: ConditionalGAN(12, 2, 4, g_hidden=(8,), d_hidden=(8,)))
    ra = train_cgan(a, x, y, GMMPrior(), epochs=3, batch_size=8, x_val=x[:9], y_val=y[:9], seed=3)
    rb = ref.ref_train_cgan(b, x, y, GMMPrior(), epochs=3, batch_size=8, x_val=x[:9], y_val=y[:9], seed=3)
    _same_weights(a, b)
    _same_history(ra.history, rb.history)
    assert ra.history["g_steps"].tolist() == [30, 60, 90]  # 6 batches x 5 G steps per epoch


def test_a_one_row_batch_is_skipped_as_before():
    x, y = _data(n=17)  # batches of 8, 8 and 1
    a, b = _twins(lambda: AdversarialAutoencoder(12, 2, 4, hidden=(8,), disc_hidden=(8,)))
    ha = train_aae(a, x, y, GMMPrior(), epochs=2, batch_size=8, seed=1).frame()
    hb = ref.ref_train_aae(b, x, y, GMMPrior(), epochs=2, batch_size=8, seed=1).frame()
    _same_weights(a, b)
    _same_history(ha, hb)
    c, _ = _twins(lambda: ConditionalGAN(12, 2, 4, g_hidden=(8,), d_hidden=(8,)))
    run = train_cgan(c, x, y, GMMPrior(), epochs=2, batch_size=8, g_steps_per_d_step=1)
    assert run.history["d_steps"].tolist() == [2, 4]


def test_aae_trains_as_its_loop_did():
    x, y = _data()
    a, b = _twins(lambda: AdversarialAutoencoder(12, 2, 4, hidden=(8,), disc_hidden=(8,)))
    ha = train_aae(a, x, y, GMMPrior(), epochs=3, batch_size=8, seed=3).frame()
    hb = ref.ref_train_aae(b, x, y, GMMPrior(), epochs=3, batch_size=8, seed=3).frame()
    _same_weights(a, b)
    _same_history(ha, hb)


@pytest.mark.parametrize("pairs", ["none", "real_real", "real_fake", "both"])
@pytest.mark.parametrize("encoder", [False, True])
def test_mixup_gan_trains_as_its_loop_did(pairs, encoder):
    x, y = _data()

    def make():
        if encoder:
            return MixupGAN(12, 2, 4, g_hidden=(8,), d_hidden=(8,), e_hidden=(8,))
        return ConditionalGAN(12, 2, 4, g_hidden=(8,), d_hidden=(8,))

    a, b = _twins(make)
    kw = {"epochs": 2, "batch_size": 8, "mixup_pairs": pairs, "x_val": x[:9], "y_val": y[:9], "seed": 3,
          "g_steps_per_d_step": 2}
    ra = train_mixup_gan(a, x, y, GMMPrior(), **kw)
    rb = ref.ref_train_mixup_gan(b, x, y, GMMPrior(), **kw)
    _same_weights(a, b)
    _same_history(ra.history, rb.history)


def test_mixup_classifier_trains_as_its_loop_did():
    x, y = _data()
    a, b = _twins(lambda: nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 4)))
    torch.manual_seed(5)  # dropout draws from the global generator
    ha = train_mixup_classifier(a, x, y, alpha=0.2, epochs=3, batch_size=8, seed=2)
    torch.manual_seed(5)
    hb = ref.ref_fit_mixup_classifier(b, x, y, alpha=0.2, epochs=3, batch_size=8, seed=2)
    _same_weights(a, b)
    _same_history(ha, hb)


def _plain_weighted_cross_entropy(model: nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int,
                                  seed: int, lr: float = 1e-3) -> pd.DataFrame:
    """Adam on class-weighted cross-entropy (weights ``n / (k * count)``), mini-batches of a fresh
    permutation per epoch drawn from ``default_rng(seed)``: written out here, with no serlib code."""
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    counts = torch.bincount(yt).float()
    weight = counts.sum() / counts / len(counts)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    model.train()
    rows = []
    for epoch in range(epochs):
        order, total = rng.permutation(len(x)), 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx], weight=weight)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        rows.append({"epoch": epoch, "loss": total / len(x)})
    return pd.DataFrame(rows)


def test_mixup_classifier_without_mixing_is_plain_weighted_cross_entropy():
    """``alpha = 0`` (no mixup, the paper's baseline) trains exactly as a plain class-weighted
    cross-entropy loop written in this test."""
    x, y = _data()
    y = np.where(np.arange(len(y)) < 12, 0, y)  # unequal classes, so the class weights matter
    a, b = _twins(lambda: nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 4)))
    torch.manual_seed(5)
    ha = train_mixup_classifier(a, x, y, alpha=0.0, epochs=3, batch_size=8, seed=2, device="cpu")
    torch.manual_seed(5)
    hb = _plain_weighted_cross_entropy(b, x, y, epochs=3, batch_size=8, seed=2)
    _same_weights(a, b)
    _same_history(ha, hb)


@pytest.mark.parametrize("with_val", [False, True])
def test_stage1_trains_and_keeps_the_best_epoch_as_its_loop_did(with_val):
    inputs, y, t, model = _toy()
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    rows, val = np.arange(40), (np.arange(40, 48) if with_val else None)
    torch.manual_seed(1)
    ha = ig.train_baseline(a, inputs, rows, y, t, epochs=4, batch_size=8, seed=2, val_rows=val).frame()
    torch.manual_seed(1)
    hb = ref.ref_train_baseline(b, inputs, rows, y, t, epochs=4, batch_size=8, seed=2, val_rows=val).frame()
    _same_weights(a, b)
    _same_history(ha, hb)
    assert ha["epoch"].tolist() == [0, 1, 2, 3]
    if with_val:
        assert ha["best"].sum() == 1 and ha.loc[ha["best"], "val_uar"].iloc[0] == ha["val_uar"].max()


def test_stage1_stops_early_with_patience():
    inputs, y, t, model = _toy()
    torch.manual_seed(1)  # the encoder's dropout draws from the global generator
    full = ig.train_baseline(copy.deepcopy(model), inputs, np.arange(40), y, t, epochs=12, batch_size=8,
                             val_rows=np.arange(40, 48), lr=3e-2).frame()
    # where a run with patience 2 stops: two epochs in a row without beating the best so far
    best, wait, stop = -1.0, 0, None
    for e, u in zip(full["epoch"], full["val_uar"], strict=True):
        best, wait = (u, 0) if u > best else (best, wait + 1)
        if wait >= 2:
            stop = int(e) + 1
            break
    torch.manual_seed(1)
    early = ig.train_baseline(copy.deepcopy(model), inputs, np.arange(40), y, t, epochs=12, batch_size=8,
                              val_rows=np.arange(40, 48), lr=3e-2, patience=2).frame()
    assert stop is not None and stop < 12  # the validation UAR does stall within 12 epochs here
    assert len(early) == stop
    _same_history(early, full.iloc[: len(early)].assign(best=early["best"].to_numpy()))


@pytest.mark.parametrize(("use_text", "use_mi", "alpha", "lr_q"),
                         [(True, True, 0.2, 0.0), (False, True, 0.0, 1e-3), (True, False, 0.2, 1e-3)])
def test_infogan_trains_as_its_loop_did(use_text, use_mi, alpha, lr_q):
    inputs, y, t, model = _toy()
    h = ig.embed(model, inputs)
    a = ig.InfoGAN(8, 4, 8, 4, copy.deepcopy(model.classifier), copy.deepcopy(model.text_head), use_text=use_text)
    b = copy.deepcopy(a)
    kw = {"epochs": 3, "batch_size": 16, "use_mi": use_mi, "mixup_alpha": alpha, "lr_q": lr_q, "seed": 4}
    ha = ig.train_infogan(a, h, y, t, **kw).frame()
    hb = ref.ref_train_infogan(b, h, y, t, **kw).frame()
    _same_weights(a, b)
    _same_history(ha, hb)


def test_fit_averages_over_rows_or_steps():
    losses = iter([1.0, 2.0, 4.0])  # batches of 4, 4 and 2 rows

    def step(idx):
        return {"loss": torch.tensor(next(losses))}

    rows = fit(step, n=10, batch_size=4, stopping=1, modules={}).history["loss"].iloc[0]
    assert rows == pytest.approx((4 * 1 + 4 * 2 + 2 * 4) / 10)
    losses = iter([1.0, 2.0, 4.0])
    steps = fit(step, n=10, batch_size=4, stopping=1, modules={}, average="steps").history["loss"].iloc[0]
    assert steps == pytest.approx(7 / 3)
    with pytest.raises(ValueError, match="average"):
        fit(step, n=10, batch_size=4, stopping=1, modules={}, average="batches")


def test_engine_ratio_rows_time_both_loops():
    from bench.models import RATIO_CASES, RatioCase, engine_ratios

    calls = []
    case = RatioCase("01 x", "toy", lambda e: calls.append(("engine", e)), lambda e: calls.append(("loop", e)))
    (row,) = engine_ratios(epochs=2, repeats=2, cases=[case])
    # one warm-up epoch each, then the timed runs, the first of each pair swapped
    assert calls == [("engine", 1), ("loop", 1), ("engine", 2), ("loop", 2), ("loop", 2), ("engine", 2)]
    assert row["ratio"] > 0 and row["epochs"] == 2 and row["device"] == "cpu"
    # every network of chapters 1-3 is timed against its old loop
    assert {c.chapter[:2] for c in RATIO_CASES} == {"01", "02", "03"}
