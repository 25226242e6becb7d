"""Leow et al. (chapter 4): gradient reversal, the lambda schedule, statistics pooling, the
encoders, the leave-two-speakers-out folds, and the notebook end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from serlib.claims import RUN_HEADER
from serlib.config import ParameterError, project_root
from serlib.experiments import leow
from serlib.metrics import mean_interval
from serlib.models.sier import (
    ClassifierHead,
    GradientReversal,
    SIERNet,
    _run_rnn,
    build_encoder,
    grad_reverse,
    lambda_schedule,
    stats_pool,
    train_sier,
)
from serlib.papers.leow import TABLES, table1_row
from serlib.splits import Fold
from tests._pins import check_pins
from tests.conftest import make_table_corpus

ROOT = project_root()
NOTEBOOK = ROOT / "notebooks" / "04_leow_speaker_adversarial.py"


# small networks train faster, and reproducibly, on one thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- gradient reversal
@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_gradient_reversal_is_identity_forward_and_negates_gradient(lam):
    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, 3, dtype=torch.float64)
    y = grad_reverse(x, lam)
    assert torch.equal(y, x)
    (torch.tanh(y @ w) ** 2).sum().backward()
    g_rev = x.grad.clone()
    x.grad = None
    (torch.tanh(x @ w) ** 2).sum().backward()  # the same loss without the reversal layer
    torch.testing.assert_close(g_rev, -lam * x.grad)
    assert lam == 0 or not torch.allclose(g_rev, x.grad)


def test_gradient_reversal_module_in_the_network_only_flips_the_encoder_share():
    """Through SIERNet: the speaker head gets the ordinary gradient of J_s, the encoder -lambda times it."""
    torch.manual_seed(0)
    enc = build_encoder("cnn_bigru", 20, 32, filters=4, gru_units=4, dropout=0.0)
    net = SIERNet(enc, 4, 3, fc_units=8, dropout=0.0).eval()
    x = torch.randn(6, 20, 32)
    s = torch.tensor([0, 1, 2, 0, 1, 2])

    def grads(lam: float) -> tuple[torch.Tensor, torch.Tensor]:
        net.zero_grad()
        _, spk = net(x, lam=lam)
        torch.nn.functional.cross_entropy(spk, s).backward()
        return net.encoder.gru.weight_ih_l0.grad.clone(), net.speaker.net[0].weight.grad.clone()

    enc_1, head_1 = grads(1.0)
    enc_half, head_half = grads(0.5)
    torch.testing.assert_close(head_1, head_half)  # the speaker classifier minimises J_s unscaled
    torch.testing.assert_close(enc_half, 0.5 * enc_1)
    net.grl.lam = 0.0
    enc_0, _ = grads(0.0)
    assert torch.count_nonzero(enc_0) == 0
    # sign: the encoder's gradient is minus the one it would get without reversal
    net.zero_grad()
    h = net.encoder(x)
    torch.nn.functional.cross_entropy(net.speaker(h), s).backward()
    torch.testing.assert_close(enc_1, -net.encoder.gru.weight_ih_l0.grad)
    assert isinstance(net.grl, GradientReversal)


# --------------------------------------------------------------------------- the schedule
@pytest.mark.parametrize("gamma", [1.25, 2.5, 3.33])
def test_lambda_schedule_matches_the_formula(gamma):
    assert lambda_schedule(0.0, gamma) == 0.0
    for p in (0.5, 1.0):
        assert lambda_schedule(p, gamma) == pytest.approx(2.0 / (1.0 + math.exp(-gamma * p)) - 1.0, abs=1e-12)
    assert lambda_schedule(1.0, gamma) < 1.0
    lam = lambda_schedule(np.linspace(0, 1, 11), gamma)
    assert lam.shape == (11,) and np.all(np.diff(lam) > 0)
    with pytest.raises(ValueError):
        lambda_schedule(0.5, 0.0)


def test_training_follows_the_schedule_to_its_end():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 20, 24)).astype(np.float32)
    y = np.arange(40) % 4
    x[:, 0, :] += y[:, None]  # a learnable emotion cue
    s = np.arange(40) % 5
    net = SIERNet(build_encoder("cnn_bigru", 20, 24, filters=4, gru_units=8), 4, 5, fc_units=8)
    fit = train_sier(net, x, y, s, x[:8], y[:8], max_epochs=3, gamma=2.5, batch_size=10)
    h = fit.history
    assert list(h["epoch"]) == [1, 2, 3]
    assert h["lambda"].iloc[-1] == pytest.approx(lambda_schedule(1.0, 2.5))
    assert h["lambda"].is_monotonic_increasing and h["J_s"].notna().all()
    assert 1 <= fit.best_epoch <= 3
    plain = train_sier(SIERNet(build_encoder("cnn_bigru", 20, 24, filters=4, gru_units=8), 4, None, fc_units=8),
                     x, y, None, x[:8], y[:8], max_epochs=2, gamma=None, batch_size=10)
    assert (plain.history["lambda"] == 0).all() and plain.history["J_s"].isna().all()


def test_early_stopping_is_wired_and_the_schedule_counts_max_epochs():
    """patience=1 stops at the first epoch that does not beat the best; lambda's p runs over the
    steps of max_epochs epochs, so a stopped run ends below the schedule's end value."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 20, 24)).astype(np.float32)
    y = np.arange(40) % 4
    s = np.arange(40) % 5
    xv, yv = rng.normal(size=(12, 20, 24)).astype(np.float32), np.arange(12) % 4  # noise: no lasting progress

    def net():
        torch.manual_seed(0)
        return SIERNet(build_encoder("cnn_bigru", 20, 24, filters=4, gru_units=8), 4, 5, fc_units=8)

    full = train_sier(net(), x, y, s, xv, yv, max_epochs=30, gamma=2.5, batch_size=10)
    early = train_sier(net(), x, y, s, xv, yv, max_epochs=30, patience=1, gamma=2.5, batch_size=10)
    assert full.epochs_trained == 30 and not full.stopped_early
    h = full.history
    best, stop = None, None
    for _, r in h.iterrows():  # the first epoch whose (accuracy, -loss) does not beat the best so far
        sc = (r["val_accuracy"], -r["val_loss"])
        if best is not None and not sc > best:
            stop = int(r["epoch"])
            break
        best = sc
    assert stop is not None and stop < 30
    assert early.stopped_early and early.epochs_trained == stop == len(early.history)
    assert early.best_epoch == stop - 1
    np.testing.assert_allclose(early.history["val_accuracy"], h["val_accuracy"].iloc[:stop])
    steps_per_epoch = 4
    assert early.history["lambda"].iloc[-1] == pytest.approx(lambda_schedule(stop * steps_per_epoch / 120, 2.5))
    assert early.history["lambda"].iloc[-1] < lambda_schedule(1.0, 2.5)


def test_chosen_epochs_table_records_the_validation_choice():
    from serlib.data import load_corpus

    c = load_corpus("embedded", size="tiny", progress=False)
    folds = leow.make_folds(c)[:2]
    cfg = leow.Config.for_profile("smoke", workers=1, encoders=["cnn_bigru"], gammas=[None], cnn_layers=[1],
                                  max_epochs=12, patience=1, filters=[4], gru_units=[8], fc_units=[8], probe=False)
    res = leow.run(cfg, c, folds, progress=False)
    ce = leow.chosen_epochs(res)
    assert list(ce["fold"]) == [f.name for f in folds]
    for _, r in ce.iterrows():
        h = res.histories[(res.histories["key"] == r["key"]) & (res.histories["fold"] == r["fold"])]
        assert r["epochs_trained"] == len(h) <= 12
        top = h.sort_values(["val_accuracy", "val_loss"], ascending=[False, True], kind="stable").iloc[0]
        assert r["best_epoch"] == int(top["epoch"])  # the best validation accuracy, ties to the lower loss
        assert r["stopped_early"] == (len(h) < 12)
        if r["stopped_early"]:  # patience 1: the run stopped one epoch after its best
            assert r["epochs_trained"] == r["best_epoch"] + 1
    wide = leow.chosen_epochs(res, wide=True)
    assert wide.shape == (1, 2) and all(" / " in v for v in wide.iloc[0])


def _scores_two_encoders() -> pd.DataFrame:
    """Kept runs of two adversarial encoders on two folds: the TDNN biLSTM wins on test, the 2D CNN
    biGRU on validation (and the 2D CNN biGRU without AL, and the 1D CNN GRU, for the other rows)."""
    rows = []
    for fold in ("a", "b"):
        for enc, gamma, val, test in (("cnn_bigru", 2.5, 0.70, 0.40), ("tdnn_bilstm", 2.5, 0.50, 0.60),
                                      ("cnn_bigru", None, 0.60, 0.45)):
            rows.append({"encoder": enc, "layers": 1 if enc == "cnn_bigru" else None, "gamma": gamma,
                         "key": leow.run_key(enc, 1 if enc == "cnn_bigru" else None, gamma), "fold": fold, "seed": 0,
                         "val_accuracy": val, "val_uar": val - 0.05, "accuracy": test, "uar": test - 0.02})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("select", ["accuracy", "uar"])
def test_verdict_chooses_the_adversarial_model_on_validation_not_on_test(select):
    from types import SimpleNamespace

    res = SimpleNamespace(scores=_scores_two_encoders())
    svm = pd.DataFrame({"method": ["IS10 + RBF-SVM", "IS10 + RBF-SVM (speaker-adaptive norm.)"] * 2,
                        "fold": ["a", "a", "b", "b"], "accuracy": [0.5, 0.55, 0.5, 0.55],
                        "uar": [0.5, 0.55, 0.5, 0.55]})
    comp = leow.comparison(res, svm, select)
    col = "validation accuracy (%)" if select == "accuracy" else "validation UAR (%)"
    assert comp.columns[-1] == col
    assert comp.loc["2D CNN biGRU (MFCC) + AL", col] == pytest.approx(70.0 if select == "accuracy" else 65.0)
    assert comp.loc["TDNN biLSTM (MFCC) + AL", "accuracy (%)"] == pytest.approx(60.0)
    assert comp.loc["IS10 + RBF-SVM", col] != comp.loc["IS10 + RBF-SVM", col]  # the yardstick chooses nothing
    y = leow.yardstick_comparison(comp)
    # the TDNN biLSTM has the higher test accuracy, but the 2D CNN biGRU the higher validation score
    assert y["chosen"] == "2D CNN biGRU (MFCC) + AL" and y["chosen_accuracy"] == pytest.approx(40.0)
    assert y["validation"] == col.removesuffix(" (%)")
    assert y["plain"] == pytest.approx(50.0) and y["chosen_vs_plain"] == "behind"
    assert y["adaptive"] == pytest.approx(55.0) and y["adaptive_vs_chosen"] == "ahead"
    assert y["without_al"] == pytest.approx(45.0)
    with pytest.raises(ValueError, match="validation column"):
        leow.yardstick_comparison(comp.drop(columns=[col]))


def test_yardstick_comparison_calls_an_equal_score_level_not_behind():
    from types import SimpleNamespace

    res = SimpleNamespace(scores=_scores_two_encoders())
    svm = pd.DataFrame({"method": ["IS10 + RBF-SVM"] * 2, "fold": ["a", "b"], "accuracy": [0.4, 0.4],
                        "uar": [0.4, 0.4]})
    y = leow.yardstick_comparison(leow.comparison(res, svm, "accuracy"))
    assert y["chosen_accuracy"] == pytest.approx(y["plain"]) and y["chosen_vs_plain"] == "tie"
    assert y["adaptive"] is None and y["adaptive_vs_chosen"] is None
    no_al = leow.comparison(SimpleNamespace(scores=_scores_two_encoders().query("gamma != gamma")), svm, "accuracy")
    assert leow.yardstick_comparison(no_al) is None  # nothing adversarial to compare


def _summary_results(probe_with_al: list[float]):
    """A run of the 2D CNN biGRU at one depth without AL and with gamma 2.5 on four folds (AL 10
    points ahead on every fold), with speaker probes on the unseen speakers: 0.80 without AL,
    ``probe_with_al`` (one per fold) with it."""
    from types import SimpleNamespace

    from serlib.splits import Fold

    folds = ["a", "b", "c", "d"]
    scores, probe, hist = [], [], []
    for i, fold in enumerate(folds):
        for gamma, acc in ((None, 0.50), (2.5, 0.60)):
            key = leow.run_key("cnn_bigru", 1, gamma)
            scores.append({"encoder": "cnn_bigru", "layers": 1, "gamma": gamma, "key": key, "fold": fold, "seed": 0,
                           "accuracy": acc + 0.01 * i, "uar": acc, "val_accuracy": acc, "val_uar": acc,
                           "best_epoch": 2})
            probe.append({"encoder": "cnn_bigru", "layers": 1, "gamma": gamma, "key": key, "fold": fold, "seed": 0,
                          "speakers": "unseen", "accuracy": 0.80 if gamma is None else probe_with_al[i]})
            for epoch in (1, 2, 3):
                hist.append({"key": key, "fold": fold, "seed": 0, "gamma": gamma, "epoch": epoch,
                             "speaker_accuracy": 0.5 if gamma else float("nan")})
    train = np.arange(6)
    return SimpleNamespace(scores=pd.DataFrame(scores), probe=pd.DataFrame(probe), histories=pd.DataFrame(hist),
                           speakers=np.array(["s1", "s2", "s3", "s1", "s2", "s3"]), meta={"max_epochs": 3},
                           folds=[Fold(name="a", train=train, val=train[:0], test=train[:0])])


def test_run_summary_gives_numbers_and_labels_and_a_probe_verdict_from_the_paired_interval():
    svm = pd.DataFrame({"method": ["IS10 + RBF-SVM"] * 4, "fold": ["a", "b", "c", "d"], "accuracy": [0.6] * 4,
                        "uar": [0.6] * 4})
    cfg = leow.Config.for_profile("smoke")
    res = _summary_results([0.70, 0.72, 0.69, 0.71])  # about 10 points lower on every fold
    comp = leow.comparison(res, svm, "accuracy")
    rs = leow.run_summary(res, comp, cfg)
    [g] = rs["gains"]
    assert (g["layers"], g["gamma"], g["n"], g["ahead"]) == (1, 2.5, 4, 4)
    assert g["mean"] == pytest.approx(10.0) and g["verdict"] == "ahead"
    assert rs["paper_gains"]["Emo-DB"] == pytest.approx((3.3, 6.3))
    y = rs["yardstick"]  # AL at 60, 61, 62, 63 % on the four folds against the yardstick's 60 %
    assert y["chosen_accuracy"] == pytest.approx(61.5) and y["chosen_vs_plain"] == "ahead"
    pr = rs["probe"]
    assert pr["difference"].mean == pytest.approx(-9.5) and pr["verdict"] == "behind"
    assert pr["adversary"] == pytest.approx(50.0)
    assert rs["epochs"]["runs"] == 8 and rs["profile"]["name"] == "smoke"
    # a probe that falls on two folds and rises on two: the pooled mean drops, the interval holds zero
    noisy = leow.run_summary(_summary_results([0.60, 0.95, 0.62, 0.93]), comp, cfg)["probe"]
    assert noisy["with_al"] < noisy["without_al"] - leow.PROBE_MARGIN and noisy["verdict"] == "tie"
    ps = leow.probe_summary(res)
    assert [(r["speakers"], r["layers"], r["gamma"]) for r in ps["pairs"]] == [("unseen", 1, 2.5)]
    assert ps["pairs"][0]["difference"] == pytest.approx(-9.5)
    assert ps["adversary"] == pytest.approx(50.0) and ps["chance"] == pytest.approx(100 / 3)


# --------------------------------------------------------------------------- shapes
def test_stats_pool_size_and_values():
    h = torch.randn(3, 11, 6)
    z = stats_pool(h)
    assert z.shape == (3, 12)
    torch.testing.assert_close(z[:, :6], h.mean(1))
    torch.testing.assert_close(z[:, 6:], torch.sqrt(h.var(1, unbiased=False) + 1e-5))
    one = stats_pool(torch.randn(2, 1, 4))  # a single step: std ~ 0, still finite
    assert torch.isfinite(one).all() and one[:, 4:].max() < 1e-2
    with pytest.raises(ValueError):
        stats_pool(torch.randn(3, 4))


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize("kernel", [5, 2])
def test_cnn_bigru_encoder_all_depths_fit_twenty_mfccs(layers, kernel):
    enc = build_encoder("cnn_bigru", 20, 150, cnn_layers=layers, filters=8, kernel=kernel, gru_units=16)
    z = enc(torch.randn(2, 20, 150))
    assert z.shape == (2, 4 * 16) and enc.out_dim == 64
    assert enc.seq_len >= 1
    with pytest.raises(ValueError):
        build_encoder("cnn_bigru", 20, 150, cnn_layers=5)


def test_comparison_encoders_and_heads():
    tdnn = build_encoder("tdnn_bilstm", 20, 60, filters=8, gru_units=12)
    assert tdnn(torch.randn(3, 20, 60)).shape == (3, 48)
    cnn1d = build_encoder("cnn1d_gru", 42, 120, filters=8, gru_units=12)
    assert cnn1d(torch.randn(3, 42, 120)).shape == (3, 24) and cnn1d.seq_len == 30
    head = ClassifierHead(48, 7, hidden=16)
    assert head(torch.randn(3, 48)).shape == (3, 7)
    bn_after_linear = [type(m).__name__ for m in head.net]
    assert bn_after_linear[:4] == ["Linear", "BatchNorm1d", "Dropout", "ReLU"]
    assert SIERNet(tdnn, 4, None).speaker is None
    with pytest.raises(ValueError):
        build_encoder("wav2vec", 20, 60)


# --------------------------------------------------------------------------- masking the padding
def test_stats_pool_over_the_valid_steps_only():
    h = torch.randn(3, 11, 6)
    lengths = torch.tensor([11, 4, 1])
    z = stats_pool(h, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(z[i], stats_pool(h[i : i + 1, :n])[0])
    torch.testing.assert_close(stats_pool(h, lengths=torch.full((3,), 11)), stats_pool(h))


@pytest.mark.parametrize(("name", "layers", "kernel"), [("cnn_bigru", 1, 5), ("cnn_bigru", 2, 2), ("cnn_bigru", 4, 5),
                                                         ("tdnn_bilstm", None, 5), ("cnn1d_gru", None, 2)])
def test_masked_encoder_reads_an_utterance_as_if_cut_to_its_length(name, layers, kernel):
    """With its valid frames given, an encoder's output (eval mode) is that of the utterance cut
    to its length: whatever the padding holds and however long it is."""
    torch.manual_seed(0)
    n_feat = 42 if name == "cnn1d_gru" else 20
    opts = dict(cnn_layers=layers or 1, filters=4, kernel=kernel, gru_units=5)
    enc = build_encoder(name, n_feat, 97, **opts).eval()
    x = torch.randn(3, n_feat, 97)
    lengths = torch.tensor([97, 40, 13])
    with torch.no_grad():
        masked = enc(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            cut = build_encoder(name, n_feat, n, **opts).eval()
            cut.load_state_dict(enc.state_dict())
            torch.testing.assert_close(masked[i], cut(x[i : i + 1, :, :n])[0], atol=1e-5, rtol=1e-5)
            other = torch.cat([x[i : i + 1, :, :n], torch.full((1, n_feat, 60), 7.0)], dim=2)  # other padding
            torch.testing.assert_close(masked[i], enc(other, lengths[i : i + 1])[0], atol=1e-5, rtol=1e-5)
        assert not torch.allclose(masked[2], enc(x)[2], atol=1e-3)  # unmasked, the padding is read


@pytest.mark.parametrize(("cls", "bidirectional"), [(torch.nn.GRU, True), (torch.nn.LSTM, True),
                                                    (torch.nn.GRU, False)])
def test_masked_recurrence_is_the_packed_sequences(cls, bidirectional):
    """The masked recurrent layer gives what the same layer gives on packed sequences, outputs and
    gradients, with zeros at the padded steps."""
    torch.manual_seed(0)
    rnn = cls(7, 5, batch_first=True, bidirectional=bidirectional)
    h = torch.randn(6, 11, 7, requires_grad=True)
    lengths = torch.tensor([11, 3, 7, 1, 11, 5])
    packed = torch.nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
    want = torch.nn.utils.rnn.pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=11)[0]
    got = _run_rnn(rnn, h, lengths)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert got[1, 3:].abs().sum() == 0
    wrt = [h, *rnn.parameters()]
    for a, b in zip(torch.autograd.grad((got**2).sum(), wrt), torch.autograd.grad((want**2).sum(), wrt)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_masked_training_batches_are_cut_after_their_longest_utterance(monkeypatch):
    import serlib.models.sier as sier

    widths: list[tuple[int, int]] = []
    step = sier.sier_step

    def spy(model, opt, x, y, s, *, lengths=None, **kw):
        widths.append((x.shape[-1], int(lengths.max())))
        return step(model, opt, x, y, s, lengths=lengths, **kw)

    monkeypatch.setattr(sier, "sier_step", spy)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 20, 24)).astype(np.float32)
    y = np.arange(30) % 3
    n = rng.integers(4, 20, size=30)
    net = SIERNet(build_encoder("tdnn_bilstm", 20, 24, filters=4, gru_units=4), 3, fc_units=4)
    train_sier(net, x, y, None, x[:6], y[:6], max_epochs=1, batch_size=10, lengths_train=n, lengths_val=n[:6])
    assert len(widths) == 3 and all(w == m for w, m in widths)


def test_training_with_valid_frames():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 20, 24)).astype(np.float32)
    y = np.arange(40) % 4
    n = rng.integers(6, 25, size=40)
    x[:, 0, :] += y[:, None]
    net = SIERNet(build_encoder("cnn_bigru", 20, 24, filters=4, gru_units=8), 4, 5, fc_units=8)
    fit = train_sier(net, x, y, np.arange(40) % 5, x[:8], y[:8], max_epochs=2, gamma=2.5, batch_size=10,
                   lengths_train=n, lengths_val=n[:8])
    assert len(fit.history) == 2 and fit.history["J_s"].notna().all()
    with pytest.raises(ValueError, match="validation"):
        train_sier(net, x, y, None, x[:8], y[:8], max_epochs=1, lengths_train=n)


def test_standardisation_over_speech_frames_zeroes_the_padding():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(6, 4, 10)).astype(np.float32)
    n = np.array([10, 3, 5, 7, 2, 10])
    pad = np.arange(10)[None, :] >= n[:, None]  # (utterance, frame)
    x[np.broadcast_to(pad[:, None, :], x.shape)] = -50.0
    fold = Fold(name="f", train=np.array([0, 1, 2, 3]), val=np.array([4]), test=np.array([5]))
    inputs = {"mfcc": x, "mfcc_frames": n}
    speech = leow.running._fold_inputs(inputs, "mfcc", fold, "train", "speech")
    frames = np.concatenate([x[i, :, : n[i]] for i in fold.train], axis=1)
    np.testing.assert_allclose(speech[1, :, :3], (x[1, :, :3] - frames.mean(1)[:, None]) / frames.std(1)[:, None],
                               rtol=1e-5)
    assert (speech[1, :, 3:] == 0).all() and (speech[4, :, 2:] == 0).all()
    padded = leow.running._fold_inputs(inputs, "mfcc", fold, "train", "all")  # the padding pulls the mean down
    assert padded[1, :, :3].mean() > 0.5 and abs(speech[:4][:, :, :3].mean()) < 1.0


def test_speaker_adaptive_standardisation_uses_each_speakers_own_speech_frames():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, size=(6, 3, 8)).astype(np.float32)
    spk = np.array(["a", "a", "a", "b", "b", "b"])
    x[3:] = x[3:] * 4.0 + 10.0  # speaker b: another level and spread
    n = np.array([8, 5, 6, 8, 4, 7])
    pad = np.arange(8)[None, :] >= n[:, None]
    x[np.broadcast_to(pad[:, None, :], x.shape)] = 0.0
    fold = Fold(name="f", train=np.array([0, 1, 3, 4]), val=np.array([2]), test=np.array([5]))
    inputs = {"mfcc": x, "mfcc_frames": n}
    out = leow.running._fold_inputs(inputs, "mfcc", fold, "speaker", "speech", spk)
    for rows in (np.arange(3), np.arange(3, 6)):  # held-out rows 2 and 5 count for their own speaker
        frames = np.concatenate([out[i, :, : n[i]] for i in rows], axis=1)
        np.testing.assert_allclose(frames.mean(1), 0.0, atol=1e-5)
        np.testing.assert_allclose(frames.std(1), 1.0, rtol=1e-4)
    assert (out[np.broadcast_to(pad[:, None, :], x.shape)] == 0).all()
    pooled = leow.running._fold_inputs(inputs, "mfcc", fold, "train", "speech")  # one set of statistics: b stays apart
    assert pooled[3:, :, :4].mean() - pooled[:3, :, :4].mean() > 1.0
    with pytest.raises(ParameterError, match="speaker"):
        leow.running._fold_inputs(inputs, "mfcc", fold, "speaker", "speech")


def test_mean_interval_is_students_t():
    low, high = mean_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2 df) x std / sqrt(n)
    assert low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert all(math.isnan(v) for v in mean_interval(np.array([5.0])))


def test_real_speech_ablation_trains_each_step_and_reuses_the_chapters_run(monkeypatch):
    from serlib.data import load_corpus

    c = load_corpus("embedded", size="tiny", progress=False)
    folds = leow.make_folds(c)[:2]
    cfg = leow.Config.for_profile("smoke", workers=1, encoders=["cnn_bigru"], gammas=[None, 2.5], max_epochs=1,
                                  filters=[4], gru_units=[8], fc_units=[8], probe=False, mask_padding=False,
                                  norm_frames="all")
    res = leow.run(cfg, c, folds, progress=False)
    trained = []
    real_run = leow.run
    monkeypatch.setattr(leow.running, "run", lambda sub, *a, **k: trained.append(sub) or real_run(sub, *a, **k))
    steps = (("paper", {"mask_padding": False}), ("masked", {"mask_padding": True, "norm_frames": "speech"}))
    table = leow.real_speech_ablation(cfg, c, folds, res, steps=steps, progress=False)
    assert len(trained) == 1 and trained[0].mask_padding and trained[0].norm_frames == "speech"  # the first is cfg
    assert list(table.index) == ["paper", "masked"]
    first = res.scores[res.scores["key"] == "cnn_bigru/L1/without AL"]["accuracy"].mean()
    assert table.loc["paper", "without AL: accuracy (%)"] == pytest.approx(100 * first)
    assert table["2.50: change (points)"].iloc[0] == 0
    moves = leow.ablation_moves(table)
    assert [m["setting"] for m in moves] == ["without AL", "2.50"]
    assert moves[0]["first"] == pytest.approx(100 * first) and moves[0]["last"] == table.iloc[-1, 0]
    (gain,) = leow.al_gains(res)  # one depth, one gamma: with AL against without, beside the paper's difference
    assert (gain["layers"], gain["gamma"]) == (1, 2.5) and gain["base"] == pytest.approx(100 * first)
    assert gain["paper"] == pytest.approx({"Emo-DB": 70.6 - 67.3, "RAVDESS": 61.2 - 56.3})
    assert leow.paper_gain(5, 2.5) is None


def test_key_labels_and_per_speaker_accuracy():
    assert leow.key_label("cnn_bigru/L1/without AL") == "2D CNN biGRU, 1 CNN layer, without AL"
    assert leow.key_label("cnn_bigru/L2/2.50") == "2D CNN biGRU, 2 CNN layers, γ = 2.50"
    assert leow.key_label("tdnn_bilstm/2.50") == "TDNN biLSTM, γ = 2.50"
    pred = pd.DataFrame({"key": ["k"] * 5 + ["other"], "row": [0, 1, 2, 3, 4, 0], "y_true": [0, 1, 1, 0, 2, 0],
                         "y_pred": [0, 1, 0, 0, 1, 1]})
    res = leow.Results(scores=pd.DataFrame(), grid=pd.DataFrame(), histories=pd.DataFrame(), predictions=pred,
                       probe=pd.DataFrame(), embeddings={}, labels=("a", "b", "c"),
                       speakers=np.array(["s1", "s1", "s2", "s2", "s2"]), y=np.array([0, 1, 1, 0, 2]), folds=[],
                       seconds=0.0)
    table = leow.per_speaker_accuracy(res, ["k"])
    assert table.index.tolist() == ["s1", "s2"] and table.iloc[:, 0].tolist() == pytest.approx([100.0, 100 / 3])


# --------------------------------------------------------------------------- folds
def _check_leave_two_out(corpus, folds, n_train_speakers):
    spk = corpus.speakers
    gender = dict(zip(corpus.table["speaker"], corpus.table["gender"]))
    tested, validated = [], []
    for f in folds:
        tr, va, te = set(spk[f.train]), set(spk[f.val]), set(spk[f.test])
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert len(tr) == n_train_speakers and len(va) == 2 and len(te) == 2
        assert sorted(gender[s] for s in te) == ["F", "M"]
        assert sorted(gender[s] for s in va) == ["F", "M"]
        assert sum(gender[s] == "F" for s in tr) == n_train_speakers // 2
        assert set(f.test_groups) == te and set(f.val_groups) == va
        assert len(f.train) + len(f.val) + len(f.test) == len(corpus)
        tested += sorted(te)
        validated += sorted(va)
    assert sorted(tested) == sorted(set(spk)) and len(tested) == len(set(tested))
    assert sorted(validated) == sorted(set(spk))


def test_folds_on_a_table_corpus_emodb_and_ravdess_shapes():
    emo = make_table_corpus(5, per_class=2, labels=("anger", "boredom", "disgust", "fear", "happiness",
                                                     "sadness", "neutral"), sessions=False)
    folds = leow.make_folds(emo)
    assert len(folds) == 5
    _check_leave_two_out(emo, folds, 6)
    rav = make_table_corpus(12, per_class=1, labels=tuple("abcdefgh"), sessions=False)
    folds = leow.make_folds(rav, seed=3)
    assert len(folds) == 12
    _check_leave_two_out(rav, folds, 20)
    assert leow.fold_table(rav, folds).shape[0] == 12


def test_folds_on_the_emodb_fixture(tmp_path):
    from serlib.data import load_corpus
    from serlib.data.fixtures import make_fixture

    root = make_fixture("emodb", tmp_path)
    c = load_corpus("emodb", root).labelled()
    folds = leow.make_folds(c, seed=0)
    assert len(folds) == 5
    _check_leave_two_out(c, folds, 6)


# --------------------------------------------------------------------------- config and input
def test_config_profiles_and_checks():
    book = leow.Config.for_profile("book")
    paper = leow.Config.for_profile("paper")
    assert paper.cnn_layers == [1, 2, 3, 4] and paper.gammas == [None, 1.25, 2.5, 3.33]
    assert paper.kernel_sizes == [5, 2] and paper.filters == [128, 64]
    assert paper.gru_units == [256, 128] and paper.fc_units == [128, 64]
    assert set(book.cnn_layers) <= set(paper.cnn_layers) and None in book.gammas
    assert len(leow.grid_points(paper, "cnn_bigru")) == 16 and len(leow.grid_points(paper, "tdnn_bilstm")) == 8
    with pytest.raises(ParameterError):
        leow.Config.for_profile("book", gammas=[-1.0])
    with pytest.raises(ParameterError):
        leow.Config.for_profile("book", encoders=["wav2vec"])
    with pytest.raises(ParameterError):
        leow.Config.for_profile("book", cnn_layers=[5])
    with pytest.raises(ParameterError):
        leow.Config.for_profile("book", compare_gammas=[None])
    ref = leow.Config.reference()
    assert ref.loc["cnn_layers", "paper's value"] == "1, 2, 3, 4"
    # the book trains every epoch under a cosine rate with the padding masked; the paper profile keeps the
    # paper's zero-padded input read as speech, with early stopping on the validation pair
    smoke = leow.Config.for_profile("smoke")
    assert smoke.patience == 0 and book.patience == 0 and book.max_epochs > 12 and paper.patience > 0
    assert book.mask_padding and book.norm_frames == "speech" and book.lr_schedule == "cosine"
    assert not paper.mask_padding and paper.norm_frames == "all" and paper.lr_schedule == "constant"
    assert {"max_epochs", "patience", "min_delta"} <= set(ref.index) and "epochs" not in ref.index
    assert all(ref.loc[k, "paper's value"].startswith("not stated") for k in ("max_epochs", "patience", "min_delta"))
    with pytest.raises(ParameterError):
        leow.Config.for_profile("book", patience=-1)


def test_paper_tables_copied_from_the_paper():
    assert TABLES["table1_emodb"].values[table1_row(1, 3.33)] == 73.6
    assert TABLES["table1_ravdess"].values[table1_row(1, 2.5)] == 61.2
    assert TABLES["table1_emodb"].values[table1_row(4, None)] == 59.6
    assert TABLES["table2_ravdess"].values["1D CNN GRU (LogMFB, energy, pitch)"] == 30.5
    assert len(TABLES["table1_emodb"].values) == 16


def test_run_in_worker_processes_matches_one_process():
    from serlib.data import load_corpus

    c = load_corpus("embedded", size="tiny", progress=False)
    folds = leow.make_folds(c)[:2]
    knobs = dict(encoders=["cnn_bigru"], gammas=[2.5], cnn_layers=[1], max_epochs=1, filters=[4], gru_units=[8],
                 fc_units=[8], probe=False)
    one = leow.run(leow.Config.for_profile("smoke", workers=1, **knobs), c, folds, progress=False)
    two = leow.run(leow.Config.for_profile("smoke", workers=2, **knobs), c, folds, progress=False)
    assert one.meta["processes"] == 1 and two.meta["processes"] == 2
    cols = ["key", "fold", "seed", "best_epoch", "val_accuracy", "accuracy", "uar"]
    pd.testing.assert_frame_equal(one.scores[cols], two.scores[cols])
    assert set(one.embeddings) == {"cnn_bigru/L1/2.50"} and one.embeddings["cnn_bigru/L1/2.50"].shape == (len(c), 32)


# --------------------------------------------------------------------------- the notebook
# Numbers of the smoke tables that no CPU math kernel can move; the rest are model numbers.
_PAPER = ["paper accuracy, Emo-DB (%)", "paper accuracy, RAVDESS (%)"]
PIN_EXACT = {"folds.csv": ["*"], "yardstick_folds.csv": ["*"], "table1.csv": _PAPER, "table2.csv": _PAPER}
PIN_MODEL_TEXT = {"table2.csv": ["best row"],  # the grid row chosen on validation accuracy
                  "claims.csv": [RUN_HEADER, "Verdict"],  # model numbers spelt out, and the verdicts on them
                  # the ablation's spread over its two smoke folds and its changes from the first step sit near
                  # zero, where one prediction that flips (of 8-16 test utterances) moves them by 3-6 points
                  "real_speech.csv": [f"{g}: {c}" for g in ("without AL", "2.50") for c in ("std", "change (points)")]}


def check_smoke(res, nb) -> None:
    """The smoke run's tables match their pins, and its networks learn.

    Every network trains 120 Adam steps (20 epochs of 6 batches of 8, the padding masked, the
    rate falling along a cosine) on one fold's 48 training utterances of the tiny corpus and is
    scored on the fold's 16 test utterances (4 classes, chance 25 %), each speaker's input
    standardised with that speaker's own statistics. Over the 5 folds the 2D CNN biGRU rows (with
    and without AL) score about 50 % on average and all 20 networks about 51 %, under the native
    and the portable CPU kernels; the thresholds lie
    about three standard errors above chance, so a network that learns nothing (or a broken
    input, label or fold) fails, while one flipped prediction cannot.
    """
    import nbformat

    check_pins("04_leow_speaker_adversarial", res, exact=PIN_EXACT, model_text=PIN_MODEL_TEXT)
    book = nbformat.read(nb, as_version=4)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    t1 = pd.read_csv(res / "table1.csv", index_col=0)
    ours = t1["ours accuracy (%)"].dropna()
    assert len(ours) == 2  # smoke: 1 layer, without AL and gamma 2.5
    assert ours.mean() >= 37.5, ours.to_dict()  # measured 49-51 under the native and the portable kernels
    assert t1["paper accuracy, Emo-DB (%)"].notna().sum() == 16
    t2 = pd.read_csv(res / "table2.csv", index_col=0)
    assert len(t2) == 3 and t2["ours accuracy (%)"].mean() >= 34.0, t2["ours accuracy (%)"].to_dict()
    comp = pd.read_csv(res / "comparison.csv", index_col=0)
    assert any("RBF-SVM" in r for r in comp.index) and any("adaptive" in r for r in comp.index)
    scores = pd.read_csv(res / "scores.csv", index_col=0)
    assert scores["fold"].nunique() == 5 and len(scores) == 20
    assert scores["uar"].mean() >= 0.34, scores.groupby("key")["uar"].mean().to_dict()  # measured 0.44-0.51
    # not one class for every utterance: macro-F1 of a constant prediction on 4 balanced classes is 0.10
    assert scores["macro_f1"].mean() >= 0.25, scores["macro_f1"].mean()
    probe = pd.read_csv(res / "speaker_probe.csv", index_col=0)
    unseen, majority = probe["probe accuracy (%), unseen speakers"], probe["majority (%), unseen speakers"]
    encoders = ~probe.index.str.startswith("input/")
    assert (unseen[encoders] > majority[encoders]).all(), unseen.to_dict()  # the encoders keep some speaker
    # each speaker's input standardised with their own statistics (input_norm=speaker): the embedded
    # corpus's speakers differ by offsets, so the pooled input features hold less of them than any encoder
    assert unseen[~encoders].max() < unseen[encoders].min(), unseen.to_dict()
    claims_t = pd.read_csv(res / "claims.csv", index_col=0)
    assert list(claims_t.columns) == ["Paper", RUN_HEADER, "Verdict"] and len(claims_t) == 4
    assert set(claims_t["Verdict"]) <= {"held", "not held", "inconclusive"} and not claims_t.isna().any().any()


def test_notebook_smoke(smoke_chapters):
    nb = smoke_chapters.run(NOTEBOOK.stem)  # the session's smoke run, which the strict book shows
    check_smoke(smoke_chapters.results(NOTEBOOK.stem), nb)


def test_notebook_paper_profile_on_the_emodb_fixture(tmp_path, kernel_session):
    from serlib.data.fixtures import make_fixture
    from serlib.run import NotebookFailed, execute

    root = make_fixture("emodb", tmp_path / "data")
    params = {"profile": "paper", "corpus": "emodb", "data_root": str(root), "max_epochs": 1, "seeds": [0],
              "threads": 1, "workers": 1, "encoders": ["cnn_bigru"], "gammas": [None, 2.5], "cnn_layers": [1],
              "kernel_sizes": [2], "filters": [4], "gru_units": [8], "fc_units": [8], "batch_size": 16,
              "allow_partial": True}  # the fixture is a small copy, so partial against the full release
    execute(NOTEBOOK, params, output_dir=tmp_path / "out", progress=False, session=kernel_session)
    res = tmp_path / "out" / f"{NOTEBOOK.stem}.results"
    t1 = pd.read_csv(res / "table1.csv", index_col=0)
    assert list(t1.columns[:1]) == ["paper accuracy, Emo-DB (%)"]
    assert t1["ours accuracy (%)"].dropna().between(0, 100).all()
    scores = pd.read_csv(res / "scores.csv", index_col=0)
    assert scores["fold"].nunique() == 5
    run = json.loads((res / "run.json").read_text())
    assert run["allow_partial"] is True
    [emodb] = [c for c in run["corpora"] if c["name"] == "emodb"]
    assert emodb["root"] == str(root) and emodb["coverage"]["complete"] is False
    assert emodb["coverage"]["summary"].startswith("70 of 535")
    # without allow_partial the paper profile refuses the partial copy before training anything
    params.pop("allow_partial")
    with pytest.raises(NotebookFailed, match="allow_partial=true"):
        execute(NOTEBOOK, params, output_dir=tmp_path / "refused", progress=False, session=kernel_session)
