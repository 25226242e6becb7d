"""Pieces every chapter uses: the classical yardstick and fold-wise evaluation helpers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..data.corpus import Corpus
from ..features import functionals, speaker_normalise
from ..metrics import classification_scores, confusion
from ..models.classifiers import rbf_svm
from ..splits import Fold, check_fold

__all__ = ["evaluate_predictions", "svm_yardstick"]


def evaluate_predictions(y_true: np.ndarray, y_pred: np.ndarray, **tags: object) -> dict[str, object]:
    """UAR, accuracy and macro-F1 of one fold's predictions, with ``tags`` (method, fold, seed ...)."""
    return {**tags, **classification_scores(y_true, y_pred)}


def svm_yardstick(corpus: Corpus, folds: Sequence[Fold], *, feature_set: str = "is10",
                  speaker_adaptive: bool = False, C: float = 1.0, progress: bool = True,
                  features: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The book's yardstick: openSMILE functionals -> standardisation -> RBF-SVM, on ``folds``.

    With ``speaker_adaptive`` every speaker is first z-normalised with their own features (test
    speakers included, their labels never used); the method column says so.

    Returns
    -------
    (per-fold scores, summed confusion matrix normalised per true class)
    """
    X = (features if features is not None else functionals(corpus, feature_set, progress=progress)).to_numpy()
    if speaker_adaptive:
        X = speaker_normalise(X, corpus.speakers)
    y = corpus.y
    method = f"{feature_set.upper()} + RBF-SVM" + (" (speaker-adaptive norm.)" if speaker_adaptive else "")
    rows, y_all, p_all = [], [], []
    for fold in folds:
        check_fold(fold, y, corpus.labels)
        clf = rbf_svm(C=C).fit(X[fold.train], y[fold.train])
        pred = clf.predict(X[fold.test])
        rows.append(evaluate_predictions(y[fold.test], pred, method=method, fold=fold.name))
        y_all.append(y[fold.test])
        p_all.append(pred)
    cm = confusion(np.concatenate(y_all), np.concatenate(p_all), corpus.labels)
    return pd.DataFrame(rows), cm
