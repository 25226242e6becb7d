"""Chapter 5 (Pereira et al. 2018): the tables of a run beside the paper's, and the recorded
real-corpus runs read back in numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...claims import compare
from ...papers import beside
from ...papers.pereira2018 import TABLE1_STD, TABLES
from .running import METHOD_NAMES, Results

__all__ = [
    "curve_summary", "epochs_table", "table1", "table2", "table3", "YARDSTICK_MARGIN", "yardstick_gap",
    "curve_controls", "method_summary",
]


def epochs_table(epochs: pd.DataFrame) -> pd.DataFrame:
    """``(protocol, task) x fold`` table of the supervised module's training length (mean over
    seeds, with the range when the seeds differ), with how it was chosen."""
    if epochs.empty:
        return pd.DataFrame()
    g = epochs.groupby(["protocol", "task", "chosen_by", "fold"], sort=False)["epochs"]
    lo, hi, mean = g.min(), g.max(), g.mean()
    text = [f"{m:g}" if a == b else f"{m:.1f} ({a}-{b})" for m, a, b in zip(mean, lo, hi, strict=True)]
    return pd.Series(text, index=mean.index).unstack("fold").fillna("")


def per_fold_table(scores: pd.DataFrame, metric: str = "accuracy", scale: float = 100.0) -> pd.DataFrame:
    """``method x fold`` table of ``mean ± std`` over seeds (a single value for deterministic methods)."""
    g = scores.groupby(["method", "fold"], sort=False)[metric]
    m, s, n = g.mean() * scale, g.std(ddof=0) * scale, g.count()
    text = [f"{a:.2f} ± {b:.2f}" if k > 1 else f"{a:.2f}" for a, b, k in zip(m, s, n)]
    return pd.Series(text, index=m.index).unstack("fold")


def method_summary(scores: pd.DataFrame, metrics: Sequence[str], scale: float = 100.0) -> pd.DataFrame:
    """Per method: mean over folds of each run, then mean ± std over runs (seeds).

    The std therefore measures the spread between runs, as the paper's Table 1 does; for a
    deterministic method (one run) it is 0.
    """
    out = {}
    for metric in metrics:
        per_run = scores.assign(seed=scores["seed"].fillna(-1)).groupby(["method", "seed"], sort=False)[metric].mean()
        g = per_run.groupby(level=0, sort=False)
        m, s = g.mean() * scale, g.std(ddof=0).fillna(0.0) * scale
        out[f"{metric}_mean"] = m
        out[f"{metric}_std"] = s
        out[metric] = [f"{a:.2f} ± {b:.2f}" for a, b in zip(m, s)]
    res = pd.DataFrame(out)
    res["runs"] = scores.assign(seed=scores["seed"].fillna(-1)).groupby("method", sort=False)["seed"].nunique()
    return res


# ---------------------------------------------------------------------------------------------
# The paper's tables, ours beside them
# ---------------------------------------------------------------------------------------------
def _fold_group(res: Results) -> dict[str, str]:
    return {f.name: (f.test_groups[0] if len(f.test_groups) == 1 else f.name) for f in res.folds}


def table1(res: Results) -> pd.DataFrame:
    """Table 1 layout: accuracy (%) per speaker (mean ± std over runs) and the mean over speakers,
    ours (main method and yardsticks) beside the paper's SAVEE numbers (matched by speaker name)."""
    ours = per_fold_table(res.scores, "accuracy").T.rename(index=_fold_group(res))
    summ = method_summary(res.scores, ["accuracy"])
    ours.loc["mean over speakers"] = summ["accuracy"].reindex(ours.columns).to_numpy()
    ours.columns = [f"ours ({res.corpus.name}): {m}" for m in ours.columns]
    p, a = TABLES["table1"], TABLES["table1_ashwin"]
    out = beside(ours, p).rename(columns={p.frame().columns[0]: "paper: Pereira et al. (SAVEE)"})
    out = out.join(a.frame().rename(columns={a.frame().columns[0]: "paper: Ashwin et al. (SAVEE)"}), how="left")
    for col, t in (("paper: Pereira et al. (SAVEE)", p), ("paper: Ashwin et al. (SAVEE)", a)):
        out.loc["mean over speakers", col] = float(np.mean(list(t.values.values())))
    if "paper: Pereira et al. (SAVEE)" in out.columns:
        out["paper: Pereira et al. (SAVEE)"] = [
            (f"{v:.2f} ± {TABLE1_STD[i]:.2f}" if i in TABLE1_STD else (f"{v:.2f}" if pd.notna(v) else ""))
            for i, v in zip(out.index, out["paper: Pereira et al. (SAVEE)"])]
    return out.fillna("")


def table2(res: Results) -> pd.DataFrame:
    """Table 2 layout: F-score (macro-F1) and arousal / valence CCC, mean ± std over runs."""
    cols: dict[str, dict[str, str]] = {}
    cat = method_summary(res.scores, ["macro_f1"], scale=1.0) if len(res.scores) else pd.DataFrame()
    dim = (method_summary(res.dimensional, ["arousal_ccc", "valence_ccc"], scale=1.0)
           if len(res.dimensional) else pd.DataFrame())
    methods = list(dict.fromkeys(list(cat.index) + [m.replace("SVR", "SVM") for m in dim.index]))
    for m in methods:
        col = {}
        if m in cat.index:
            col["F-score"] = f"{cat.loc[m, 'macro_f1_mean']:.2f} ± {cat.loc[m, 'macro_f1_std']:.2f}"
        dm = m.replace("SVM", "SVR") if m.replace("SVM", "SVR") in dim.index else m
        if dm in dim.index:
            for key, name in (("arousal_ccc", "arousal CCC"), ("valence_ccc", "valence CCC")):
                col[name] = f"{dim.loc[dm, key + '_mean']:.2f} ± {dim.loc[dm, key + '_std']:.2f}"
        cols[f"ours ({res.corpus.name}): {m.replace('RBF-SVM', 'RBF-SVM/SVR')}"] = col
    ours = pd.DataFrame(cols)
    out = beside(ours, TABLES["table2"]).rename(columns={TABLES["table2"].frame().columns[0]: "paper: Pereira et al. (OMG)"})
    for key, name in (("table2_baseline", "paper: Barros et al. baseline (OMG)"),
                      ("table2_challenge", "paper: best challenge audio (OMG)")):
        t = TABLES[key]
        out = out.join(t.frame().rename(columns={t.frame().columns[0]: name}), how="left")
    return out.reindex(["F-score", "arousal CCC", "valence CCC"]).fillna("")


def table3(res: Results) -> pd.DataFrame:
    """Table 3 layout: leave-one-speaker-out accuracy (%), ours (mean ± std over runs of the mean
    over folds) beside the paper's Emo-DB rows; UAR too for ours."""
    summ = method_summary(res.scores, ["accuracy", "uar"])
    ours = pd.DataFrame({f"ours ({res.corpus.name}) accuracy (%)": summ["accuracy"],
                         f"ours ({res.corpus.name}) UAR (%)": summ["uar"]})
    p = TABLES["table3"]
    out = beside(ours, p).rename(columns={p.frame().columns[0]: "paper: accuracy (%), Emo-DB"})
    return out.fillna("")


def curve_summary(curve: pd.DataFrame, metric: str = "uar") -> pd.DataFrame:
    """``method x fraction`` table of ``mean ± std`` over seeds, in percent."""
    g = curve.groupby(["method", "fraction"], sort=False)[metric]
    m, s = g.mean() * 100, g.std(ddof=0).fillna(0) * 100
    return pd.Series([f"{a:.1f} ± {b:.1f}" for a, b in zip(m, s)], index=m.index).unstack("fraction")


# ---------------------------------------------------------------------------------------------
# Recorded real-corpus runs, read back
# ---------------------------------------------------------------------------------------------
def _leading_number(cell: Any) -> float:
    """``"29.07 ± 0.62"`` -> 29.07 (NaN for an empty cell)."""
    try:
        return float(str(cell).split("±")[0])
    except ValueError:
        return float("nan")


YARDSTICK_MARGIN = 5.0
"""Accuracy points within which the frozen BEGAN encoder is said to be level with the yardstick
in a recorded run (:func:`yardstick_gap`)."""


def _pretrain_name(rec: Any) -> str | None:
    """The corpus a recorded run's BEGAN was pretrained on (its corpus in the role ``pretrain``)."""
    pre = [c for c in rec.run.get("corpora", []) if c.get("role") == "pretrain"]
    return pre[0]["name"] if pre else None


def curve_controls(records: Sequence[Any]) -> list[dict[str, Any]]:
    """For each recorded run with a learning curve, its controls at the largest share of labels
    (UAR, %, mean over seeds): ``frozen`` (the pretrained, frozen encoder + head), ``random``
    (the same encoder with random weights), ``end_to_end`` (the same network trained without
    pretraining) and ``yardstick`` (IS10 + RBF-SVM), each None when not run; with ``corpus``,
    ``fraction`` and ``pretrain`` (as :func:`yardstick_gap`). Empty when no record has a curve."""
    out = []
    for rec in records:
        table = rec.tables.get("learning_curve_summary")
        if table is None or table.empty:
            continue
        col = max(table.columns, key=lambda c: float(c))
        values: dict[str, float | None] = {}
        for key, kind in (("frozen", "began_frozen"), ("random", "random_frozen"), ("end_to_end", "end_to_end"),
                          ("yardstick", "is10_svm")):
            name = METHOD_NAMES[kind]
            v = _leading_number(table.loc[name, col]) if name in table.index else float("nan")
            values[key] = None if np.isnan(v) else v
        out.append({"corpus": rec.corpus, "fraction": float(col), **values, "pretrain": _pretrain_name(rec)})
    return out


def yardstick_gap(records: Sequence[Any]) -> list[dict[str, Any]]:
    """For each recorded real-corpus run (:func:`serlib.recorded.load_recorded`) whose
    leave-one-speaker-out table holds both, the frozen BEGAN encoder + head against the plain
    yardstick on the same folds: one dict per run with ``corpus``, ``began`` and ``yardstick``
    (accuracy, %), ``verdict`` (:func:`serlib.claims.compare` of the two with the margin
    :data:`YARDSTICK_MARGIN`: ``"ahead"``, ``"behind"`` or ``"tie"``), ``adaptive`` (the
    speaker-adaptive yardstick's accuracy, None when not run) and ``pretrain`` (the
    corpus its BEGAN was pretrained on, ``"embedded"`` for the embedded corpus's unlabelled pool,
    None when the run does not record it). Empty when no record has them."""
    out = []
    for rec in records:
        table = rec.tables.get("table3_loso")
        if table is None:
            continue
        acc = [c for c in table.columns if str(c).startswith("ours") and "accuracy" in str(c)]
        began = [r for r in table.index if str(r).startswith("BEGAN encoder (pretrained")]
        svm = [r for r in table.index if str(r) == "IS10 + RBF-SVM"]
        adaptive = [r for r in table.index if str(r).startswith("IS10 + RBF-SVM (speaker-adaptive")]
        if not (acc and began and svm):
            continue
        ours, yard = _leading_number(table.loc[began[0], acc[0]]), _leading_number(table.loc[svm[0], acc[0]])
        if np.isnan(ours) or np.isnan(yard):
            continue
        adapt = _leading_number(table.loc[adaptive[0], acc[0]]) if adaptive else float("nan")
        out.append({"corpus": rec.corpus, "began": ours, "yardstick": yard,
                    "adaptive": None if np.isnan(adapt) else adapt,
                    "verdict": compare(ours, yard, margin=YARDSTICK_MARGIN),
                    "pretrain": _pretrain_name(rec)})
    return out
