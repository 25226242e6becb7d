"""Reading and shaping audio, in one place: load, resample, trim, pad, chunk.

Every function that reads a file raises :class:`AudioError` naming the file and the fix when
the file is unreadable, empty, silent or at a sample rate the caller refused to resample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "AudioError",
    "AudioInfo",
    "chunk",
    "info",
    "load",
    "pad_to",
    "resample",
    "trim_bounds",
    "trim_silence",
]

SILENCE_RMS = 1e-5
"""Below this RMS (full scale = 1) a recording counts as silent."""


class AudioError(RuntimeError):
    """An audio file cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def info(path: str | Path) -> AudioInfo:
    """Header facts of an audio file without reading its samples."""
    import soundfile as sf

    try:
        i = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError / LibsndfileError
        raise AudioError(f"{path}: cannot read audio header ({exc}); re-copy or re-convert the file") from exc
    return AudioInfo(str(path), int(i.samplerate), int(i.frames), int(i.channels))


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (scipy ``resample_poly``) from ``sr_in`` to ``sr_out`` Hz."""
    if sr_in == sr_out:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(sr_in), int(sr_out))
    return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def load(
    path: str | Path,
    sr: int | None = 16000,
    *,
    mono: bool = True,
    allow_resample: bool = True,
    allow_silent: bool = False,
) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 in [-1, 1].

    Parameters
    ----------
    path
        The file (wav, flac, ...: anything libsndfile reads).
    sr
        Target sample rate; ``None`` keeps the file's own.
    mono
        Average channels into one.
    allow_resample
        If False, a file whose rate differs from ``sr`` is an error instead of being resampled.
    allow_silent
        If False, an all-silent recording is an error (it would give NaN features).

    Returns
    -------
    (signal, sample_rate)
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file does not exist; check the corpus folder (serbook data check)")
    try:
        x, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path}: unreadable audio ({exc}); re-copy or re-convert the file") from exc
    if x.shape[0] == 0:
        raise AudioError(f"{path}: zero-length audio; remove it from the corpus or replace it")
    x = x.mean(axis=1) if mono else x.T
    if sr is not None and file_sr != sr:
        if not allow_resample:
            raise AudioError(
                f"{path}: sample rate {file_sr} Hz, expected {sr} Hz; resample the file "
                f"(e.g. sox in.wav -r {sr} out.wav) or allow resampling"
            )
        x = resample(x, file_sr, sr)
        file_sr = sr
    if not allow_silent and float(np.sqrt(np.mean(np.square(x)))) < SILENCE_RMS:
        raise AudioError(f"{path}: the recording is silent (RMS < {SILENCE_RMS}); remove or replace it")
    return x.astype(np.float32, copy=False), int(file_sr)


def trim_silence(x: np.ndarray, top_db: float = 30.0) -> np.ndarray:
    """Cut leading and trailing stretches quieter than ``top_db`` below the peak (librosa)."""
    start, stop = trim_bounds(x, top_db)
    return x[start:stop]


def trim_bounds(x: np.ndarray, top_db: float = 30.0) -> tuple[int, int]:
    """Where :func:`trim_silence` cuts: ``x[start:stop]`` is the trimmed signal (the whole signal
    when nothing would be left)."""
    import librosa

    y, (start, stop) = librosa.effects.trim(x, top_db=top_db)
    return (int(start), int(stop)) if len(y) else (0, len(x))


def pad_to(x: np.ndarray, length: int, axis: int = -1) -> np.ndarray:
    """Zero-pad (at the end) or cut ``x`` to ``length`` samples/frames along ``axis``."""
    n = x.shape[axis]
    if n >= length:
        return np.take(x, np.arange(length), axis=axis)
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, length - n)
    return np.pad(x, widths)


def chunk(x: np.ndarray, size: int, *, last: str = "pad") -> np.ndarray:
    """Cut a 1-d signal into non-overlapping chunks of ``size`` samples.

    ``last`` says what happens to a final partial chunk: ``"pad"`` zero-pads it to full size
    (so every sample lands in exactly one chunk; a signal shorter than ``size`` gives one padded
    chunk), ``"drop"`` discards it.

    Returns an array of shape ``(n_chunks, size)``.
    """
    if size <= 0:
        raise ValueError(f"chunk size must be positive, got {size}")
    if last not in ("pad", "drop"):
        raise ValueError(f"last must be 'pad' or 'drop', got {last!r}")
    n_full = len(x) // size
    rest = len(x) - n_full * size
    parts = [x[: n_full * size].reshape(n_full, size)]
    if rest and (last == "pad" or n_full == 0):
        parts.append(pad_to(x[n_full * size :], size)[None, :])
    return np.concatenate(parts, axis=0) if parts else np.zeros((0, size), dtype=x.dtype)
