"""Chapter 0: a tour of the corpora and the classical baseline every later chapter must beat."""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..audio import load as load_audio
from ..data import Corpus, load_corpus
from ..params import ChapterConfig, param
from ..splits import leave_one_session_out, leave_one_speaker_out
from .common import svm_yardstick

__all__ = ["Config", "Results", "emotion_examples", "feature_distributions", "load", "plot_examples", "run",
           "sessions_hold_several_speakers"]

CHAPTER = "00_corpora"


@dataclass
class Config(ChapterConfig):
    """Parameters of the corpora chapter."""

    size: str = param("default", smoke="tiny", choices=("tiny", "default", "large"),
                      help="embedded corpus size (ignored for real corpora)")
    variant: str = param("main", choices=("main", "cross"), help="embedded corpus variant")
    feature_set: str = param("egemaps", choices=("egemaps", "is10"),
                             help="functionals for the baseline SVM")
    svm_C: float = param(1.0, low=1e-4, high=1e4, help="RBF-SVM regularisation C")
    seeds: list[int] = param([0], help="unused here: the SVM baseline is deterministic")
    protocol: str = param("session", choices=("session", "speaker"),
                          help="leave-one-session-out or leave-one-speaker-out")

    CHAPTER = CHAPTER
    NOT_IN_NOTEBOOK = ("device", "seeds")  # nothing here trains, and the SVM baseline is deterministic


def load(cfg: Config) -> tuple[Corpus, Corpus | None]:
    """The labelled corpus of ``cfg`` and, for the embedded corpus, its unlabelled pool."""
    if cfg.corpus == "embedded":
        lab = load_corpus("embedded", size=cfg.size, variant=cfg.variant, part="labelled")
        unl = load_corpus("embedded", size=cfg.size, variant=cfg.variant, part="unlabelled")
        return lab, unl
    return cfg.load_corpus().labelled(), None


def emotion_examples(corpus: Corpus, speaker: str | None = None) -> pd.DataFrame:
    """One utterance per emotion from one speaker: the first speaker who has them all, else the
    speaker who has the most (then only their emotions are shown; compare the result's length
    with ``corpus.labels``)."""
    t = corpus.table[corpus.table["emotion"].notna()]
    speakers = [speaker] if speaker else list(dict.fromkeys(t["speaker"]))
    if not len(t) or not speakers:
        raise ValueError(f"{corpus.name} has no labelled utterance to show")
    best = max(speakers, key=lambda spk: t.loc[t["speaker"] == spk, "emotion"].nunique())
    s = t[t["speaker"] == best]
    present = [lab for lab in corpus.labels if lab in set(s["emotion"])]
    return s.groupby("emotion", sort=False).head(1).set_index("emotion").loc[present]


def plot_examples(examples: pd.DataFrame, sr: int = 16000) -> plt.Figure:
    """Waveform, log spectrogram with the F0 contour (pYIN) on top, one row per emotion."""
    import librosa
    import librosa.display

    fig, axes = plt.subplots(len(examples), 2, figsize=(11, 2.2 * len(examples)),
                             gridspec_kw={"width_ratios": [1, 1.6]}, squeeze=False)
    for row, (emo, ex) in zip(axes, examples.iterrows()):
        x, _ = load_audio(ex["path"], sr)
        t = np.arange(len(x)) / sr
        row[0].plot(t, x, lw=0.5)
        row[0].set_xlim(0, t[-1])
        row[0].set_ylim(-1, 1)
        row[0].set_ylabel(emo)
        S = librosa.amplitude_to_db(np.abs(librosa.stft(x, n_fft=1024, hop_length=256)), ref=np.max)
        librosa.display.specshow(S, sr=sr, hop_length=256, x_axis="time", y_axis="hz", ax=row[1], cmap="magma")
        f0, voiced, _ = librosa.pyin(x, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=256)
        tf = librosa.times_like(f0, sr=sr, hop_length=256)
        row[1].plot(tf, f0, color="cyan", lw=1.5, label="F0 (pYIN)")
        row[1].set_ylim(0, 4000)
        row[1].set_ylabel("Hz")
        row[1].set_title(f"“{ex['transcript']}”", fontsize="small")
    axes[0, 1].legend(loc="upper right", fontsize="small")
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def feature_distributions(corpus: Corpus, features: pd.DataFrame, columns: dict[str, str]) -> plt.Figure:
    """Box plots of selected functionals per emotion (``columns``: feature name -> axis label)."""
    import seaborn as sns

    fig, axes = plt.subplots(1, len(columns), figsize=(3.4 * len(columns), 3.4))
    df = features[list(columns)].reset_index(drop=True).assign(emotion=corpus.table["emotion"].to_numpy())
    for ax, (col, label) in zip(np.atleast_1d(axes), columns.items()):
        sns.boxplot(data=df, x="emotion", y=col, order=list(corpus.labels), ax=ax, fliersize=1.5)
        ax.set_ylabel(label)
        ax.set_xlabel("")
    fig.tight_layout()
    return fig


def sessions_hold_several_speakers(corpus: Corpus) -> bool:
    """Whether some session of ``corpus`` has more than one speaker (IEMOCAP's dyads, MSP-IMPROV's
    sessions); on corpora without sessions the session is the speaker, and leave-one-session-out
    is leave-one-speaker-out."""
    return bool((corpus.table.groupby("session")["speaker"].nunique() > 1).any())


@dataclass
class Results:
    """What :func:`run` returns: per-fold scores of both variants (``method`` column) and each
    variant's pooled confusion matrix, keyed by method name."""

    scores: pd.DataFrame
    confusions: dict[str, pd.DataFrame] = field(default_factory=dict)


def run(cfg: Config, corpus: Corpus) -> Results:
    """The functionals + RBF-SVM baseline, plain and speaker-adaptive, on the chapter's protocol."""
    folds = leave_one_session_out(corpus) if cfg.protocol == "session" else leave_one_speaker_out(corpus)
    scores, cms = [], {}
    for adaptive in (False, True):
        s, cm = svm_yardstick(corpus, folds, feature_set=cfg.feature_set, speaker_adaptive=adaptive, C=cfg.svm_C)
        scores.append(s)
        cms[s["method"].iloc[0]] = cm
    return Results(pd.concat(scores, ignore_index=True), cms)
