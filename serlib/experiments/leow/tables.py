"""Chapter 4 (Leow et al.): the tables of a run beside the paper's, and the run in numbers for the
chapter's conclusions (:func:`run_summary`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...claims import TIE, compare, paired_difference
from ...metrics import mean_interval, summarise
from ...models.sier import ENCODERS
from ...papers import PaperTable, beside
from ...papers.leow import TABLE2_ROWS, TABLES, table1_row
from .running import Config, Results

__all__ = [
    "TABLE2_ROWS",  # the paper's Table 2 row names, which the notebook's sentences use
    "PROBE_MARGIN", "paper_gain", "al_gains", "ablation_moves", "paper_gain_range", "probe_summary",
    "run_summary", "yardstick_comparison", "beside_paper", "chosen_epochs", "comparison", "probe_table",
    "table1", "table2",
    "key_label", "per_speaker_accuracy",
]


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def _gamma(g: Any) -> float | None:
    """A gamma cell of a results table: NaN/None (without AL) -> None."""
    return None if g is None or (isinstance(g, float) and np.isnan(g)) else float(g)


def _mean_std(df: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """accuracy and UAR (%) mean ± std over folds x seeds, per group."""
    s = summarise(df, by, metrics=("accuracy", "uar"), decimals=1)
    return s.rename(columns={"accuracy_mean": "ours accuracy (%)", "accuracy_std": "ours accuracy std",
                             "uar_mean": "ours UAR (%)", "uar_std": "ours UAR std",
                             "accuracy": "ours accuracy", "uar": "ours UAR", "n": "runs"})


def _paper_tables(table: str, corpus_name: str) -> list[PaperTable]:
    """The paper's columns to show: the corpus's own if it is Emo-DB or RAVDESS, else both."""
    if corpus_name in ("emodb", "ravdess"):
        return [TABLES[f"{table}_{corpus_name}"]]
    return [TABLES[f"{table}_emodb"], TABLES[f"{table}_ravdess"]]


def beside_paper(ours: pd.DataFrame, table: str, corpus_name: str) -> pd.DataFrame:
    """``ours`` next to the paper's accuracy column(s) of ``table`` (``table1`` or ``table2``)."""
    out = ours
    for t in reversed(_paper_tables(table, corpus_name)):
        out = beside(out, t)
    lead = [c for c in out.columns if str(c).startswith("paper")]
    return out[lead + [c for c in out.columns if c not in lead]]


def table1(res: Results, corpus_name: str = "embedded") -> pd.DataFrame:
    """Table 1: accuracy of the 2D CNN biGRU by CNN depth x gamma (and without AL), beside the
    paper's. Rows the run did not train keep only the paper's number."""
    s = res.scores[res.scores["encoder"] == "cnn_bigru"]
    if s.empty:
        return pd.DataFrame()
    s = s.assign(row=[table1_row(int(layers), _gamma(g)) for layers, g in zip(s["layers"], s["gamma"])])
    ours = _mean_std(s, "row")[["ours accuracy (%)", "ours accuracy std", "ours UAR (%)", "runs"]]
    ours.index.name = None
    low, high = {}, {}
    for row, part in s.groupby("row"):
        low[row], high[row] = mean_interval(100 * part["accuracy"].to_numpy())
    ours = ours.assign(**{"95 % interval, low": pd.Series(low), "95 % interval, high": pd.Series(high)})
    out = beside_paper(ours, "table1", corpus_name)
    if corpus_name in ("emodb", "ravdess"):  # the paper's own corpus: is its number inside our interval?
        paper = out[f"paper accuracy, {'Emo-DB' if corpus_name == 'emodb' else 'RAVDESS'} (%)"]
        inside = (paper >= out["95 % interval, low"]) & (paper <= out["95 % interval, high"])
        out["paper inside the interval"] = np.where(out["95 % interval, low"].isna(), "", np.where(inside, "yes", "no"))
    return out


def ablation_moves(table: pd.DataFrame) -> list[dict[str, Any]]:
    """What :func:`real_speech_ablation`'s table shows: per setting (``"without AL"`` or the gamma's
    label) the mean test accuracy at the first step (``first``) and at the last (``last``, %)."""
    out = []
    for col in [c for c in table.columns if c.endswith("accuracy (%)")]:
        out.append({"setting": col.split(":")[0], "first": float(table[col].iloc[0]),
                    "last": float(table[col].iloc[-1])})
    return out


def _selected_on_validation(s: pd.DataFrame, select: str) -> pd.DataFrame:
    """Per (fold, seed), the row (of one encoder) with the best validation score."""
    col = "val_accuracy" if select == "accuracy" else "val_uar"
    idx = s.groupby(["fold", "seed"])[col].idxmax()
    return s.loc[idx.to_numpy()]


def table2(res: Results, corpus_name: str = "embedded", select: str = "accuracy") -> pd.DataFrame:
    """Table 2: the three encoders with adversarial learning, beside the paper.

    Two numbers per encoder: ``selected on validation`` (per fold and seed, the AL setting --
    gamma, and CNN depth for the 2D CNN biGRU -- with the best validation score; an honest
    estimate) and ``best row`` (the setting with the best *mean test* accuracy, the way the
    paper's Table 2 repeats the best cell of its Table 1; optimistic).
    """
    rows = []
    for enc in [e for e in ENCODERS if e in set(res.scores["encoder"])]:
        s = res.scores[(res.scores["encoder"] == enc) & res.scores["gamma"].notna()]
        if s.empty:
            continue
        sel = _selected_on_validation(s, select)
        by_key = s.groupby("key")["accuracy"].mean()
        best_key = str(by_key.idxmax())
        best = s[s["key"] == best_key]
        rows.append({"row": TABLE2_ROWS[enc],
                     "ours accuracy (%)": 100 * sel["accuracy"].mean(),
                     "ours accuracy std": 100 * sel["accuracy"].std(ddof=0),
                     "ours UAR (%)": 100 * sel["uar"].mean(),
                     "ours best row accuracy (%)": 100 * best["accuracy"].mean(),
                     "best row": best_key, "runs": len(sel)})
    if not rows:
        return pd.DataFrame()
    ours = pd.DataFrame(rows).set_index("row")
    ours.index.name = None
    return beside_paper(ours, "table2", corpus_name)


def comparison(res: Results, svm: pd.DataFrame, select: str = "accuracy") -> pd.DataFrame:
    """Every method on the same folds: the yardstick, the 2D CNN biGRU without and with AL
    (depth and gamma chosen on validation), and the comparison encoders; test accuracy and UAR (%).

    The last column, ``validation accuracy (%)`` (``validation UAR (%)`` with ``select="uar"``),
    is the mean over folds x seeds of the validation score each kept network was chosen on; the
    :func:`yardstick_comparison` chooses between the adversarial models on it, never on the test columns. It
    is empty for the yardstick, which makes no choice on the validation pair.
    """
    parts = [svm.assign(seed=0)]
    s = res.scores
    cnn = s[s["encoder"] == "cnn_bigru"]
    if not cnn.empty and cnn["gamma"].isna().any():
        parts.append(_selected_on_validation(cnn[cnn["gamma"].isna()], select)
                     .assign(method="2D CNN biGRU without AL (MFCC)"))
    for enc in ENCODERS:
        e = s[(s["encoder"] == enc) & s["gamma"].notna()]
        if not e.empty:
            parts.append(_selected_on_validation(e, select).assign(method=f"{TABLE2_ROWS[enc]} + AL"))
    df = pd.concat(parts, ignore_index=True)
    out = _mean_std(df, "method")
    out = out[["ours accuracy (%)", "ours accuracy std", "ours UAR (%)", "ours UAR std", "runs"]].rename(
        columns=lambda c: c.replace("ours ", ""))
    col, name = _validation_column(select)
    val = df.groupby("method", sort=False)[col].mean() * 100 if col in df.columns else pd.Series(dtype=float)
    out[name] = val.reindex(out.index)
    return out


def _validation_column(select: str) -> tuple[str, str]:
    """The validation score the networks were chosen on: its column in the scores and in :func:`comparison`."""
    return ("val_accuracy", "validation accuracy (%)") if select == "accuracy" else ("val_uar", "validation UAR (%)")


def probe_table(res: Results) -> pd.DataFrame:
    """Speaker-probe accuracy (%) by representation and speaker set, with the majority rate."""
    if res.probe.empty:
        return pd.DataFrame()
    p = res.probe.copy()
    g = p.groupby(["key", "speakers"], sort=False)
    t = pd.DataFrame({"probe accuracy (%)": 100 * g["accuracy"].mean(), "std": 100 * g["accuracy"].std(ddof=0),
                      "majority (%)": 100 * g["chance"].mean(), "runs": g.size()})
    t = t.unstack("speakers")
    t.columns = [f"{a}, {b} speakers" for a, b in t.columns]
    order = [c for part in ("unseen", "training") for c in t.columns if c.endswith(f"{part} speakers")]
    return t[order]


def chosen_epochs(res: Results, wide: bool = False) -> pd.DataFrame:
    """The training length of every kept run: the epoch chosen on the validation pair and the
    number of epochs trained (fewer than ``max_epochs`` when early stopping ended the run).

    Parameters
    ----------
    res
        The results of :func:`run`.
    wide
        ``False``: one row per (encoder, layers, gamma, fold, seed) with ``best_epoch``,
        ``epochs_trained`` and ``stopped_early``; ``True``: one row per run key, one column per
        fold, cells ``"best / trained"`` (seeds joined by commas).
    """
    if res.scores.empty:
        return pd.DataFrame()
    cols = ["encoder", "layers", "gamma", "key", "fold", "seed"]
    trained = res.histories.groupby(["key", "fold", "seed"], sort=False)["epoch"].max().rename("epochs_trained")
    out = res.scores[cols + ["best_epoch"]].join(trained, on=["key", "fold", "seed"])
    max_epochs = int(res.meta.get("max_epochs", out["epochs_trained"].max()))
    out = out.assign(epochs_trained=out["epochs_trained"].astype(int), stopped_early=out["epochs_trained"] < max_epochs)
    if not wide:
        return out.reset_index(drop=True)
    cell = out.assign(cell=[f"{b} / {t}" for b, t in zip(out["best_epoch"], out["epochs_trained"])])
    return cell.groupby(["key", "fold"], sort=False)["cell"].agg(", ".join).unstack("fold")


def key_label(key: str) -> str:
    """A run key in words: ``cnn_bigru/L1/2.50`` -> ``2D CNN biGRU, 1 CNN layer, γ = 2.50``."""
    parts = key.split("/")
    name = {"cnn_bigru": "2D CNN biGRU", "tdnn_bilstm": "TDNN biLSTM", "cnn1d_gru": "1D CNN GRU"}.get(parts[0],
                                                                                                 parts[0])
    depth = [f"{p[1:]} CNN layer{'s' if p[1:] != '1' else ''}" for p in parts[1:-1] if p.startswith("L")]
    setting = parts[-1] if parts[-1] == "without AL" else f"γ = {parts[-1]}"
    return ", ".join([name, *depth, setting])


def per_speaker_accuracy(res: Results, keys: Sequence[str]) -> pd.DataFrame:
    """Test accuracy (%) of each speaker (columns: the run keys, in words), all seeds pooled:
    every speaker is tested in exactly one fold."""
    out = {}
    for k in keys:
        p = res.predictions[res.predictions["key"] == k]
        if not p.empty:
            spk = pd.Series(res.speakers[p["row"].to_numpy()], index=p.index)
            out[key_label(k)] = 100 * (p["y_true"] == p["y_pred"]).groupby(spk).mean()
    table = pd.DataFrame(out)
    table.index.name = "test speaker"
    return table


# ---------------------------------------------------------------------------------------------
# Text written from the numbers of a run
# ---------------------------------------------------------------------------------------------
def paper_gain(layers: int, gamma: float) -> dict[str, float] | None:
    """The paper's accuracy difference (AL at ``gamma`` minus without AL, points) at ``layers`` CNN
    layers, per corpus (``{"Emo-DB": .., "RAVDESS": ..}``); None when the paper has no such row."""
    out = {}
    for corpus_name, label in (("emodb", "Emo-DB"), ("ravdess", "RAVDESS")):
        vals = TABLES[f"table1_{corpus_name}"].values
        a, b = vals.get(table1_row(layers, gamma)), vals.get(table1_row(layers, None))
        if a is None or b is None:
            return None
        out[label] = a - b
    return out


def al_gains(res: Results) -> list[dict[str, Any]]:
    """Per (depth, gamma) of the 2D CNN biGRU trained with and without AL: ``layers``, ``gamma``,
    the mean test accuracy with AL (``al``) and without (``base``, %), and the paper's
    difference at that depth (:func:`paper_gain`, ``paper``)."""
    s = res.scores[res.scores["encoder"] == "cnn_bigru"]
    out = []
    for layers in sorted(s["layers"].dropna().unique()):
        row = s[s["layers"] == layers]
        base = row[row["gamma"].isna()]["accuracy"].mean()
        if not np.isfinite(base):
            continue
        for g in sorted(row["gamma"].dropna().unique()):
            out.append({"layers": int(layers), "gamma": float(g), "al": 100 * row[row["gamma"] == g]["accuracy"].mean(),
                        "base": 100 * base, "paper": paper_gain(int(layers), float(g))})
    return out


def paper_gain_range(layers: int) -> dict[str, tuple[float, float]]:
    """The paper's smallest and largest gain of AL over no AL (points) at ``layers`` CNN layers,
    over its three settings of gamma, per corpus: ``{"Emo-DB": (low, high), "RAVDESS": ...}``."""
    out = {}
    for corpus_name, label in (("emodb", "Emo-DB"), ("ravdess", "RAVDESS")):
        vals = TABLES[f"table1_{corpus_name}"].values
        base = vals[table1_row(layers, None)]
        d = [vals[table1_row(layers, g)] - base for g in (1.25, 2.5, 3.33)]
        out[label] = (min(d), max(d))
    return out


def _comp_value(comp: pd.DataFrame, contains: str, exclude: str | None = None,
                by: str = "accuracy (%)") -> tuple[str, float] | None:
    """The row of ``comp`` whose name holds ``contains`` (and not ``exclude``) with the highest
    ``by``, and its test accuracy."""
    rows = [r for r in comp.index if contains in r and (exclude is None or exclude not in r)]
    if not rows:
        return None
    best = max(rows, key=lambda r: comp.loc[r, by])
    return best, float(comp.loc[best, "accuracy (%)"])


def yardstick_comparison(comp: pd.DataFrame) -> dict[str, Any] | None:
    """The adversarial models against the yardstick, from ``comp`` (:func:`comparison`), as
    numbers and :func:`serlib.claims.compare` labels for the chapter to write up; None when the
    run has no adversarial model or no plain yardstick to compare.

    The adversarial model it puts forward is the one with the best **validation** score (the
    ``validation ... (%)`` column), as every other choice of the chapter is made; its test
    accuracy is then compared with the yardstick's. Choosing it on test accuracy would report
    the luckiest of the encoders on the very speakers it is scored on.

    Keys: ``validation`` (the column's name without its unit), ``chosen`` (row name),
    ``chosen_validation`` and ``chosen_accuracy`` (%), ``plain`` (the plain yardstick's test
    accuracy), ``chosen_vs_plain`` (``"ahead"``, ``"behind"`` or ``"tie"``), ``adaptive`` and
    ``adaptive_vs_chosen`` (None without the speaker-adaptive yardstick), ``without_al`` (the
    2D CNN biGRU without AL, depth chosen on validation; None when not run).

    Raises
    ------
    ValueError
        ``comp`` has no validation column (a table not made by :func:`comparison`).
    """
    val = [c for c in comp.columns if str(c).startswith("validation ")]
    if len(val) != 1:
        raise ValueError(f"yardstick_comparison needs the comparison table's one validation column (validation "
                         f"accuracy or UAR, made by leow.comparison); this table has columns {list(comp.columns)}")
    al = _comp_value(comp, "+ AL", by=val[0])
    plain = _comp_value(comp, "RBF-SVM", exclude="adaptive")
    adapt = _comp_value(comp, "adaptive")
    noal = _comp_value(comp, "without AL")
    if al is None or plain is None:
        return None
    return {
        "validation": val[0].removesuffix(" (%)"), "chosen": al[0], "chosen_validation": float(comp.loc[al[0], val[0]]),
        "chosen_accuracy": al[1], "plain": plain[1], "chosen_vs_plain": compare(al[1], plain[1]),
        "adaptive": None if adapt is None else adapt[1],
        "adaptive_vs_chosen": None if adapt is None else compare(adapt[1], al[1]),
        "without_al": None if noal is None else noal[1],
    }


def probe_summary(res: Results) -> dict[str, Any]:
    """How the speaker probe's accuracy changes with AL, per depth of the 2D CNN biGRU, as
    numbers for the chapter to write up (accuracies in %).

    Keys: ``pairs`` (one dict per (speakers, layers, gamma) with ``without_al``, ``with_al`` and
    ``difference``), ``adversary`` (the speaker classifier inside the AL networks at its last
    epoch, on its training batches, averaged over the AL runs; None without AL runs) with
    ``chance`` (one over the training speakers of the first fold), and ``inputs`` (the probe on
    the time-averaged inputs, unseen speakers, by input name). Empty lists and None when the run
    has no 2D CNN biGRU probe.
    """
    out: dict[str, Any] = {"pairs": [], "adversary": None, "chance": None, "inputs": {}}
    if res.probe.empty or "encoder" not in res.probe:
        return out
    p = res.probe[(res.probe["encoder"] == "cnn_bigru")]
    if p.empty:
        return out
    for part in ("unseen", "training"):
        q = p[p["speakers"] == part]
        for layers in sorted(q["layers"].dropna().unique()):
            r = q[q["layers"] == layers]
            base = r[r["gamma"].isna()]["accuracy"].mean()
            for g in sorted(r["gamma"].dropna().unique()):
                al = r[r["gamma"] == g]["accuracy"].mean()
                if np.isfinite(base):
                    out["pairs"].append({"speakers": part, "layers": int(layers), "gamma": float(g),
                                         "without_al": 100 * base, "with_al": 100 * al,
                                         "difference": 100 * (al - base)})
    h = res.histories[res.histories["gamma"].notna()]
    if not h.empty:
        out["adversary"] = 100 * float(h[h["epoch"] == h["epoch"].max()]["speaker_accuracy"].mean())
        out["chance"] = 100 / max(len(set(res.speakers[res.folds[0].train])), 1)
    inp = res.probe[res.probe["encoder"].str.startswith("input")]
    if not inp.empty:
        u = inp[inp["speakers"] == "unseen"].groupby("key")["accuracy"].mean()
        out["inputs"] = {k.split("/")[-1]: 100 * float(v) for k, v in u.items()}
    return out


PROBE_MARGIN = 1.0
"""Points of speaker-probe accuracy within which AL is said not to have clearly reduced it."""


def run_summary(res: Results, comp: pd.DataFrame, cfg: Config) -> dict[str, Any]:
    """The run in numbers and verdict labels, for the chapter's summary: AL against no AL,
    depth, the encoders with AL, the yardstick (:func:`yardstick_comparison`), the speaker probe
    and the training length (accuracies in %, differences in points).

    Keys: ``gains`` (per (depth, gamma) of the 2D CNN biGRU, AL minus without AL paired by fold
    and seed: ``mean``, ``std``, ``ahead`` runs, ``n`` runs and ``verdict``, the
    :func:`serlib.claims.compare` label of the mean against zero), ``paper_gains`` (the paper's
    range at one layer, :func:`paper_gain_range`), ``by_depth`` (mean accuracy per depth, with
    and without AL, when more than one depth ran) and ``shallowest_best``, ``encoders`` (the
    encoders with AL, best first, with their accuracy), ``yardstick``, ``probe`` (unseen
    speakers, every depth and gamma pooled: ``without_al``, ``with_al``, ``adversary``,
    ``difference``, the :class:`serlib.claims.Measurement` of AL minus without AL paired on
    depth, fold and seed, and ``verdict``, ``"behind"`` when AL lowered the probe by more than
    :data:`PROBE_MARGIN` and the interval of the difference stays below zero; None without
    both), ``profile`` and ``epochs`` (the epochs kept; None without kept runs).
    """
    s = res.scores
    cnn = s[s["encoder"] == "cnn_bigru"]
    gains = []
    for layers in sorted(cnn["layers"].dropna().unique()):
        r = cnn[cnn["layers"] == layers]
        base = r[r["gamma"].isna()].set_index(["fold", "seed"])["accuracy"]
        for g in sorted(r["gamma"].dropna().unique()):
            if base.empty:
                continue
            d = 100 * (r[r["gamma"] == g].set_index(["fold", "seed"])["accuracy"] - base).dropna()
            gains.append({"layers": int(layers), "gamma": float(g), "mean": float(d.mean()),
                          "std": float(d.std(ddof=0)), "ahead": int((d > 0).sum()), "n": len(d),
                          "verdict": compare(float(d.mean()), 0.0)})
    out: dict[str, Any] = {"gains": gains, "paper_gains": paper_gain_range(1), "by_depth": None,
                           "shallowest_best": None}
    if cnn["layers"].nunique() > 1:
        by_depth = 100 * cnn.groupby("layers")["accuracy"].mean()
        out["by_depth"] = {int(k): float(v) for k, v in by_depth.items()}
        best = by_depth.max()
        out["shallowest_best"] = bool(compare(by_depth.loc[by_depth.index.min()], best) == TIE)
    encs = [r for r in comp.index if r.endswith("+ AL")]
    out["encoders"] = sorted(((r.removesuffix(" + AL"), float(comp.loc[r, "accuracy (%)"])) for r in encs),
                             key=lambda x: -x[1])
    out["yardstick"] = yardstick_comparison(comp)
    out["probe"] = None
    p = res.probe
    if not p.empty:  # empty, without columns, when the probes were switched off (probe=False)
        p = p[(p["encoder"] == "cnn_bigru") & (p["speakers"] == "unseen")]
    if not p.empty and p["gamma"].isna().any() and p["gamma"].notna().any():
        base = 100 * p[p["gamma"].isna()]["accuracy"].mean()
        al = 100 * p[p["gamma"].notna()]["accuracy"].mean()
        h = res.histories[res.histories["gamma"].notna()]
        last = h.groupby(["key", "fold", "seed"], sort=False).tail(1)  # each run's last epoch (runs may stop early)
        adv = 100 * float(last["speaker_accuracy"].mean()) if not h.empty else None
        # each AL probe against the probe without AL of the same depth, fold and seed
        without = p[p["gamma"].isna()].set_index(["layers", "fold", "seed"])["accuracy"]
        with_al = p[p["gamma"].notna()].set_index(["layers", "fold", "seed"])["accuracy"]
        diff = paired_difference(with_al, without.reindex(with_al.index), scale=100, per="fold x seed runs")
        out["probe"] = {"without_al": float(base), "with_al": float(al), "adversary": adv, "difference": diff,
                        "verdict": compare(diff.mean, 0.0, margin=PROBE_MARGIN, ci=diff.interval)}
    out["profile"] = {"name": cfg.profile, "max_epochs": cfg.max_epochs, "patience": cfg.patience,
                      "seeds": list(cfg.seeds)}
    ce = chosen_epochs(res)
    out["epochs"] = None if ce.empty else {
        "first": int(ce["best_epoch"].min()), "last": int(ce["best_epoch"].max()),
        "median": float(ce["best_epoch"].median()), "runs": len(ce),
        "trained_min": int(ce["epochs_trained"].min()), "trained_max": int(ce["epochs_trained"].max()),
        "stopped_early": int(ce["stopped_early"].sum())}
    return out
