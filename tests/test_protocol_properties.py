"""Properties of the evaluation protocol that every chapter relies on: label coding, who trains
and who is tested, where standardisation statistics come from, what the metrics measure and
which epoch early stopping hands back.

Each test is a few seconds at most and asserts a property, never a trained model's number, so
it holds on every CPU. Together with ``tests/test_method_properties.py`` these are the tests
that ``tests/mutants.py`` expects to fail when the code under them is broken on purpose.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from serlib import metrics, splits
from serlib.features import MelBatches, Standardiser
from serlib.train import Stopping, fit
from tests.conftest import make_table_corpus


# --------------------------------------------------------------------------- labels
def test_integer_codes_index_the_corpus_label_order():
    # the label order is not alphabetical, so a coding by sorted names would differ
    c = make_table_corpus(n_speakers_per_gender=2, per_class=2, labels=("neutral", "angry", "sad", "happy"))
    y = c.y
    assert [c.labels[k] for k in y] == list(c.table["emotion"])
    assert np.bincount(y).tolist() == [8, 8, 8, 8]
    sub = c.subset(c.table["emotion"] != "neutral")  # a subset keeps the coding of the whole label set
    assert sorted(set(sub.y.tolist())) == [1, 2, 3]


def test_emodb_file_letters_give_the_german_emotions(tmp_path):
    from serlib.data import load_corpus
    from serlib.data.fixtures import make_fixture

    c = load_corpus("emodb", make_fixture("emodb", tmp_path / "emodb"))
    german = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness",
              "N": "neutral"}  # Wut, Langeweile, Ekel, Angst, Freude, Trauer, neutral
    t = c.table
    letters = t["utt_id"].str[5]  # 03a01Wa: speaker 03, text a01, emotion letter W, version a
    assert (letters == t["raw_emotion"]).all()
    assert list(t["emotion"]) == [german[k] for k in letters]
    assert [c.labels[k] for k in c.y] == list(t["emotion"])


# --------------------------------------------------------------------------- splits
def _speakers(c, rows):
    return set(c.speakers[rows])


def test_leave_one_speaker_out_never_trains_on_the_test_speaker(table_corpus):
    c = table_corpus
    folds = splits.leave_one_speaker_out(c)
    assert len(folds) == len(set(c.speakers)) == 10
    for f in folds:
        assert _speakers(c, f.test) == set(f.test_groups) and len(f.test_groups) == 1
        assert not _speakers(c, f.train) & _speakers(c, f.test)
        # every other speaker trains, with all their rows
        assert sorted(np.concatenate([f.train, f.test])) == list(range(len(c)))


def test_leave_two_speakers_out_keeps_test_and_validation_pairs_out_of_training():
    c = make_table_corpus(n_speakers_per_gender=4, per_class=2)
    for seed in (0, 3):
        for f in splits.leave_two_speakers_out(c, seed=seed):
            tr, va, te = _speakers(c, f.train), _speakers(c, f.val), _speakers(c, f.test)
            assert te == set(f.test_groups) and va == set(f.val_groups)
            assert len(te) == len(va) == 2 and len(tr) == 4
            # early stopping reads the validation pair: it is neither the test pair nor trained on
            assert not va & te and not tr & te and not tr & va
            assert len(f.train) + len(f.val) + len(f.test) == len(c)


# --------------------------------------------------------------------------- standardisation
def test_standardiser_applies_the_fitted_statistics_to_new_data():
    rng = np.random.default_rng(0)
    train = rng.normal(0.0, 1.0, (20, 3, 10)).astype(np.float32)
    test = rng.normal(5.0, 3.0, (6, 3, 10)).astype(np.float32)
    norm = Standardiser.fit(train)
    z = norm(test)
    # the held-out data keep their shift and scale relative to the training data
    assert z.mean() > 3.0 and z.std() > 2.0
    np.testing.assert_allclose(norm(test[0]), (test[0] - norm.mean[:, None]) / norm.std[:, None], rtol=1e-5)
    np.testing.assert_allclose(norm(train).mean(axis=(0, 2)), 0.0, atol=1e-5)


def test_mel_batches_take_their_statistics_from_the_training_rows_only():
    rng = np.random.default_rng(1)
    mats = [rng.normal(0.0, 1.0, (4, 20)).astype(np.float32) for _ in range(4)]
    mats += [rng.normal(50.0, 1.0, (4, 20)).astype(np.float32) for _ in range(2)]  # held-out rows, far away
    fitted = MelBatches(mats).fit_stats([0, 1, 2, 3])
    assert np.all(np.abs(fitted.norm.mean) < 1.0)
    held_out = fitted.batch([4, 5], "cpu")["x"].numpy()
    assert held_out.mean() > 20.0


# --------------------------------------------------------------------------- metrics
def test_uar_is_the_mean_of_per_class_recalls():
    y = np.array([0] * 8 + [1] * 2 + [2] * 2)
    p = np.array([0] * 8 + [0, 1] + [2, 2])
    assert metrics.uar(y, p) == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert metrics.accuracy(y, p) == pytest.approx(11 / 12)
    # predicting the majority class everywhere: accuracy 8/12, UAR chance (1/3)
    assert metrics.uar(y, np.zeros(12, int)) == pytest.approx(1 / 3)


def test_ccc_penalises_bias_and_scale_unlike_pearson():
    x = np.linspace(-1.0, 1.0, 41)
    assert metrics.ccc(x, x) == pytest.approx(1.0)
    # a perfectly correlated but shifted or rescaled prediction is not concordant
    assert metrics.ccc(x, x + 1.0) < 0.5
    assert metrics.ccc(x, 3.0 * x) == pytest.approx(2 * 3 * np.var(x) / (np.var(x) + 9 * np.var(x)))
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=200), rng.normal(size=200)
    expected = 2 * np.cov(a, b, bias=True)[0, 1] / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
    assert metrics.ccc(a, b) == pytest.approx(expected)


# --------------------------------------------------------------------------- early stopping
def test_fit_hands_back_the_best_validation_epochs_weights():
    layer = nn.Linear(1, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.0)
    state = {"epoch": 0}
    scores = [0.2, 0.5, 0.9, 0.4, 0.3, 0.1]  # the validation score peaks at epoch 3

    def step(idx):
        with torch.no_grad():  # each epoch writes its own number into the weights
            layer.weight.fill_(float(state["epoch"] + 1))
        return {"loss": torch.zeros(())}

    def epoch_end(epoch):
        state["epoch"] = epoch
        return {}

    out = fit(step, n=4, batch_size=4, stopping=Stopping(max_epochs=6, patience=2), modules={"m": layer},
              optimizers={"opt": opt}, validate=lambda: {"val": scores[state["epoch"] - 1]}, epoch_end=epoch_end)
    assert out.best_epoch == 3 and out.best_score == pytest.approx(0.9)
    assert out.epochs_trained == 5 and out.stopped_early  # two epochs without improvement after the third
    assert float(layer.weight.detach()) == 3.0  # the weights of epoch 3, not of the last epoch trained
