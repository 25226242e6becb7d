"""One-shot feature extraction, **for timing only** (not used by the book).

Faithful copies of how :func:`serlib.features.functionals` and :func:`serlib.features.padded_mfcc`
extracted a corpus before they worked in saved chunks (:func:`serlib.cache.cached_chunks`): every
utterance in one pass, the trimmed recordings of the padded MFCCs all held in memory, nothing
saved until the end. ``make bench`` times them against the chunked extraction on the same corpus
in one run (the chunked extraction's overhead), and the tests check that both give the same
numbers, bit for bit. Nothing in the chapters imports this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from serlib.audio import load as load_audio
from serlib.audio import pad_to, trim_silence
from serlib.data.corpus import Corpus
from serlib.features import FUNCTIONAL_SETS, _frame_matrix, frame_config

__all__ = ["functionals_one_shot", "padded_mfcc_one_shot"]


def functionals_one_shot(corpus: Corpus, feature_set: str = "is10", *, sample_rate: int = 16000) -> pd.DataFrame:
    """:func:`serlib.features.functionals` in one pass, uncached."""
    import opensmile

    smile = opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, FUNCTIONAL_SETS[feature_set]),
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    rows = []
    for path in corpus.table["path"].tolist():
        x, sr = load_audio(path, sample_rate)
        rows.append(smile.process_signal(x, sr).to_numpy()[0])
    return pd.DataFrame(np.vstack(rows).astype(np.float32), columns=smile.feature_names,
                        index=pd.Index(corpus.table["utt_id"], name="utt_id"))


def padded_mfcc_one_shot(corpus: Corpus, *, n_mfcc: int = 20, n_fft: int = 2048, hop_length: int = 512,
                         sample_rate: int = 16000, top_db: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`serlib.features.padded_mfcc` and :func:`serlib.features.padded_mfcc_frames` in one
    pass, uncached: ``(mfccs, frames)``."""
    cfg = frame_config("mfcc", n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length, trim=False, top_db=top_db)
    sigs = [trim_silence(load_audio(path, sample_rate)[0], top_db) for path in corpus.table["path"].tolist()]
    counts = np.array([1 + len(s) // hop_length for s in sigs], dtype=np.int64)
    frames = np.minimum(counts, 1 + max(len(s) for s in sigs) // hop_length)
    longest = max(len(s) for s in sigs)
    out = [_frame_matrix(pad_to(s, longest), sample_rate, "mfcc", cfg) for s in sigs]
    return np.stack(out).astype(np.float32), frames
