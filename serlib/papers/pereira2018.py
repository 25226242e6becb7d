"""Published numbers of Pereira et al. 2018 (BEGAN speech representation + supervised module).

* Table 1 — SAVEE, speaker-dependent (per speaker ~60 % train / 40 % test), accuracy (%) per
  speaker: the paper's model (mean and std over ten runs) and Ashwin et al.'s audio SVM-RBM.
* Table 2 — OMG-Emotion with the challenge's own split: categorical F-score and arousal /
  valence concordance correlation coefficient (CCC), for the paper's model, the dataset's
  baseline (Barros et al. 2018) and the best audio result of the OMG-Emotion challenge.
* Table 3 — Emo-DB, leave-one-speaker-out, accuracy (%), the paper's model and two results of
  Deb and Dandapat.

Numbers are copied from the paper's text; nothing here is computed. The standard deviations
of Table 1 are kept in ``notes`` and in :data:`TABLE1_STD`.

References
----------
I. Pereira, D. Santos, A. Maciel, P. Barros. Semi-supervised model for emotion recognition in
speech. ICANN 2018, LNCS 11139, pp. 791-800. Tables 1-3.
"""

from __future__ import annotations

from . import PaperTable

__all__ = ["PAPER", "SAVEE_SPEAKERS", "TABLE1_STD", "TABLES"]

PAPER = "Pereira et al. 2018"

SAVEE_SPEAKERS: tuple[str, ...] = ("DC", "JE", "JK", "KL")

TABLE1_STD: dict[str, float] = {"DC": 2.96, "JE": 3.41, "JK": 1.85, "KL": 2.70}
"""Standard deviation (accuracy points) over the paper's ten runs, per SAVEE speaker."""

TABLES: dict[str, PaperTable] = {
    "table1": PaperTable(
        PAPER, "Table 1",
        "SAVEE, speaker-dependent protocol (~60 % train / 40 % test per speaker): accuracy of the "
        "BEGAN representation + supervised module, mean of ten runs.",
        "accuracy", {"DC": 80.69, "JE": 80.96, "JK": 80.15, "KL": 82.46},
        notes={spk: f"± {sd:.2f} over ten runs" for spk, sd in TABLE1_STD.items()},
    ),
    "table1_ashwin": PaperTable(
        PAPER, "Table 1",
        "SAVEE, speaker-dependent protocol: best accuracy of Ashwin et al. 2016 (hybrid SVM-RBM, "
        "audio modality), as quoted by Pereira et al.",
        "accuracy", {"DC": 79.0, "JE": 78.0, "JK": 76.0, "KL": 80.0},
    ),
    "table2": PaperTable(
        PAPER, "Table 2",
        "OMG-Emotion, the dataset's own split: the BEGAN representation + supervised module.",
        "score", {"F-score": 0.73, "arousal CCC": 0.17, "valence CCC": 0.16}, unit="",
    ),
    "table2_baseline": PaperTable(
        PAPER, "Table 2",
        "OMG-Emotion: the dataset paper's audio baseline (Barros et al. 2018), as quoted by Pereira et al.",
        "score", {"F-score": 0.39, "arousal CCC": 0.07, "valence CCC": 0.04}, unit="",
    ),
    "table2_challenge": PaperTable(
        PAPER, "Table 2",
        "OMG-Emotion challenge 2018: best audio-modality result (no F-score reported).",
        "score", {"arousal CCC": 0.29, "valence CCC": 0.36}, unit="",
    ),
    "table3": PaperTable(
        PAPER, "Table 3",
        "Emo-DB, leave-one-speaker-out: accuracy of the paper's model (BEGAN pretrained on English "
        "LibriSpeech) and of two earlier works.",
        "accuracy", {"Deb and Dandapat (2018), multiscale amplitude features": 83.80,
                     "Deb and Dandapat (2017), vowel-like region segmentation": 85.10,
                     "Pereira et al. (BEGAN + supervised module)": 72.0},
    ),
}
