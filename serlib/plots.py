"""Figures used by more than one chapter (matplotlib + seaborn). Each returns the Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["BLOCK_KINDS", "bar_with_error", "block_diagram", "confusion_heatmap", "loss_curves", "scatter_by_class",
           "set_style"]


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


BLOCK_KINDS = {
    "data": ("#eeeeee", "input or data"),
    "net": ("#cfe2f3", "trained or fitted model"),
    "frozen": ("#d9d2e9", "frozen (not trained here)"),
    "adversary": ("#f4cccc", "adversary / discriminator"),
    "loss": ("#fff2cc", "loss or score"),
    "output": ("#d9ead3", "classifier or output"),
}
"""The kinds of box :func:`block_diagram` draws: kind -> (fill colour, legend text)."""


def _block_spec(name: Any, spec: Any) -> tuple[str, float, float, str]:
    """(label, x, y, kind) of one block description, or a ValueError that says what is wrong."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"block name {name!r}: a block is named by a non-empty string")
    if not isinstance(spec, Mapping):
        raise ValueError(f"block {name!r}: expected a mapping with 'label', 'at' (x, y) and optionally 'kind', "
                         f"got {spec!r}")
    unknown = set(spec) - {"label", "at", "kind"}
    if unknown:
        raise ValueError(f"block {name!r}: unknown keys {sorted(unknown)}; a block takes 'label', 'at' and 'kind'")
    label, at, kind = spec.get("label", name), spec.get("at"), spec.get("kind", "net")
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"block {name!r}: 'label' must be a non-empty string")
    if (not isinstance(at, Sequence) or isinstance(at, str) or len(at) != 2
            or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in at)):
        raise ValueError(f"block {name!r}: 'at' must be two finite numbers (x, y), got {at!r}")
    if kind not in BLOCK_KINDS:
        raise ValueError(f"block {name!r}: kind {kind!r} is not one of {sorted(BLOCK_KINDS)}")
    return label, float(at[0]), float(at[1]), kind


def block_diagram(blocks: Mapping[str, Mapping[str, Any]], arrows: Sequence[Sequence[Any]], *,
                  title: str = "", box_size: tuple[float, float] = (1.7, 0.75),
                  scale: float = 1.0, legend: bool = True) -> plt.Figure:
    """A model drawn as labelled boxes joined by arrows, from a declarative description.

    ``blocks`` maps a name to ``{"label": text, "at": (x, y), "kind": kind}``: the text in the
    box (``\\n`` breaks a line), the centre of the box in grid units (x to the right, y up) and
    one of :data:`BLOCK_KINDS`, which sets the fill colour (default ``"net"``). ``arrows`` lists
    ``(source, target)``, ``(source, target, label)`` or ``(source, target, label, style)`` with
    ``style`` ``"solid"`` (the forward pass, the default) or ``"dashed"`` (a gradient, a loss or a
    copy of weights). A box is ``box_size`` grid units wide and high; ``scale`` inches per grid
    unit sizes the figure. Each box patch carries the gid ``"block:<name>"`` and each arrow
    ``"arrow:<source>-><target>"``, so that a test can find them.

    An arrow naming a block that is not described, a box without a position, or an unknown kind
    or style is a :class:`ValueError` that names the culprit.
    """
    from matplotlib.patches import FancyBboxPatch, Patch

    if not blocks:
        raise ValueError("block_diagram: no blocks to draw; describe at least one block")
    specs = {name: _block_spec(name, spec) for name, spec in blocks.items()}
    parsed = []
    for i, arrow in enumerate(arrows):
        if isinstance(arrow, str) or not isinstance(arrow, Sequence) or not 2 <= len(arrow) <= 4:
            raise ValueError(f"arrow {i} {arrow!r}: expected (source, target[, label[, style]])")
        src, dst = arrow[0], arrow[1]
        label = arrow[2] if len(arrow) > 2 else ""
        style = arrow[3] if len(arrow) > 3 else "solid"
        for end in (src, dst):
            if not isinstance(end, str) or end not in specs:
                raise ValueError(f"arrow {i} ({src!r} -> {dst!r}) names the unknown block {end!r}; "
                                 f"the blocks are {sorted(specs)}")
        if src == dst:
            raise ValueError(f"arrow {i} goes from block {src!r} to itself")
        if not isinstance(label, str):
            raise ValueError(f"arrow {i} ({src!r} -> {dst!r}): its label must be a string, got {label!r}")
        if style not in ("solid", "dashed"):
            raise ValueError(f"arrow {i} ({src!r} -> {dst!r}): style {style!r} is not 'solid' or 'dashed'")
        parsed.append((src, dst, label, style))

    w, h = box_size
    xs = [x for _, x, _, _ in specs.values()]
    ys = [y for _, _, y, _ in specs.values()]
    x0, x1, y0, y1 = min(xs) - w / 2 - 0.3, max(xs) + w / 2 + 0.3, min(ys) - h / 2 - 0.3, max(ys) + h / 2 + 0.3
    fig, ax = plt.subplots(figsize=(max(3.0, (x1 - x0) * scale), max(1.5, (y1 - y0) * scale)))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    patches = {}
    for name, (label, x, y, kind) in specs.items():
        box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                             facecolor=BLOCK_KINDS[kind][0], edgecolor="#444444", linewidth=1.0, gid=f"block:{name}")
        ax.add_patch(box)
        patches[name] = box
        ax.text(x, y, label, ha="center", va="center", fontsize=8.5, gid=f"label:{name}", wrap=False)
    for src, dst, label, style in parsed:
        ann = ax.annotate("", xy=specs[dst][1:3], xytext=specs[src][1:3],
                          arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.1, "shrinkA": 2, "shrinkB": 2,
                                      "linestyle": "--" if style == "dashed" else "-",
                                      "patchA": patches[src], "patchB": patches[dst], "mutation_scale": 11})
        ann.set_gid(f"arrow:{src}->{dst}")
        if label:
            (xa, ya), (xb, yb) = specs[src][1:3], specs[dst][1:3]
            ax.text((xa + xb) / 2, (ya + yb) / 2, label, ha="center", va="center", fontsize=7.5, style="italic",
                    gid=f"arrow-label:{src}->{dst}",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})
    if legend:
        kinds = list(dict.fromkeys(kind for _, _, _, kind in specs.values()))
        handles = [Patch(facecolor=BLOCK_KINDS[k][0], edgecolor="#444444", label=BLOCK_KINDS[k][1]) for k in kinds]
        if any(style == "dashed" for *_, style in parsed):
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color="#333333", linestyle="--", label="gradient, loss or weights"))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(handles)),
                  fontsize=7.5, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
