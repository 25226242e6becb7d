"""Chapter 4 (Leow et al.): the chapter's figures."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...data import Corpus
from ...features import Standardiser
from ...metrics import confusion
from ...models.sier import lambda_schedule
from ...papers.leow import gamma_label
from .running import Results
from .tables import _gamma

__all__ = [
    "plot_confusions", "plot_lambda_schedule", "plot_padded_inputs", "plot_probe", "plot_projection",
    "plot_training_curves",
    "plot_per_speaker",
]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot_padded_inputs(corpus: Corpus, mfcc: np.ndarray) -> plt.Figure:
    """The padded MFCC matrices of the shortest and the longest utterance (each coefficient
    standardised over the corpus for display, so that padding and speech are both visible)."""
    z = Standardiser.fit(mfcc, floor=0.0, offset=1e-8)(mfcc)
    dur = corpus.table["duration"].to_numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 2.8), sharey=True)
    for ax, i, what in zip(axes, (int(np.argmin(dur)), int(np.argmax(dur))), ("shortest", "longest")):
        ax.imshow(z[i], aspect="auto", origin="lower", cmap="magma", vmin=-2.5, vmax=2.5, interpolation="nearest")
        ax.grid(False)
        ax.set(title=f"{what}: {corpus.table['utt_id'][i]} ({corpus.table['emotion'][i]}, {dur[i]:.1f} s)",
               xlabel="frame (32 ms hop at 16 kHz)")
    axes[0].set_ylabel("MFCC (standardised)")
    fig.tight_layout()
    return fig


def plot_lambda_schedule(gammas: Sequence[float] = (1.25, 2.5, 3.33)) -> plt.Figure:
    """lambda(p) = 2 / (1 + exp(-gamma p)) - 1 over training, one line per gamma."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    p = np.linspace(0, 1, 201)
    for g in gammas:
        lam = lambda_schedule(p, g)
        ax.plot(p, lam, label=f"γ = {g:g} (λ at end {float(lambda_schedule(1.0, g)):.2f})")
    ax.set_xlabel("fraction of training done p")
    ax.set_ylabel("λ")
    ax.set_ylim(0, 1)
    ax.set_title("adversarial weight λ(p) for each γ")
    ax.legend(fontsize="small")
    return fig


def plot_training_curves(res: Results, layers: int | None = None) -> plt.Figure:
    """J_e, J_s, lambda and validation accuracy per epoch (mean over folds and seeds) for the
    2D CNN biGRU rows at ``layers`` CNN blocks (default: the first depth that was run).

    With early stopping the runs have different lengths: an epoch's mean is over the runs that
    reached it. Each run's chosen epoch is marked (▼) at its validation accuracy."""
    h = res.histories[res.histories["encoder"] == "cnn_bigru"]
    if h.empty:
        h = res.histories
    else:
        layers = layers if layers is not None else int(h["layers"].dropna().iloc[0])
        h = h[h["layers"] == layers]
    h = h.assign(setting=[gamma_label(_gamma(g)) for g in h["gamma"]])
    m = h.groupby(["setting", "epoch"], sort=False)[["J_e", "J_s", "lambda", "val_accuracy", "speaker_accuracy"]]
    m = m.mean().reset_index()
    sc = res.scores[res.scores["key"].isin(set(h["key"]))]
    chosen = {st: g for st, g in sc.assign(setting=[gamma_label(_gamma(x)) for x in sc["gamma"]]).groupby("setting")}
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for setting, g in m.groupby("setting", sort=False):
        line = axes[0].plot(g["epoch"], g["J_e"], label=f"J_e ({setting})")[0]
        if g["J_s"].notna().any():
            axes[0].plot(g["epoch"], g["J_s"], ls="--", color=line.get_color(), label=f"J_s ({setting})")
            axes[1].plot(g["epoch"], g["speaker_accuracy"], color=line.get_color(), label=f"γ = {setting}")
        axes[2].plot(g["epoch"], 100 * g["val_accuracy"], color=line.get_color(), label=setting)
        kept = chosen.get(setting)
        if kept is not None and not kept.empty:  # each run's chosen epoch, at its validation accuracy
            axes[2].scatter(kept["best_epoch"], 100 * kept["val_accuracy"], color=line.get_color(), marker="v",
                            s=22, alpha=0.7, zorder=3)
    n_spk = len(set(res.speakers[res.folds[0].train])) if res.folds else 0
    if n_spk:
        axes[1].axhline(1 / n_spk, color="grey", ls=":", lw=1, label="chance")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="training losses (J_e solid, J_s dashed)")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="speaker classifier on training batches")
    axes[2].set(xlabel="epoch", ylabel="accuracy (%)", title="emotion accuracy, validation pair (▼ epoch kept)")
    for ax in axes:
        ax.legend(fontsize="x-small")
    fig.suptitle(f"2D CNN biGRU, {layers} CNN layer(s): mean over folds and seeds" if layers else "training curves")
    fig.tight_layout()
    return fig


def plot_confusions(res: Results, keys: Sequence[str], extra: dict[str, pd.DataFrame] | None = None) -> plt.Figure:
    """Row-normalised confusion matrices of the test predictions (all folds and seeds pooled)."""
    from ...plots import confusion_heatmap

    mats: dict[str, pd.DataFrame] = dict(extra or {})
    for k in keys:
        p = res.predictions[res.predictions["key"] == k]
        if not p.empty:
            mats[k] = confusion(p["y_true"].to_numpy(), p["y_pred"].to_numpy(), res.labels)
    fig, axes = plt.subplots(1, len(mats), figsize=(3.9 * len(mats), 3.6), squeeze=False)
    for ax, (name, cm) in zip(axes[0], mats.items()):
        confusion_heatmap(cm, title=name, ax=ax)
    fig.tight_layout()
    return fig


def plot_per_speaker(table: pd.DataFrame, chance: float | None = None) -> plt.Figure:
    """Bars of :func:`per_speaker_accuracy`: one group per test speaker, one bar per model."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(table) * max(1, table.shape[1])), 3.4))
    width = 0.8 / max(1, table.shape[1])
    x = np.arange(len(table))
    for i, col in enumerate(table.columns):
        ax.bar(x + (i - (table.shape[1] - 1) / 2) * width, table[col], width, label=col)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="majority class")
    ax.set_xticks(x, [str(s) for s in table.index], rotation=60 if len(table) > 12 else 0, fontsize="small")
    ax.set(xlabel="test speaker", ylabel="test accuracy (%)", ylim=(0, 100))
    ax.legend(fontsize="small", ncol=min(3, table.shape[1] + 1))
    fig.tight_layout()
    return fig


def plot_projection(res: Results, keys: Sequence[str], rows: np.ndarray | None = None) -> plt.Figure:
    """PCA of the pooled encoder features (first fold, first seed), coloured by speaker and by
    emotion, one row of panels per run key; ``rows`` defaults to the fold's training speakers."""
    from sklearn.decomposition import PCA

    keys = [k for k in keys if k in res.embeddings]
    rows = rows if rows is not None else res.folds[0].train
    fig, axes = plt.subplots(len(keys), 2, figsize=(10, 4 * len(keys)), squeeze=False)
    for r, k in enumerate(keys):
        z = res.embeddings[k][rows]
        pts = PCA(2).fit_transform((z - z.mean(0)) / (z.std(0) + 1e-8))
        for c, (what, lab) in enumerate((("speaker", res.speakers[rows]),
                                         ("emotion", np.array(res.labels)[res.y[rows]]))):
            ax = axes[r, c]
            for val in sorted(set(lab)):
                m = lab == val
                ax.scatter(pts[m, 0], pts[m, 1], s=9, alpha=0.65, label=val)
            ax.set_title(f"{k}: coloured by {what}", fontsize="small")
            ax.legend(fontsize="x-small", markerscale=1.5, ncol=2)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_probe(table: pd.DataFrame) -> plt.Figure:
    """Bars of speaker-probe accuracy (unseen and training speakers) with the majority rates."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    names = list(table.index)
    pos = np.arange(len(names))
    for i, part in enumerate(("unseen", "training")):
        col = f"probe accuracy (%), {part} speakers"
        if col not in table:
            continue
        ax.bar(pos + (i - 0.5) * 0.4, table[col], 0.4, yerr=table[f"std, {part} speakers"], capsize=3,
               label=f"{part} speakers")
        ax.scatter(pos + (i - 0.5) * 0.4, table[f"majority (%), {part} speakers"], color="k", marker="_", s=200,
                   zorder=3, label="majority class" if i == 0 else None)
    ax.set_xticks(pos, names, rotation=25, ha="right", fontsize="small")
    ax.set_ylabel("speaker-ID accuracy (%)")
    ax.set_ylim(0, 102)
    ax.set_title("how much speaker identity the frozen representation still carries")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
