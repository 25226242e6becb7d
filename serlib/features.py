"""Acoustic features, computed once and cached on disk.

Two families:

* **functionals** — one fixed-length vector per utterance from openSMILE:
  ``is10`` (IS10_paraling_compat, 1582-d, the stand-in for emobase2010 used by Sahu et al.
  2018 and Latif et al. 2020) and ``egemaps`` (eGeMAPSv02, 88-d).
* **frames** — a (n_features, n_frames) matrix per utterance: ``mfcc`` (Leow et al.: 20
  coefficients, n_fft 2048, hop 512, Hann), ``logmel``, and ``stft`` (Pereira et al. 2018:
  log-magnitude, n_fft 1024, hop 512).

emobase2010 vs IS10
-------------------
openSMILE 2.6.0 ships ``IS10_paraling_compat``: the same 1582 functionals as emobase2010 (38
low-level descriptors and deltas x 21 functionals + 2 turn features), in the same order once the
MFCC names are aligned. One difference remains: ``maxPos``/``minPos`` are frame indices here,
relative positions in emobase2010. Models standardise every feature, so only those 76
position features differ in scale between the two; we keep them.

Caching
-------
The key is the corpus fingerprint (utterance ids, labels and each audio file's size and
mtime) + the feature configuration + :data:`FEATURE_VERSION`. Writes are atomic; a corrupt
entry is detected by its checksum and rebuilt (see :mod:`serlib.cache`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .audio import load as load_audio
from .audio import trim_silence
from .cache import cache_key, cached
from .config import check_choice, check_positive, get_logger
from .data.corpus import Corpus

__all__ = [
    "FEATURE_VERSION",
    "FRAME_KINDS",
    "FUNCTIONAL_SETS",
    "frame_config",
    "frames",
    "functionals",
    "speaker_normalise",
]

FEATURE_VERSION = 1
"""Bump when the extraction code changes in a way that alters values."""

FUNCTIONAL_SETS: dict[str, str] = {"is10": "IS10", "egemaps": "eGeMAPSv02"}
FRAME_KINDS: tuple[str, ...] = ("mfcc", "logmel", "stft")

log = get_logger("features")


def _progress(iterable: Any, total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=False)


def functionals(
    corpus: Corpus,
    feature_set: str = "is10",
    *,
    sample_rate: int = 16000,
    progress: bool = True,
    overwrite: bool = False,
) -> pd.DataFrame:
    """openSMILE functionals for every utterance, one row each, indexed by ``utt_id``.

    Parameters
    ----------
    corpus
        Any :class:`~serlib.data.Corpus`.
    feature_set
        ``"is10"`` (1582-d emobase2010 stand-in) or ``"egemaps"`` (eGeMAPSv02, 88-d).
    sample_rate
        Audio is resampled to this rate before extraction.
    progress
        Show a progress bar while extracting.
    overwrite
        Recompute even if a cached matrix exists.

    Returns
    -------
    DataFrame (n_utterances x n_features), rows in corpus order.

    References
    ----------
    F. Eyben, F. Weninger, F. Gross, B. Schuller. Recent developments in openSMILE, the
    Munich open-source multimedia feature extractor. ACM MM 2013.
    """
    check_choice("feature_set", feature_set, FUNCTIONAL_SETS)
    key = cache_key(fp=corpus.fingerprint(), set=feature_set, sr=sample_rate, v=FEATURE_VERSION)

    def build() -> pd.DataFrame:
        import opensmile

        smile = opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, FUNCTIONAL_SETS[feature_set]),
            feature_level=opensmile.FeatureLevel.Functionals,
        )
        rows = []
        paths = corpus.table["path"].tolist()
        for path in _progress(paths, len(paths), f"{feature_set} {corpus.name}", progress):
            x, sr = load_audio(path, sample_rate)
            rows.append(smile.process_signal(x, sr).to_numpy()[0])
        out = pd.DataFrame(np.vstack(rows).astype(np.float32), columns=smile.feature_names,
                           index=pd.Index(corpus.table["utt_id"], name="utt_id"))
        return out

    df = cached("features", f"{feature_set}-{key}", build, overwrite=overwrite)
    return df


def frame_config(kind: str, **overrides: Any) -> dict[str, Any]:
    """The default configuration of a frame-level feature, with ``overrides`` applied.

    * ``mfcc``: n_mfcc 20, n_fft 2048, hop 512, Hann window (Leow et al.), silence trimmed at
      ``top_db`` 30 (``trim`` False to keep it).
    * ``logmel``: n_mels 64, n_fft 1024, hop 256.
    * ``stft``: n_fft 1024, hop 512, log(1 + |X|) (Pereira et al. 2018).
    """
    check_choice("kind", kind, FRAME_KINDS)
    base: dict[str, dict[str, Any]] = {
        "mfcc": {"n_mfcc": 20, "n_fft": 2048, "hop_length": 512, "window": "hann", "trim": True, "top_db": 30.0},
        "logmel": {"n_mels": 64, "n_fft": 1024, "hop_length": 256, "window": "hann", "trim": False, "top_db": 30.0},
        "stft": {"n_fft": 1024, "hop_length": 512, "window": "hann", "trim": False, "top_db": 30.0},
    }
    cfg = dict(base[kind])
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError(f"unknown {kind} option(s) {sorted(unknown)}; known: {sorted(cfg)}")
    cfg.update(overrides)
    for name in ("n_fft", "hop_length"):
        check_positive(name, cfg[name])
    return cfg


def _frame_matrix(x: np.ndarray, sr: int, kind: str, cfg: dict[str, Any]) -> np.ndarray:
    import librosa

    if cfg["trim"]:
        x = trim_silence(x, cfg["top_db"])
    if kind == "mfcc":
        m = librosa.feature.mfcc(y=x, sr=sr, n_mfcc=cfg["n_mfcc"], n_fft=cfg["n_fft"],
                                 hop_length=cfg["hop_length"], window=cfg["window"])
    elif kind == "logmel":
        mel = librosa.feature.melspectrogram(y=x, sr=sr, n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
                                             window=cfg["window"], n_mels=cfg["n_mels"])
        m = librosa.power_to_db(mel, ref=1.0, top_db=80.0)
    else:
        spec = np.abs(librosa.stft(x, n_fft=cfg["n_fft"], hop_length=cfg["hop_length"], window=cfg["window"]))
        m = np.log1p(spec)
    return m.astype(np.float32)


def frames(
    corpus: Corpus,
    kind: str = "mfcc",
    *,
    sample_rate: int = 16000,
    progress: bool = True,
    overwrite: bool = False,
    **config: Any,
) -> list[np.ndarray]:
    """Frame-level features per utterance: a list of (n_features, n_frames) float32 arrays.

    ``config`` overrides :func:`frame_config`'s defaults (e.g. ``n_mfcc=13``).
    """
    cfg = frame_config(kind, **config)
    key = cache_key(fp=corpus.fingerprint(), kind=kind, cfg=cfg, sr=sample_rate, v=FEATURE_VERSION)

    def build() -> list[np.ndarray]:
        out = []
        paths = corpus.table["path"].tolist()
        for path in _progress(paths, len(paths), f"{kind} {corpus.name}", progress):
            x, sr = load_audio(path, sample_rate)
            out.append(_frame_matrix(x, sr, kind, cfg))
        return out

    return cached("features", f"{kind}-{key}", build, overwrite=overwrite)


def speaker_normalise(x: np.ndarray, speakers: Sequence[str] | np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """z-normalise each speaker's rows with that speaker's own mean and standard deviation.

    This is speaker-adaptive normalisation: it uses every speaker's features, test speakers
    included, **without their labels**. Results obtained with it are labelled as such.
    """
    x = np.asarray(x, dtype=np.float64)
    speakers = np.asarray(speakers)
    out = np.empty_like(x)
    for spk in np.unique(speakers):
        m = speakers == spk
        mu = x[m].mean(axis=0)
        sd = x[m].std(axis=0)
        out[m] = (x[m] - mu) / np.where(sd < eps, 1.0, sd)
    return out.astype(np.float32)
