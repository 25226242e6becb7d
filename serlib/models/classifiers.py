"""The classifiers the papers put on top of features: an RBF-SVM and a small MLP (DNN)."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from torch import nn

__all__ = ["MLP", "rbf_svm"]


def rbf_svm(C: float = 1.0, gamma: str | float = "scale", class_weight: str | None = "balanced",
            standardise: bool = True) -> Pipeline:
    """StandardScaler (fitted on the training data only) + SVC with an RBF kernel.

    ``class_weight="balanced"`` targets UAR on imbalanced corpora; Sahu et al. do not say, so
    it is a documented choice.
    """
    steps = [StandardScaler()] if standardise else []
    return make_pipeline(*steps, SVC(C=C, kernel="rbf", gamma=gamma, class_weight=class_weight))


class MLP(nn.Module):
    """Fully connected classifier: [Linear -> (BatchNorm) -> ReLU -> Dropout] x len(hidden) -> Linear."""

    def __init__(self, n_in: int, n_out: int, hidden: Sequence[int] = (256, 128), dropout: float = 0.3,
                 batch_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = n_in
        for h in hidden:
            layers.append(nn.Linear(d, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers += [nn.ReLU(), nn.Dropout(dropout)]
            d = h
        layers.append(nn.Linear(d, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.net(x)
