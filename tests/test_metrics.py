import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from serlib import metrics


@pytest.fixture
def preds():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 4, 200))
    return y, p


def test_uar_matches_sklearn_balanced_accuracy(preds):
    y, p = preds
    assert metrics.uar(y, p) == pytest.approx(balanced_accuracy_score(y, p))


def test_uar_differs_from_accuracy_on_imbalanced_data():
    y = np.array([0] * 90 + [1] * 10)
    p = np.zeros(100, dtype=int)
    assert metrics.accuracy(y, p) == pytest.approx(0.9)
    assert metrics.uar(y, p) == pytest.approx(0.5)


def test_accuracy_and_f1_match_sklearn(preds):
    y, p = preds
    assert metrics.accuracy(y, p) == pytest.approx(accuracy_score(y, p))
    assert metrics.macro_f1(y, p) == pytest.approx(f1_score(y, p, average="macro"))


def test_ccc_properties():
    x = np.linspace(-1, 1, 50)
    assert metrics.ccc(x, x) == pytest.approx(1.0)
    assert metrics.ccc(x, -x) == pytest.approx(-1.0)
    # a shifted copy is perfectly correlated but not concordant
    assert metrics.ccc(x, x + 1) < 0.5
    assert metrics.ccc(x, np.full_like(x, 3.0)) == pytest.approx(0.0)


def test_confusion_rows_normalised(preds):
    y, p = preds
    cm = metrics.confusion(y, p, ["a", "b", "c", "d"])
    np.testing.assert_allclose(cm.to_numpy().sum(axis=1), 1.0)
    raw = metrics.confusion(y, p, ["a", "b", "c", "d"], normalise=False)
    np.testing.assert_array_equal(raw.to_numpy(), confusion_matrix(y, p, labels=[0, 1, 2, 3]))


def test_summarise_mean_std():
    import pandas as pd

    df = pd.DataFrame({"method": ["a", "a", "b", "b"], "uar": [0.5, 0.7, 0.2, 0.2]})
    s = metrics.summarise(df, "method")
    assert s.loc["a", "uar_mean"] == pytest.approx(60.0)
    assert s.loc["a", "uar_std"] == pytest.approx(10.0)
    assert s.loc["b", "uar"] == "20.00 ± 0.00"
