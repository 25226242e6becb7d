"""Metrics used by the papers: UAR, accuracy (WA), macro-F1, CCC, confusion matrices, and
mean +- std summaries over folds and seeds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["accuracy", "ccc", "classification_scores", "confusion", "macro_f1", "mean_interval", "summarise", "uar"]


def uar(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted average recall: the mean of per-class recalls over the classes in ``y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.unique(y_true)
    if len(classes) == 0:
        raise ValueError("uar of an empty set")
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Weighted accuracy (WA): the fraction of utterances classified right."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(y_true == y_pred))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-averaged F1 over the classes present in ``y_true`` or ``y_pred``."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro"))


def ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Lin's concordance correlation coefficient (OMG-Emotion's arousal/valence metric)."""
    x, y = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(), y.var()
    cov = np.mean((x - mx) * (y - my))
    denom = vx + vy + (mx - my) ** 2
    return float(2 * cov / denom) if denom > 0 else 0.0


def confusion(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], normalise: bool = True) -> pd.DataFrame:
    """Confusion matrix as a labelled table (rows true, columns predicted); rows sum to 1 if normalised."""
    k = len(labels)
    m = np.zeros((k, k), dtype=float)
    for t, p in zip(np.asarray(y_true), np.asarray(y_pred)):
        m[int(t), int(p)] += 1
    if normalise:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    return pd.DataFrame(m, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """UAR, accuracy and macro-F1 together."""
    return {"uar": uar(y_true, y_pred), "accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred)}


def summarise(results: pd.DataFrame, by: str | Sequence[str], metrics: Sequence[str] = ("uar",),
              scale: float = 100.0, decimals: int = 2) -> pd.DataFrame:
    """Mean, standard deviation and count of ``metrics`` per group, plus a ``"mean ± std"`` text column.

    ``results`` has one row per (fold, seed, ...); the std is over those rows.
    """
    by = [by] if isinstance(by, str) else list(by)
    out = []
    for m in metrics:
        g = results.groupby(by, sort=False)[m]
        t = pd.DataFrame({f"{m}_mean": g.mean() * scale, f"{m}_std": g.std(ddof=0) * scale, "n": g.count()})
        t[m] = [f"{a:.{decimals}f} ± {b:.{decimals}f}" for a, b in zip(t[f"{m}_mean"], t[f"{m}_std"])]
        out.append(t)
    res = pd.concat(out, axis=1)
    return res.loc[:, ~res.columns.duplicated()]


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean of ``values`` (one per fold x seed): the folds'
    test speakers taken as a sample of speakers. One value gives no interval (NaN, NaN)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)
