"""Chapter 5 (Pereira et al. 2018): the chapter's figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from .running import Pretrained

__all__ = ["plot_convergence", "plot_learning_curve", "plot_spectrograms"]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot_convergence(history: pd.DataFrame, gamma: float) -> plt.Figure:
    """M_global, the reconstruction losses and k_t over BEGAN training."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    ax = axes[0]
    ax.plot(history["epoch"], history["m_global"], label=r"$M_{global}$", lw=2)
    ax.plot(history["epoch"], history["loss_real"], label=r"$\mathcal{L}(x)$", alpha=0.8)
    ax.plot(history["epoch"], history["loss_fake"], label=r"$\mathcal{L}(G(z))$", alpha=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("L1 reconstruction error")
    ax.set_title("convergence measure and losses")
    ax.legend(fontsize="small")
    ax = axes[1]
    ax.plot(history["epoch"], history["k"], color="C3")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"$k_t$")
    ax.set_title(rf"equilibrium controller $k_t$ ($\gamma$ = {gamma})")
    fig.tight_layout()
    return fig


def plot_spectrograms(pre: Pretrained, real: np.ndarray, *, n: int = 4, seed: int = 0) -> plt.Figure:
    """Rows: real chunks, their reconstructions ``D(x)``, and generated chunks ``G(z)`` (normalised units)."""
    n = min(n, len(real))
    x = torch.as_tensor(np.asarray(real[:n], dtype=np.float32))
    if x.dim() == 3:
        x = x[:, None]
    model = pre.model.cpu().eval()
    rec = model.reconstruct(x)
    gen = model.generate(n, generator=torch.Generator().manual_seed(seed))
    panels = [("real", x), ("reconstructed D(x)", rec), ("generated G(z)", gen)]
    vmin, vmax = float(np.percentile(x.numpy(), 1)), float(np.percentile(x.numpy(), 99))
    fig, axes = plt.subplots(3, n, figsize=(2.6 * n, 6.4), squeeze=False)
    for r, (name, t) in enumerate(panels):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(t[c, 0].numpy(), origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name)
    fig.suptitle("1-s chunks: frequency bins (up) x frames (right), z-normalised log magnitude")
    fig.tight_layout()
    return fig


def plot_learning_curve(curve: pd.DataFrame, metric: str = "uar", chance: float | None = None) -> plt.Figure:
    """Mean ± std over seeds of ``metric`` against the share of training labels, one line per method."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (method, g) in enumerate(curve.groupby("method", sort=False)):
        s = g.groupby("fraction")[metric].agg(["mean", "std"]).fillna(0)
        ax.errorbar(s.index * 100, s["mean"] * 100, yerr=s["std"] * 100, marker="o", capsize=3, label=method,
                    color=f"C{i}")
    if chance is not None:
        ax.axhline(chance * 100, color="grey", ls="--", lw=1, label="chance")
    ax.set_xscale("log")
    fr = sorted(curve["fraction"].unique())
    ax.set_xticks([f * 100 for f in fr], [f"{f * 100:g}%" for f in fr])
    ax.set_xlabel("share of the training labels used")
    ax.set_ylabel(f"{metric.upper()} (%)")
    ax.set_title("does the BEGAN pretraining help?")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
