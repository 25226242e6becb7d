"""Figures used by more than one chapter (matplotlib + seaborn). Each returns the Figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["bar_with_error", "confusion_heatmap", "loss_curves", "scatter_by_class", "set_style"]


def set_style() -> None:
    """The book's figure style."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight"})


def loss_curves(history: pd.DataFrame, x: str, ys: Sequence[str], *, hue: str | None = None,
                title: str = "", ax: plt.Axes | None = None, logy: bool = False) -> plt.Figure:
    """Lines of ``ys`` against ``x`` (e.g. epoch vs D and G losses), optionally split by ``hue``."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 3.5))
    groups = [(None, history)] if hue is None else list(history.groupby(hue, sort=False))
    for key, g in groups:
        for y in ys:
            label = y if key is None else f"{y} ({key})"
            ax.plot(g[x], g[y], label=label)
    ax.set_xlabel(x)
    ax.set_ylabel("loss")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def confusion_heatmap(cm: pd.DataFrame, *, title: str = "", ax: plt.Axes | None = None) -> plt.Figure:
    """A row-normalised confusion matrix (true rows, predicted columns) as an annotated heatmap."""
    import seaborn as sns

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.2, 3.6))
    sns.heatmap(cm, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax)
    ax.set_title(title)
    return fig


def scatter_by_class(points: np.ndarray, labels: Sequence[str], *, style: Sequence[str] | None = None,
                     title: str = "", ax: plt.Axes | None = None, alpha: float = 0.6, s: float = 12) -> plt.Figure:
    """2-d points coloured by class (and marked by ``style``, e.g. real vs synthetic)."""
    import seaborn as sns

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 4.2))
    df = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "class": list(labels)})
    if style is not None:
        df["kind"] = list(style)
    sns.scatterplot(data=df, x="x", y="y", hue="class", style="kind" if style is not None else None,
                    alpha=alpha, s=s, ax=ax)
    ax.set_title(title)
    ax.legend(fontsize="small", markerscale=1.2)
    return fig


def bar_with_error(table: pd.DataFrame, *, x: str, y: str, err: str, hue: str | None = None,
                   title: str = "", ylabel: str = "", chance: float | None = None,
                   ax: plt.Axes | None = None) -> plt.Figure:
    """Grouped bars of ``y`` ± ``err`` (e.g. mean UAR ± std over folds and seeds)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 3.8))
    cats = list(dict.fromkeys(table[x]))
    hues = [None] if hue is None else list(dict.fromkeys(table[hue]))
    width = 0.8 / len(hues)
    for i, h in enumerate(hues):
        t = table if h is None else table[table[hue] == h]
        t = t.set_index(x).reindex(cats)
        pos = np.arange(len(cats)) + (i - (len(hues) - 1) / 2) * width
        ax.bar(pos, t[y], width, yerr=t[err], capsize=3, label=h)
    ax.set_xticks(np.arange(len(cats)), cats, rotation=20, ha="right")
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_ylabel(ylabel or y)
    ax.set_title(title)
    if hue is not None or chance is not None:
        ax.legend(fontsize="small")
    return fig
