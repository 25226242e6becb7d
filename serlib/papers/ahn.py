"""Published numbers of Ahn et al. (2025), copied from the paper's Tables II-VI.

Table II and III report UAR (%) on IEMOCAP, leave-one-speaker-out, mean ± std over the ten
held-out speakers; Tables IV-VI report "unweighted accuracy" (%) for audio, text and
audio + text inputs. Row names are ``"<method> — <column>"`` so that each column of a
published table is one :class:`~serlib.papers.PaperTable`-row; the standard deviations are
kept in ``notes``. Nothing here is computed.

References
----------
C.-S. Ahn, R. Rana, S. Sivadas, C. Busso, J. C. Rajapakse. Improving speech emotion
recognition with mutual information regularized generative model. 2025.
"""

from __future__ import annotations

from . import PaperTable

__all__ = ["MULTIMODAL_TABLE", "PAPER", "TABLES"]

PAPER = "Ahn et al. 2025"

_T2_WITHOUT = {"Sahu et al.": 59.42, "Bao et al.": 59.48, "Latif et al.": 60.51, "Malik et al.": 58.62,
               "Ours": 60.81}
_T2_WITH = {"Sahu et al.": 60.29, "Bao et al.": 60.37, "Latif et al.": 61.05, "Malik et al.": 61.22,
            "Ours": 63.40}
_T2_STD = {"Bao et al. — without augmentation": "0.71", "Bao et al. — with augmentation": "0.70",
           "Latif et al. — without augmentation": "0.57", "Latif et al. — with augmentation": "0.68",
           "Malik et al. — without augmentation": "2.11", "Malik et al. — with augmentation": "1.85",
           "Ours — without augmentation": "4.83", "Ours — with augmentation": "2.52"}

TABLE_II = PaperTable(
    paper=PAPER, table="II",
    caption="Data augmentation methods on IEMOCAP (leave-one-speaker-out), without vs with augmentation",
    metric="UAR",
    values={**{f"{k} — without augmentation": v for k, v in _T2_WITHOUT.items()},
            **{f"{k} — with augmentation": v for k, v in _T2_WITH.items()}},
    notes={"std": "; ".join(f"{k}: ±{v}" for k, v in _T2_STD.items()),
           "protocol": "IEMOCAP, 4 classes, leave-one-speaker-out; AST fine-tuned, BERT-base frozen"},
)

TABLE_III = PaperTable(
    paper=PAPER, table="III", caption="Ablation study on IEMOCAP (leave-one-speaker-out)", metric="UAR",
    values={
        "Full model": 63.40,
        "Without cross-modal alignment": 62.31,
        "Without cross-modal alignment & text embedding": 61.07,
        "Without cross-modal alignment & mutual information maximization": 61.70,
        "Baseline without cross-modal alignment": 60.73,
    },
    notes={"std": "Full model ±2.52; without alignment ±3.65; without alignment & text ±2.45; "
                  "without alignment & MI ±2.58; baseline without alignment ±3.92"},
)


def _multimodal(table: str, corpus: str, rows: dict[str, tuple[float | None, float | None, float | None]]) -> PaperTable:
    values: dict[str, float] = {}
    for model, cols in rows.items():
        for col, v in zip(("Audio", "Text", "Audio + Text"), cols):
            if v is not None:
                values[f"{model} — {col}"] = v
    return PaperTable(paper=PAPER, table=table, caption=f"Multimodal SER on {corpus}", metric="unweighted accuracy",
                      values=values,
                      notes={"setup": "wav2vec2-large-robust (MSP-dim fine-tuned) audio, RoBERTa-large text "
                                      "(Llama 3.0 for MSP-Podcast), emotion-fine-tuned before stage 1"})


TABLE_IV = _multimodal("IV", "IEMOCAP", {
    "sc_LSTM": (55.96, 63.51, 68.45), "bc_LSTM": (57.43, 67.69, 73.89), "AE": (56.79, 25.44, 26.25),
    "CRA": (56.79, 27.96, 30.13), "MMIN": (58.23, 67.52, 74.72), "CIF-MMIN": (58.44, 69.26, 75.65),
    "Ours": (72.83, 65.51, 76.54),
})

TABLE_V = _multimodal("V", "MSP-IMPROV", {
    "sc_LSTM": (40.91, 32.01, 41.36), "bc_LSTM": (42.53, 57.39, 58.32), "AE": (42.69, 27.62, 38.73),
    "CRA": (38.96, 28.37, 37.97), "MMIN": (42.71, 56.49, 60.98), "CIF-MMIN": (41.56, 58.57, 61.72),
    "Ours": (57.85, 40.29, 62.84),
})

TABLE_VI = _multimodal("VI", "MSP-Podcast (classes balanced by generation)", {
    "emoDARTS": (61.15, None, None),
    "Ours": (56.76, 49.01, 60.61),
})

TABLES: dict[str, PaperTable] = {"II": TABLE_II, "III": TABLE_III, "IV": TABLE_IV, "V": TABLE_V, "VI": TABLE_VI}
"""Table id -> published table. ``MULTIMODAL_TABLE`` maps a corpus to its multimodal table."""

MULTIMODAL_TABLE: dict[str, str] = {"iemocap": "IV", "msp_improv": "V", "msp_podcast": "VI", "embedded": "IV"}
