"""Published numbers of Leow et al., speaker-invariant emotion recognition with adversarial
learning: leave-two-speakers-out accuracy (%) on Emo-DB (5 folds) and RAVDESS (12 folds),
mean over folds; the standard deviations are kept in ``notes``.

Row names of Table 1 are ``"<CNN layers> / <gamma>"`` with ``gamma`` written as in the paper
(``without AL``, ``1.25``, ``2.50``, ``3.33``); Table 2's rows name the encoder and its input.

References
----------
B. Leow Xuan Zhen, L. L. C. Kasun, C. S. Ahn, J. C. Rajapakse. Speaker-invariant emotion
recognition with adversarial learning. Tables 1 and 2.
"""

from __future__ import annotations

from . import PaperTable

__all__ = ["TABLE1_ROWS", "TABLE2_ROWS", "TABLES", "gamma_label", "table1_row"]

PAPER = "Leow et al."

_T1 = {  # (layers, gamma): (Emo-DB mean, std, RAVDESS mean, std)
    (1, "without AL"): (67.3, 6.5, 56.3, 8.1),
    (1, "1.25"): (72.1, 8.4, 60.6, 10.3),
    (1, "2.50"): (70.6, 5.9, 61.2, 8.4),
    (1, "3.33"): (73.6, 7.1, 60.6, 10.6),
    (2, "without AL"): (68.3, 9.6, 56.3, 9.8),
    (2, "1.25"): (68.0, 8.0, 59.4, 7.6),
    (2, "2.50"): (71.0, 7.6, 60.9, 8.5),
    (2, "3.33"): (67.6, 7.4, 60.5, 9.9),
    (3, "without AL"): (65.7, 10.6, 55.8, 8.8),
    (3, "1.25"): (65.1, 7.2, 53.7, 6.7),
    (3, "2.50"): (66.0, 5.5, 59.4, 7.6),
    (3, "3.33"): (66.6, 5.6, 58.9, 8.5),
    (4, "without AL"): (59.6, 5.3, 54.0, 11.3),
    (4, "1.25"): (66.0, 6.9, 54.2, 8.7),
    (4, "2.50"): (62.9, 9.6, 54.1, 9.3),
    (4, "3.33"): (65.2, 7.2, 51.3, 11.1),
}

_T2 = {  # row: (Emo-DB mean, std, RAVDESS mean, std)
    "TDNN biLSTM (MFCC)": (61.4, 8.7, 52.4, 10.9),
    "1D CNN GRU (LogMFB, energy, pitch)": (44.2, 4.7, 30.5, 4.6),
    "2D CNN biGRU (MFCC)": (73.6, 7.1, 61.2, 8.4),
}

TABLE2_ROWS: dict[str, str] = {
    "tdnn_bilstm": "TDNN biLSTM (MFCC)",
    "cnn1d_gru": "1D CNN GRU (LogMFB, energy, pitch)",
    "cnn_bigru": "2D CNN biGRU (MFCC)",
}
"""Encoder name (:data:`serlib.models.sier.ENCODERS`) -> Table 2's row name."""


def gamma_label(gamma: float | None) -> str:
    """``None`` -> ``"without AL"``; 2.5 -> ``"2.50"`` (the paper's spelling)."""
    return "without AL" if gamma is None else f"{gamma:.2f}"


def table1_row(layers: int, gamma: float | None) -> str:
    """Table 1's row name, e.g. ``"1 / without AL"`` or ``"2 / 3.33"``."""
    return f"{layers} / {gamma_label(gamma)}"


TABLE1_ROWS: list[str] = [f"{k[0]} / {k[1]}" for k in _T1]


def _table(name: str, caption: str, corpus: str, rows: dict[str, tuple[float, float, float, float]],
           col: int) -> PaperTable:
    return PaperTable(
        paper=PAPER, table=name, caption=caption, metric=f"accuracy, {corpus}",
        values={r: v[col] for r, v in rows.items()},
        notes={r: f"{v[col]:.1f} ± {v[col + 1]:.1f}" for r, v in rows.items()},
    )


_CAP1 = ("Leave-two-speakers-out accuracy (%) of the 2D CNN biGRU encoder with adversarial learning, by "
         "number of CNN layers and annealing parameter gamma")
_CAP2 = "Leave-two-speakers-out accuracy (%) of different encoders with adversarial learning"

TABLES: dict[str, PaperTable] = {
    "table1_emodb": _table("Table 1", _CAP1, "Emo-DB", {f"{k[0]} / {k[1]}": v for k, v in _T1.items()}, 0),
    "table1_ravdess": _table("Table 1", _CAP1, "RAVDESS", {f"{k[0]} / {k[1]}": v for k, v in _T1.items()}, 2),
    "table2_emodb": _table("Table 2", _CAP2, "Emo-DB", _T2, 0),
    "table2_ravdess": _table("Table 2", _CAP2, "RAVDESS", _T2, 2),
}
