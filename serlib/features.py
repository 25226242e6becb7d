"""Acoustic features, computed once and cached on disk.

Two families of per-utterance features:

* **functionals** — one fixed-length vector per utterance from openSMILE:
  ``is10`` (IS10_paraling_compat, 1582-d, the stand-in for emobase2010 used by Sahu et al.
  2018 and Latif et al. 2020) and ``egemaps`` (eGeMAPSv02, 88-d).
* **frames** — a (n_features, n_frames) matrix per utterance: ``mfcc`` (Leow et al.: 20
  coefficients, n_fft 2048, hop 512, Hann), ``logmel``, and ``stft`` (log-magnitude, n_fft
  1024, hop 512).

The inputs of the chapters' networks are built from the same pieces:

* :func:`padded_mfcc` — MFCCs of silence-trimmed recordings zero-padded (on the waveform) to the
  longest one (Leow et al.); :func:`energy_pitch` and :func:`lmfb_energy_pitch` — log mel
  filterbanks + log energy + log F0 on one frame grid (Li et al., Leow et al.'s Table 2);
* :func:`chunk_spectrograms` — every utterance cut into fixed-length chunks, each a
  frequency-pooled log STFT magnitude (:func:`stft_magnitude`; Pereira et al. 2018);
* :class:`MelBatches` — log-mel matrices served as padded, standardised mini-batches;
* normalisers: :class:`Standardiser` (per-feature z-normalisation with statistics of chosen
  rows: the training part of a fold, or the pretraining chunks) and :func:`speaker_normalise`.

Every extraction shows a progress bar and is cached like the functionals. The per-utterance
extractions run in chunks of ``chunk_size`` utterances (:func:`serlib.cache.cached_chunks`):
each chunk is saved as it finishes, so an extraction that is interrupted (on a corpus of a
hundred thousand recordings it can take hours) resumes where it stopped, and gives exactly the
numbers an uninterrupted run gives.

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
mtime) + the feature configuration + :data:`FEATURE_VERSION` (:data:`SPECTRO_VERSION` for the
chunk spectrograms; both are kept in :mod:`serlib.versions`). Writes are atomic; a corrupt
entry is detected by its checksum and rebuilt (see :mod:`serlib.cache`).

While an extraction runs, its finished chunks live in a folder ``<entry>.chunks`` beside the
entry, removed once the entry is saved. :func:`padded_mfcc` first finds where silence trimming
cuts each recording (the ``trim-`` entry: the longest trimmed recording sets the padding), then
extracts the MFCCs chunk by chunk, from the recordings the first pass kept in memory or read
again; the ``trim-`` entry is kept, small, and shared by every MFCC configuration with the same
threshold and sample rate.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .audio import chunk as chunk_audio
from .audio import load as load_audio
from .audio import pad_to, trim_bounds, trim_silence
from .cache import CHUNK_SIZE, cache_key, cached, cached_chunks
from .config import ParameterError, check_choice, check_positive, get_logger
from .data.corpus import Corpus
from .versions import FEATURE_VERSION, FRAME_KINDS, FUNCTIONAL_SETS, SPECTRO_VERSION

__all__ = [
    "CHUNK_SIZE",
    "FEATURE_VERSION",
    "FRAME_KINDS",
    "FUNCTIONAL_SETS",
    "KEEP_AUDIO_BYTES",
    "SPECTRO_VERSION",
    "ChunkSet",
    "MelBatches",
    "Standardiser",
    "chunk_spectrograms",
    "energy_pitch",
    "frame_config",
    "frames",
    "functionals",
    "lmfb_energy_pitch",
    "padded_mfcc",
    "padded_mfcc_frames",
    "speaker_normalise",
    "standardise_by_speaker",
    "stft_magnitude",
]

KEEP_AUDIO_BYTES = 1 << 30
"""Audio (bytes of float32 samples) :func:`padded_mfcc`'s first pass may keep in memory for its
second, which reads the rest of the recordings again: 1 GiB holds about nine hours at 16 kHz."""


log = get_logger("features")


def functionals(
    corpus: Corpus,
    feature_set: str = "is10",
    *,
    sample_rate: int = 16000,
    progress: bool = True,
    overwrite: bool = False,
    chunk_size: int = CHUNK_SIZE,
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
    chunk_size
        Utterances extracted and saved at a time, so an interrupted extraction resumes; it does
        not change the values (see :func:`serlib.cache.cached_chunks`).

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

    made: list[Any] = []  # the extractor, made once per call and only if something is computed

    def smile() -> Any:
        if not made:
            import opensmile

            made.append(opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, FUNCTIONAL_SETS[feature_set]),
                                        feature_level=opensmile.FeatureLevel.Functionals))
        return made[0]

    def build_chunk(paths: Sequence[str]) -> list[np.ndarray]:
        rows = []
        for path in paths:
            x, sr = load_audio(path, sample_rate)
            rows.append(smile().process_signal(x, sr).to_numpy()[0])
        return rows

    def combine(rows: list[np.ndarray]) -> pd.DataFrame:
        return pd.DataFrame(np.vstack(rows).astype(np.float32), columns=smile().feature_names,
                            index=pd.Index(corpus.table["utt_id"], name="utt_id"))

    return cached_chunks("features", f"{feature_set}-{key}", corpus.table["path"].tolist(), build_chunk, combine,
                         chunk_size=chunk_size, progress=progress, desc=f"{feature_set} {corpus.name}",
                         overwrite=overwrite)


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
    chunk_size: int = CHUNK_SIZE,
    **config: Any,
) -> list[np.ndarray]:
    """Frame-level features per utterance: a list of (n_features, n_frames) float32 arrays.

    ``config`` overrides :func:`frame_config`'s defaults (e.g. ``n_mfcc=13``); ``chunk_size``
    utterances are extracted and saved at a time (see :func:`functionals`).
    """
    cfg = frame_config(kind, **config)
    key = cache_key(fp=corpus.fingerprint(), kind=kind, cfg=cfg, sr=sample_rate, v=FEATURE_VERSION)

    def build_chunk(paths: Sequence[str]) -> list[np.ndarray]:
        out = []
        for path in paths:
            x, sr = load_audio(path, sample_rate)
            out.append(_frame_matrix(x, sr, kind, cfg))
        return out

    return cached_chunks("features", f"{kind}-{key}", corpus.table["path"].tolist(), build_chunk, list,
                         chunk_size=chunk_size, progress=progress, desc=f"{kind} {corpus.name}", overwrite=overwrite)


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


# ---------------------------------------------------------------------------------------------
# Padded inputs for recurrent networks: MFCC, log mel filterbanks + energy + pitch
# ---------------------------------------------------------------------------------------------
def _padded_key(corpus: Corpus, n_mfcc: int, n_fft: int, hop_length: int, sample_rate: int,
                top_db: float) -> tuple[dict[str, Any], str]:
    """The MFCC settings of :func:`padded_mfcc` and the cache key its entries share."""
    cfg = frame_config("mfcc", n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length, trim=False, top_db=top_db)
    return cfg, cache_key(fp=corpus.fingerprint(), cfg=cfg, sr=sample_rate, v=FEATURE_VERSION)


def padded_mfcc(corpus: Corpus, *, n_mfcc: int = 20, n_fft: int = 2048, hop_length: int = 512,
                sample_rate: int = 16000, top_db: float = 30.0, progress: bool = True,
                overwrite: bool = False, chunk_size: int = CHUNK_SIZE) -> np.ndarray:
    """MFCCs of silence-trimmed recordings zero-padded to the longest one (Leow et al.'s input).

    Each recording is trimmed (leading and trailing stretches quieter than ``top_db`` below
    its peak), zero samples are appended up to the longest trimmed recording in the corpus,
    and ``n_mfcc`` MFCCs are taken with an ``n_fft``-sample Hann window and a ``hop_length``
    hop (librosa; the paper: 20 coefficients, 2048, 512).

    Parameters
    ----------
    corpus
        Any :class:`~serlib.data.Corpus`.
    n_mfcc, n_fft, hop_length
        MFCC coefficients, frame and hop (samples).
    sample_rate
        Audio is resampled to this rate first.
    top_db
        Silence-trimming threshold, dB below the peak.
    progress
        Show progress bars while extracting.
    overwrite
        Recompute even if a cached array exists.
    chunk_size
        Utterances extracted and saved at a time (see :func:`functionals`); not part of the values.

    Returns
    -------
    ``(n_utterances, n_mfcc, n_frames)`` float32, rows in corpus order; cached on disk.

    Notes
    -----
    The padding happens on the waveform, as in the paper, so this does its own extraction
    rather than padding :func:`frames` matrices (whose zero-signal frames would otherwise have
    to be imitated). The padded length depends on every recording, so the extraction makes two
    passes: one finds where trimming cuts each recording (cached on its own), the other reads
    each recording again (unless the first pass, in the same call, could keep it in memory: up to
    :data:`KEEP_AUDIO_BYTES` of audio) and takes the MFCCs of its trimmed, padded waveform.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Sec. 4.1.
    """
    cfg, key = _padded_key(corpus, n_mfcc, n_fft, hop_length, sample_rate, top_db)

    kept: dict[str, np.ndarray] = {}  # trimmed recordings the first pass read, if it ran in this call

    def items() -> list[tuple[str, int, int, int]]:  # (path, trimmed start, trimmed stop, padded length)
        bounds = _trim_bounds(corpus, sample_rate, top_db, progress, overwrite, chunk_size, keep=kept)
        lengths = bounds[:, 1] - bounds[:, 0]
        cached("features", f"padded-frames-{key}", lambda: _frame_counts(lengths, hop_length), overwrite=True)
        longest = int(lengths.max())
        return [(path, int(a), int(b), longest) for path, (a, b) in zip(corpus.table["path"], bounds)]

    def build_chunk(chunk: Sequence[tuple[str, int, int, int]]) -> list[np.ndarray]:
        out = []
        for path, start, stop, longest in chunk:
            x = kept.pop(path, None)
            if x is None:
                x = load_audio(path, sample_rate)[0][start:stop]
            out.append(_frame_matrix(pad_to(x, longest), sample_rate, "mfcc", cfg))
        return out

    return cached_chunks("features", f"padded-mfcc-{key}", items, build_chunk,
                         lambda mats: np.stack(mats).astype(np.float32), chunk_size=chunk_size, progress=progress,
                         desc=f"padded mfcc {corpus.name}", overwrite=overwrite)


def padded_mfcc_frames(corpus: Corpus, *, n_mfcc: int = 20, n_fft: int = 2048, hop_length: int = 512,
                       sample_rate: int = 16000, top_db: float = 30.0, progress: bool = True,
                       chunk_size: int = CHUNK_SIZE) -> np.ndarray:
    """How many frames of each row of :func:`padded_mfcc` (same settings) hold the recording;
    the rest are its zero padding. Saved with the MFCCs; computed from the trimmed audio if an
    older cache holds the MFCCs alone.

    Returns
    -------
    ``(n_utterances,)`` int64, rows in corpus order: ``1 + trimmed samples // hop_length``
    (librosa's centred frames), capped at the padded width.
    """
    cfg, key = _padded_key(corpus, n_mfcc, n_fft, hop_length, sample_rate, top_db)

    def build() -> np.ndarray:
        bounds = _trim_bounds(corpus, sample_rate, top_db, progress, False, chunk_size)
        return _frame_counts(bounds[:, 1] - bounds[:, 0], hop_length)

    return cached("features", f"padded-frames-{key}", build)


def _trim_bounds(corpus: Corpus, sample_rate: int, top_db: float, progress: bool, overwrite: bool,
                 chunk_size: int, keep: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """``(n_utterances, 2)`` int64: each recording's trimmed part is ``x[start:stop]``
    (:func:`serlib.audio.trim_bounds`); cached as the ``trim-`` entry. The trimmed recordings
    this call reads go into ``keep`` (by path) while they add up to :data:`KEEP_AUDIO_BYTES`."""
    key = cache_key(fp=corpus.fingerprint(), sr=sample_rate, top_db=top_db, v=FEATURE_VERSION)
    room = [KEEP_AUDIO_BYTES if keep is not None else 0]

    def build_chunk(paths: Sequence[str]) -> list[tuple[int, int]]:
        out = []
        for path in paths:
            x = load_audio(path, sample_rate)[0]
            start, stop = trim_bounds(x, top_db)
            if keep is not None and x.nbytes <= room[0]:
                keep[path] = x[start:stop]
                room[0] -= x.nbytes
            out.append((start, stop))
        return out

    return cached_chunks("features", f"trim-{key}", corpus.table["path"].tolist(), build_chunk,
                         lambda bounds: np.array(bounds, dtype=np.int64).reshape(-1, 2), chunk_size=chunk_size,
                         progress=progress, desc=f"trim {corpus.name}", overwrite=overwrite)


def _frame_counts(lengths: np.ndarray, hop_length: int) -> np.ndarray:
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.minimum(1 + lengths // hop_length, 1 + int(lengths.max()) // hop_length)


def energy_pitch(corpus: Corpus, *, n_fft: int = 1024, hop_length: int = 256, sample_rate: int = 16000,
                 top_db: float = 30.0, fmin: float = 60.0, fmax: float = 400.0, progress: bool = True,
                 overwrite: bool = False, chunk_size: int = CHUNK_SIZE) -> list[np.ndarray]:
    """Log RMS energy and log F0 (YIN, ``fmin``-``fmax`` Hz) of each silence-trimmed utterance.

    Frames of ``n_fft`` samples every ``hop_length``: the frame grid of :func:`frames`'s
    ``logmel`` at the same settings. ``chunk_size`` utterances are extracted and saved at a time
    (see :func:`functionals`).

    Returns
    -------
    One ``(2, n_frames)`` float32 array per utterance (row 0 log energy, row 1 log F0); cached.
    """
    check_positive("n_fft", n_fft)
    check_positive("hop_length", hop_length)
    key = cache_key(fp=corpus.fingerprint(), sr=sample_rate, top_db=top_db, n_fft=n_fft, hop=hop_length,
                    fmin=fmin, fmax=fmax, v=FEATURE_VERSION)

    def build_chunk(paths: Sequence[str]) -> list[np.ndarray]:
        import librosa

        out = []
        for path in paths:
            x, _ = load_audio(path, sample_rate)
            x = trim_silence(x, top_db)
            rms = librosa.feature.rms(y=x, frame_length=n_fft, hop_length=hop_length)[0]
            f0 = librosa.yin(x, fmin=fmin, fmax=fmax, sr=sample_rate, frame_length=n_fft, hop_length=hop_length)
            n = min(len(rms), len(f0))
            out.append(np.stack([np.log(rms[:n] + 1e-6), np.log(f0[:n])]).astype(np.float32))
        return out

    return cached_chunks("features", f"energy-pitch-{key}", corpus.table["path"].tolist(), build_chunk, list,
                         chunk_size=chunk_size, progress=progress, desc=f"energy+pitch {corpus.name}",
                         overwrite=overwrite)


def lmfb_energy_pitch(corpus: Corpus, *, n_mels: int = 40, n_fft: int = 1024, hop_length: int = 256,
                      sample_rate: int = 16000, top_db: float = 30.0, progress: bool = True,
                      overwrite: bool = False, with_frames: bool = False,
                      chunk_size: int = CHUNK_SIZE) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Log mel filterbanks + log energy + log pitch per frame, padded to the longest utterance.

    ``n_mels`` log mel filterbank energies from :func:`frames` (``logmel``, silence trimmed like
    :func:`padded_mfcc`), log RMS energy and log F0 (:func:`energy_pitch`) on the same frames;
    padded frames repeat each row's lowest value in that utterance (the log-mel floor a zero
    signal would give, the lowest energy and pitch). Both parts are cached (and extracted
    ``chunk_size`` utterances at a time).

    Returns
    -------
    ``(n_utterances, n_mels + 2, n_frames)`` float32; with ``with_frames`` also each row's
    number of frames before padding (int64).

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Table 2.
    H. Li, M. Tu, J. Huang, S. Narayanan, P. Georgiou. Speaker-invariant affective
    representation learning via adversarial training. ICASSP 2020.
    """
    mels = frames(corpus, "logmel", sample_rate=sample_rate, progress=progress, overwrite=overwrite, n_mels=n_mels,
                  n_fft=n_fft, hop_length=hop_length, trim=True, top_db=top_db, chunk_size=chunk_size)
    ep = energy_pitch(corpus, n_fft=n_fft, hop_length=hop_length, sample_rate=sample_rate, top_db=top_db,
                      progress=progress, overwrite=overwrite, chunk_size=chunk_size)
    mats = []
    for m, e in zip(mels, ep):
        n = min(m.shape[1], e.shape[1])
        mats.append(np.concatenate([m[:, :n], e[:, :n]], axis=0))
    longest = max(m.shape[1] for m in mats)
    out = np.empty((len(mats), mats[0].shape[0], longest), dtype=np.float32)
    for i, m in enumerate(mats):
        out[i] = m.min(axis=1, keepdims=True)
        out[i, :, : m.shape[1]] = m
    if with_frames:
        return out, np.array([m.shape[1] for m in mats], dtype=np.int64)
    return out


# ---------------------------------------------------------------------------------------------
# Fixed-length chunks -> log STFT spectrograms
# ---------------------------------------------------------------------------------------------
@dataclass
class ChunkSet:
    """Spectrogram chunks of a corpus.

    ``data`` is ``(n_chunks, freq_bins, frames)`` (``log(1 + |X|)``, float16 in the cache);
    ``rows`` the corpus row of each chunk; ``weight`` the share of real (not padded) audio in it.
    """

    data: np.ndarray
    rows: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def mask(self, rows: np.ndarray) -> np.ndarray:
        """Boolean mask of the chunks whose utterance is in ``rows``."""
        return np.isin(self.rows, np.asarray(rows))


def stft_magnitude(chunks: np.ndarray, n_fft: int = 1024, hop_length: int = 512) -> np.ndarray:
    """|STFT| of each row of ``chunks``: periodic Hann window, centred frames (``n_fft // 2`` zeros
    padded at both ends), shape ``(n, n_fft // 2 + 1, 1 + samples // hop_length)``.

    The same numbers as ``librosa.stft(..., window="hann", center=True, pad_mode="constant")``,
    in plain NumPy: librosa's first call compiles numba code, which can take minutes in a fresh
    notebook kernel on a busy machine.
    """
    x = np.asarray(chunks, dtype=np.float64)
    pad = n_fft // 2
    x = np.pad(x, ((0, 0), (pad, pad)))
    n_frames = 1 + (x.shape[1] - n_fft) // hop_length
    idx = np.arange(n_fft)[None, :] + hop_length * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(x[:, idx] * window, axis=-1)).transpose(0, 2, 1)


def _spectrogram(chunks: np.ndarray, n_fft: int, hop_length: int, freq_bins: int) -> np.ndarray:
    mag = stft_magnitude(chunks, n_fft, hop_length)[:, : n_fft // 2]  # drop the Nyquist bin: a power of two
    n, f, t = mag.shape
    mag = mag[:, : (f // freq_bins) * freq_bins].reshape(n, freq_bins, f // freq_bins, t).mean(axis=2)
    return np.log1p(mag).astype(np.float16)


def chunk_spectrograms(corpus: Corpus, *, chunk_seconds: float = 1.0, n_fft: int = 1024, hop_length: int = 512,
                       freq_bins: int = 512, sample_rate: int = 16000, progress: bool = True,
                       overwrite: bool = False, chunk_size: int = CHUNK_SIZE) -> ChunkSet:
    """Cut every utterance into non-overlapping chunks and take their log STFT magnitude.

    The last partial chunk is zero-padded to full length (:func:`serlib.audio.chunk` with
    ``last="pad"``): every sample of an utterance lands in exactly one chunk, and an utterance
    shorter than a chunk gives one padded chunk. The ``weight`` of a chunk is its share of
    real samples. Adjacent linear-frequency bins (Nyquist bin dropped) are averaged down to
    ``freq_bins``. Cached on disk (key: corpus fingerprint + configuration + :data:`SPECTRO_VERSION`).

    Parameters
    ----------
    corpus
        Any :class:`~serlib.data.Corpus`.
    chunk_seconds
        Chunk length in seconds.
    n_fft, hop_length
        STFT size and hop (samples).
    freq_bins
        Frequency bins kept: the ``n_fft // 2`` non-Nyquist bins averaged in equal groups.
    sample_rate
        Audio is resampled to this rate first.
    progress
        Show a progress bar while extracting.
    overwrite
        Recompute even if a cached entry exists.
    chunk_size
        Utterances (not spectrogram chunks) extracted and saved at a time (see :func:`functionals`).

    References
    ----------
    Pereira et al. 2018, Sec. 3.2.
    """
    for name, value in (("chunk_seconds", chunk_seconds), ("n_fft", n_fft), ("hop_length", hop_length),
                        ("freq_bins", freq_bins)):
        check_positive(name, value)
    if freq_bins > n_fft // 2:
        raise ParameterError(f"freq_bins={freq_bins} exceeds the {n_fft // 2} non-Nyquist bins of n_fft={n_fft}: "
                             "give fewer freq_bins or a larger n_fft")
    size = round(chunk_seconds * sample_rate)
    key = cache_key(fp=corpus.fingerprint(), size=size, n_fft=n_fft, hop=hop_length, bins=freq_bins,
                    sr=sample_rate, v=SPECTRO_VERSION)

    def build_chunk(paths: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for path in paths:
            x, _ = load_audio(path, sample_rate)
            c = chunk_audio(x, size, last="pad")
            real = np.clip(len(x) - np.arange(len(c)) * size, 0, size) / size
            out.append((_spectrogram(c, n_fft, hop_length, freq_bins), real.astype(np.float32)))
        return out

    def combine(per_utt: list[tuple[np.ndarray, np.ndarray]]) -> ChunkSet:
        data = [d for d, _ in per_utt]
        rows = [np.full(len(d), i) for i, d in enumerate(data)]
        return ChunkSet(np.concatenate(data), np.concatenate(rows), np.concatenate([w for _, w in per_utt]))

    return cached_chunks("features", f"chunks-{key}", corpus.table["path"].tolist(), build_chunk, combine,
                         chunk_size=chunk_size, progress=progress, desc=f"chunks {corpus.name}", overwrite=overwrite)


# ---------------------------------------------------------------------------------------------
# Normalisers and batches
# ---------------------------------------------------------------------------------------------
@dataclass
class Standardiser:
    """Per-feature z-normalisation of frame matrices with statistics fitted on chosen data.

    A feature is a row of a ``(n_features, n_frames)`` matrix; its mean and standard deviation
    pool every frame of every matrix it is fitted on (the training rows of a fold, the
    pretraining chunks). Applied unchanged to any other data, so held-out speakers never
    contribute to the statistics.

    Attributes
    ----------
    mean, std
        ``(n_features,)`` float32; ``std`` is already safe to divide by (see :meth:`fit`).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray | Sequence[np.ndarray], *, floor: float = 1e-8, offset: float = 0.0,
            dtype: Any = np.float32) -> Standardiser:
        """Statistics of ``data``.

        Parameters
        ----------
        data
            A ``(n, n_features, n_frames)`` array, or a sequence of ``(n_features, n_frames_i)``
            matrices of any lengths (concatenated along time).
        floor
            A standard deviation below ``floor`` (a constant feature) becomes 1.
        offset
            Added to every standard deviation before the floor (a smoothing constant).
        dtype
            Precision of the statistics' computation (they are stored as float32).
        """
        if isinstance(data, np.ndarray) and data.ndim == 3:
            d = np.asarray(data, dtype=dtype)
            mean, std = d.mean(axis=(0, 2)), d.std(axis=(0, 2))
        else:
            mats = [np.asarray(m, dtype=dtype) for m in data]
            if not mats or any(m.ndim != 2 for m in mats):
                raise ValueError("Standardiser.fit needs a (n, features, frames) array or a non-empty sequence of "
                                 "(features, frames) matrices")
            cat = np.concatenate(mats, axis=1)
            mean, std = cat.mean(axis=1), cat.std(axis=1)
        std = np.where(std + offset < floor, 1.0, std + offset)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` per feature of a ``(n_features, n_frames)`` matrix or a
        ``(n, n_features, n_frames)`` array, as float32."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 2:
            return ((x - self.mean[:, None]) / self.std[:, None]).astype(np.float32)
        return ((x - self.mean[None, :, None]) / self.std[None, :, None]).astype(np.float32)


def standardise_by_speaker(x: np.ndarray, speakers: Sequence[str] | np.ndarray,
                           fit: Callable[[np.ndarray], Standardiser]) -> np.ndarray:
    """``x`` (one row per utterance or chunk) with each speaker's rows standardised by the
    :class:`Standardiser` that ``fit(rows)`` fits on that speaker's ``rows``: speaker-adaptive
    normalisation of frame matrices. It uses every speaker's data, test speakers included,
    **without their labels**; results obtained with it are labelled as such (as for
    :func:`speaker_normalise`, its twin for functional vectors)."""
    speakers = np.asarray(speakers)
    out = np.empty(x.shape, dtype=np.float32)
    for s in np.unique(speakers):
        rows = np.flatnonzero(speakers == s)
        out[rows] = fit(rows)(x[rows])
    return out


class MelBatches:
    """Log-mel frame matrices served as padded, standardised mini-batches (torch tensors).

    Parameters
    ----------
    frames
        One (n_mels, n_frames) array per utterance (:func:`frames`, ``logmel``).
    max_frames
        Longer utterances keep their first ``max_frames`` frames.

    Until :meth:`fit_stats` is called the matrices are served as they are.
    """

    def __init__(self, frames: Sequence[np.ndarray], max_frames: int = 400) -> None:
        check_positive("max_frames", max_frames)
        self.frames = [np.asarray(f[:, :max_frames], dtype=np.float32) for f in frames]
        self.n_mels = self.frames[0].shape[0]
        self.norm = Standardiser(np.zeros(self.n_mels, np.float32), np.ones(self.n_mels, np.float32))

    def __len__(self) -> int:
        return len(self.frames)

    def fit_stats(self, rows: Sequence[int]) -> MelBatches:
        """A copy standardised with the per-mel-bin mean and std (+ 1e-5) of ``rows`` (the
        training part only)."""
        new = copy.copy(self)
        new.norm = Standardiser.fit([self.frames[i] for i in rows], floor=0.0, offset=1e-5)
        return new

    def batch(self, idx: Sequence[int], device: Any) -> dict[str, Any]:
        """``{"x": (len(idx), n_mels, longest) zero-padded, "lengths": frames of each}`` on ``device``."""
        import torch

        mats = [self.norm(self.frames[i]) for i in idx]
        lengths = [m.shape[1] for m in mats]
        x = np.zeros((len(mats), self.n_mels, max(lengths)), np.float32)
        for k, m in enumerate(mats):
            x[k, :, : m.shape[1]] = m
        return {"x": torch.from_numpy(x).to(device), "lengths": torch.as_tensor(lengths, device=device)}
