"""Published numbers of Sahu, Gupta & Espy-Wilson (2018): unweighted average recall (%) of
RBF-SVMs trained or tested on GAN-generated emotion features.

* Table 1 -- IEMOCAP, leave-one-session-out (5 folds): SVMs trained on synthetic, real, or
  real + synthetic data, in the 2-d code space of an adversarial autoencoder and in the
  1582-d openSMILE (emobase2010) space.
* Table 2 -- SVMs trained on real IEMOCAP data, tested on synthetic samples.
* Table 3 -- cross-corpus: trained on IEMOCAP (+ synthetic), tested on MSP-IMPROV.

The paper reports means only (no standard deviations). Row names are the paper's, verbatim.

References
----------
S. Sahu, R. Gupta, C. Espy-Wilson. On enhancing speech emotion recognition using generative
adversarial networks. Interspeech 2018. Tables 1-3.
"""

from __future__ import annotations

from . import PaperTable

__all__ = ["PAPER", "TABLES"]

PAPER = "Sahu et al. 2018"

TABLES: dict[str, PaperTable] = {
    "table1": PaperTable(
        paper=PAPER,
        table="Table 1",
        caption="Leave-one-session-out UAR on IEMOCAP with synthetic samples in the training set.",
        metric="UAR",
        values={
            "Chance accuracy": 25.00,
            "Only synthetic 2D code vectors": 55.38,
            "Only 2D code vectors": 56.72,
            "2D code vector + Synthetic": 57.58,
            "Only improved-conditional": 34.09,
            "Only real openSMILE": 59.42,
            "Real openSMILE + baseline-conditional": 59.20,
            "Real openSMILE + improved-conditional": 60.29,
        },
        notes={"protocol": "IEMOCAP, 5531 utterances, 4 classes, leave-one-session-out, RBF-SVM"},
    ),
    "table2": PaperTable(
        paper=PAPER,
        table="Table 2",
        caption="UAR of SVMs trained on real IEMOCAP data and tested on synthetic samples.",
        metric="UAR",
        values={
            "2D code-vectors": 97.09,
            "Improved-conditional": 35.23,
        },
    ),
    "table3": PaperTable(
        paper=PAPER,
        table="Table 3",
        caption="Cross-corpus UAR: trained on IEMOCAP (real and/or synthetic), tested on MSP-IMPROV.",
        metric="UAR",
        values={
            "Only synthetic 2D": 40.17,
            "Only 2D code vectors": 41.27,
            "2D code vector + Synthetic": 41.54,
            "Only real openSMILE": 45.14,
            "Only improved-conditional": 33.96,
            "Real openSMILE + baseline-conditional": 43.79,
            "Real openSMILE + improved-conditional": 45.40,
        },
        notes={"protocol": "train IEMOCAP (all sessions), test MSP-IMPROV (7798 utterances, 4 classes)"},
    ),
}
