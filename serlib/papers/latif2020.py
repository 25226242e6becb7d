"""Published numbers of Latif et al. (Interspeech 2020), "Augmenting generative adversarial
networks for speech emotion recognition", as reprinted in S. Latif's doctoral summary
(Sec. 2.2, Tables 3 and 4): unweighted average recall (%) of DNN classifiers trained on real
openSMILE features augmented by mixup ("Real"), on synthetic features only ("Syn.") and on
both ("Real+Syn."), beside the two studies the summary compares with.

* Table 3 -- cross-validation on IEMOCAP.
* Table 4 -- cross-corpus evaluation (the summary does not name the corpora; in the full
  paper and in Sahu et al. 2018, whose numbers appear in the same table, the model is trained
  on IEMOCAP and tested on MSP-IMPROV).

Rows ``<study>: <condition>``; ``± std`` as ``notes`` where the summary gives one (Sahu et al.
give means only). Nothing here is computed.

References
----------
S. Latif. Deep representation learning for improving speech emotion recognition. Doctoral
summary, Sec. 2.2, Tables 3-4.

S. Latif, M. Asim, R. Rana, S. Khalifa, R. Jurdak, B. W. Schuller. Augmenting generative
adversarial networks for speech emotion recognition. Interspeech 2020.

S. Sahu, R. Gupta, C. Espy-Wilson. On enhancing speech emotion recognition using generative
adversarial networks. Interspeech 2018.

F. Bao, M. Neumann, N. T. Vu. CycleGAN-based emotion style transfer as data augmentation for
speech emotion recognition. Interspeech 2019.
"""

from __future__ import annotations

from . import PaperTable

__all__ = ["CONDITIONS", "PAPER", "STDS", "STUDIES", "TABLES"]

PAPER = "Latif et al. 2020"

STUDIES: tuple[str, ...] = ("Sahu et al. 2018", "Bao et al. 2019", "Latif et al. 2020")
"""The rows of Tables 3 and 4, in the summary's order ("Ours" = Latif et al. 2020)."""

CONDITIONS: tuple[str, ...] = ("Real", "Syn.", "Real+Syn.")
"""The columns of Tables 3 and 4."""


def _rows(values: dict[str, tuple[float, float, float]]) -> dict[str, float]:
    return {f"{study}: {cond}": v for study, vals in values.items() for cond, v in zip(CONDITIONS, vals)}


def _stds(values: dict[str, tuple[float, float, float]]) -> dict[str, str]:
    return {f"{study}: {cond}": f"± {s:.2f}" for study, vals in values.items() for cond, s in zip(CONDITIONS, vals)}


_T3 = {"Sahu et al. 2018": (59.42, 34.09, 60.29),
       "Bao et al. 2019": (59.48, 46.59, 60.37),
       "Latif et al. 2020": (60.51, 45.75, 61.05)}
_T3_STD = {"Bao et al. 2019": (0.71, 0.75, 0.70),
           "Latif et al. 2020": (0.57, 0.81, 0.68)}
_T4 = {"Sahu et al. 2018": (45.14, 33.96, 45.40),
       "Bao et al. 2019": (45.58, 41.58, 46.52),
       "Latif et al. 2020": (46.0, 42.15, 46.60)}
_T4_STD = {"Bao et al. 2019": (0.40, 1.29, 0.43),
           "Latif et al. 2020": (0.57, 1.12, 0.45)}

TABLES: dict[str, PaperTable] = {
    "table3": PaperTable(
        paper=PAPER,
        table="Table 3",
        caption="Cross-validation UAR on IEMOCAP: DNNs trained on real (mixup-augmented), synthetic, "
                "and real + synthetic features.",
        metric="UAR",
        values=_rows(_T3),
        notes={"std": str(_stds(_T3_STD)), "protocol": "IEMOCAP cross-validation (folds not stated in the summary)"},
    ),
    "table4": PaperTable(
        paper=PAPER,
        table="Table 4",
        caption="Cross-corpus UAR (IEMOCAP -> MSP-IMPROV): DNNs trained on real (mixup-augmented), synthetic, "
                "and real + synthetic features.",
        metric="UAR",
        values=_rows(_T4),
        notes={"std": str(_stds(_T4_STD)), "protocol": "train IEMOCAP, test MSP-IMPROV"},
    ),
}

STDS: dict[str, dict[str, float]] = {
    "table3": {f"{study}: {cond}": v for study, vals in _T3_STD.items() for cond, v in zip(CONDITIONS, vals)},
    "table4": {f"{study}: {cond}": v for study, vals in _T4_STD.items() for cond, v in zip(CONDITIONS, vals)},
}
"""The published standard deviations (percentage points) where the summary gives one."""
