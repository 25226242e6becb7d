"""Pins of the feature path and the yardstick: shapes, values that follow from the definitions,
caching (hits, misses, keys that follow the parameters), the normalisers and batches, and the
embedded corpus's difficulty band.

These hold the behaviour still while the training and feature code is reorganised: a broken
generator, feature extractor or normaliser changes one of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from serlib import features
from serlib.config import ParameterError
from serlib.data import load_corpus
from serlib.data.corpus import Corpus
from serlib.experiments.common import svm_yardstick
from serlib.features import (
    MelBatches,
    Standardiser,
    chunk_spectrograms,
    energy_pitch,
    frame_config,
    frames,
    functionals,
    lmfb_energy_pitch,
    padded_mfcc,
    padded_mfcc_frames,
    speaker_normalise,
    stft_magnitude,
)
from serlib.splits import Fold, leave_one_session_out

SR = 16000


def _tone_corpus(root, durations=(0.5, 1.0, 0.75)) -> Corpus:
    """Three utterances of a 220 Hz tone with a little noise, written as 16 kHz wav files."""
    rng = np.random.default_rng(0)
    rows = []
    for i, dur in enumerate(durations):
        t = np.arange(int(dur * SR)) / SR
        x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)
        path = root / f"u{i}.wav"
        sf.write(path, x.astype(np.float32), SR)
        rows.append({"utt_id": f"u{i}", "path": str(path), "corpus": "tones", "speaker": f"s{i % 2}",
                     "gender": "F", "session": "S1", "emotion": ("neutral", "angry")[i % 2], "transcript": "",
                     "duration": dur, "sample_rate": SR})
    return Corpus("tones", pd.DataFrame(rows), ("neutral", "angry"))


@pytest.fixture
def tones(tmp_path, tmp_cache) -> Corpus:
    return _tone_corpus(tmp_path)


def test_functionals_shapes_names_and_cache(tones, tmp_cache):
    is10 = functionals(tones, "is10", progress=False)
    assert is10.shape == (3, 1582) and is10.dtypes.unique().tolist() == [np.float32]
    assert is10.index.tolist() == ["u0", "u1", "u2"] and is10.index.name == "utt_id"
    assert np.isfinite(is10.to_numpy()).all()
    eg = functionals(tones, "egemaps", progress=False)
    assert eg.shape == (3, 88)
    # the 220 Hz tone: eGeMAPS's mean F0 (semitones from 27.5 Hz) is 12*log2(220/27.5) = 36
    f0 = eg["F0semitoneFrom27.5Hz_sma3nz_amean"].to_numpy()
    np.testing.assert_allclose(f0, 36.0, atol=0.5)
    entries = sorted(p.name.split("-")[0] for p in (tmp_cache / "features").glob("*.pkl"))
    assert entries == ["egemaps", "is10"]  # one cache entry per feature set
    again = functionals(tones, "is10", progress=False)
    pd.testing.assert_frame_equal(is10, again)
    with pytest.raises(Exception, match="feature_set"):
        functionals(tones, "mfcc", progress=False)


def test_frames_shapes_follow_the_configuration(tones):
    n = [int(d * SR) for d in (0.5, 1.0, 0.75)]
    stft = frames(tones, "stft", progress=False)
    assert [m.shape for m in stft] == [(513, 1 + k // 512) for k in n]
    assert all(m.dtype == np.float32 and (m >= 0).all() for m in stft)  # log(1 + |X|)
    mel = frames(tones, "logmel", progress=False)
    assert [m.shape for m in mel] == [(64, 1 + k // 256) for k in n]
    mfcc = frames(tones, "mfcc", progress=False, trim=False)
    assert [m.shape for m in mfcc] == [(20, 1 + k // 512) for k in n]
    # trimming a tone that has no silence keeps (nearly) every frame
    trimmed = frames(tones, "mfcc", progress=False)
    assert all(abs(a.shape[1] - b.shape[1]) <= 2 for a, b in zip(trimmed, mfcc))
    assert frames(tones, "mfcc", progress=False, n_mfcc=13, trim=False)[0].shape[0] == 13
    with pytest.raises(ValueError, match="unknown mfcc option"):
        frame_config("mfcc", n_mels=10)


def test_speaker_normalise_per_speaker():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(5, 2, (6, 3)), rng.normal(-3, 0.5, (4, 3))])
    x[:, 2] = 7.0  # a constant column stays finite (zero after centring)
    spk = np.array(["a"] * 6 + ["b"] * 4)
    z = speaker_normalise(x, spk)
    assert z.dtype == np.float32 and z.shape == x.shape
    for s in ("a", "b"):
        np.testing.assert_allclose(z[spk == s, :2].mean(axis=0), 0, atol=1e-6)
        np.testing.assert_allclose(z[spk == s, :2].std(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(z[:, 2], 0)
    # each speaker is normalised with their own statistics only
    np.testing.assert_allclose(speaker_normalise(x[:6], spk[:6]), z[:6], atol=1e-6)


def test_svm_yardstick_on_given_features(table_corpus):
    c = table_corpus
    rng = np.random.default_rng(2)
    y = c.y
    centres = rng.normal(0, 4, (len(c.labels), 5))
    offsets = {s: rng.normal(0, 10, 5) for s in np.unique(c.speakers)}
    X = centres[y] + rng.normal(0, 1, (len(c), 5)) + np.vstack([offsets[s] for s in c.speakers])
    feats = pd.DataFrame(X, index=c.table["utt_id"])
    folds = leave_one_session_out(c)
    scores, cm = svm_yardstick(c, folds, features=feats, progress=False)
    assert scores["fold"].tolist() == [f.name for f in folds]
    assert scores["method"].unique().tolist() == ["IS10 + RBF-SVM"]
    np.testing.assert_allclose(cm.to_numpy().sum(axis=1), 1.0)
    adaptive, _ = svm_yardstick(c, folds, features=feats, speaker_adaptive=True, progress=False)
    assert adaptive["method"].unique().tolist() == ["IS10 + RBF-SVM (speaker-adaptive norm.)"]
    # speaker offsets dominate the raw features; removing them per speaker is what helps here
    assert adaptive["uar"].mean() > scores["uar"].mean() + 0.2
    assert adaptive["uar"].mean() > 0.9
    with pytest.raises(Exception, match="empty|class"):
        bad = Fold("bad", train=np.flatnonzero(y != 0), test=np.flatnonzero(y == 0))
        svm_yardstick(c, [bad], features=feats, progress=False)


def test_embedded_corpus_difficulty_band():
    """eGeMAPS + RBF-SVM, leave one session out, on the tiny embedded corpus.

    Chance is 0.25. The band says the corpus is learnable but far from solved, and that speaker
    offsets carry a large part of the difficulty (measured: 0.51 plain, 0.79 speaker-adaptive;
    the default size gives 0.59 / 0.82).
    """
    c = load_corpus("embedded", size="tiny")
    folds = leave_one_session_out(c)
    plain, _ = svm_yardstick(c, folds, feature_set="egemaps", progress=False)
    adaptive, _ = svm_yardstick(c, folds, feature_set="egemaps", speaker_adaptive=True, progress=False)
    assert 0.40 <= plain["uar"].mean() <= 0.70
    assert 0.65 <= adaptive["uar"].mean() <= 0.90
    assert adaptive["uar"].mean() - plain["uar"].mean() >= 0.15


# ---------------------------------------------------------------------------------------------
# Network inputs: padded MFCC, log mel + energy + pitch, chunk spectrograms
# ---------------------------------------------------------------------------------------------
def _entries(cache, prefix: str) -> list[str]:
    return sorted(p.name for p in (cache / "features").glob(f"{prefix}-*.pkl"))


class CacheMiss(Exception):
    """Raised by an audio read once :func:`_no_extraction` is in force."""


def _no_extraction(monkeypatch) -> None:
    """From here on any audio read raises :class:`CacheMiss`: a call must be served by the cache."""

    def refuse(*args, **kwargs):
        raise CacheMiss(args[0] if args else "")

    monkeypatch.setattr(features, "load_audio", refuse)


def test_padded_mfcc_on_the_tiny_corpus():
    c = load_corpus("embedded", size="tiny", progress=False)
    m = padded_mfcc(c, progress=False)
    assert m.shape[:2] == (len(c), 20) and m.dtype == np.float32 and np.isfinite(m).all()
    # the shortest recording is mostly zero padding: its last frames are identical (silence)
    short = m[int(np.argmin(c.table["duration"]))]
    assert np.allclose(short[:, -1], short[:, -3])
    longest = m[int(np.argmax(c.table["duration"]))]
    assert not np.allclose(longest[:, -1], longest[:, -3])
    again = padded_mfcc(c, progress=False)  # from the cache
    np.testing.assert_array_equal(m, again)


def test_padded_mfcc_pads_to_the_longest_and_caches_per_configuration(tones, tmp_cache, monkeypatch):
    m = padded_mfcc(tones, progress=False)
    # the tones have no silence to trim: the longest (1 s) sets the length, 1 + 16000 // 512 frames
    assert m.shape == (3, 20, 1 + SR // 512) and m.dtype == np.float32
    # the 0.5 s tone's padded half is silence: identical frames from well after its end
    assert np.allclose(m[0, :, -1], m[0, :, -5]) and not np.allclose(m[1, :, -1], m[1, :, -5])
    assert len(_entries(tmp_cache, "padded-mfcc")) == 1
    other = padded_mfcc(tones, n_mfcc=13, hop_length=256, progress=False)  # a miss: another key
    assert other.shape == (3, 13, 1 + SR // 256)
    assert len(_entries(tmp_cache, "padded-mfcc")) == 2
    _no_extraction(monkeypatch)
    np.testing.assert_array_equal(padded_mfcc(tones, progress=False), m)  # a hit
    # the frames before each row's padding were saved with the MFCCs: 1 + samples // hop
    frames = padded_mfcc_frames(tones, progress=False)
    assert frames.tolist() == [1 + int(d * SR) // 512 for d in (0.5, 1.0, 0.75)]
    assert np.allclose(m[0, :, frames[0] + 2], m[0, :, -1])  # past them: the padding's silence
    with pytest.raises(CacheMiss):
        padded_mfcc(tones, top_db=20.0, progress=False)  # the threshold is part of the key


def test_energy_pitch_and_lmfb_on_one_frame_grid(tones, tmp_cache, monkeypatch):
    ep = energy_pitch(tones, progress=False)
    assert [e.shape[0] for e in ep] == [2, 2, 2] and all(e.dtype == np.float32 for e in ep)
    # the 220 Hz tones: YIN's F0 is 220 Hz away from the edges
    for e in ep:
        np.testing.assert_allclose(np.exp(np.median(e[1])), 220.0, rtol=0.02)
    x = lmfb_energy_pitch(tones, n_mels=24, progress=False)
    longest = max(e.shape[1] for e in ep)
    assert x.shape == (3, 24 + 2, longest) and x.dtype == np.float32
    np.testing.assert_array_equal(x[2, 24:, : ep[2].shape[1]], ep[2])
    # padded frames repeat each row's lowest value of that utterance
    n0 = ep[0].shape[1]
    assert n0 < longest
    np.testing.assert_array_equal(x[0, :, -1], x[0, :, :n0].min(axis=1))
    assert len(_entries(tmp_cache, "energy-pitch")) == 1
    _no_extraction(monkeypatch)
    np.testing.assert_array_equal(lmfb_energy_pitch(tones, n_mels=24, progress=False), x)  # both parts cached
    same, frames = lmfb_energy_pitch(tones, n_mels=24, progress=False, with_frames=True)
    np.testing.assert_array_equal(same, x)
    assert frames.tolist() == [e.shape[1] for e in ep] and frames.max() == longest
    with pytest.raises(CacheMiss):
        energy_pitch(tones, hop_length=128, progress=False)


def test_chunk_spectrograms_weights_shapes_and_cache(tmp_path, tmp_cache, monkeypatch):
    durations = (0.4, 1.0, 2.3)
    corpus = _tone_corpus(tmp_path, durations)
    cs = chunk_spectrograms(corpus, chunk_seconds=1.0, freq_bins=64, progress=False)
    assert cs.data.shape == (1 + 1 + 3, 64, 32) and cs.data.dtype == np.float16
    np.testing.assert_array_equal(cs.rows, [0, 1, 2, 2, 2])
    # the weights are the share of real audio: they add up to each utterance's duration in chunks
    for i, d in enumerate(durations):
        assert cs.weight[cs.rows == i].sum() == pytest.approx(d, abs=1e-4)
    np.testing.assert_allclose(cs.weight, [0.4, 1.0, 1.0, 1.0, 0.3], atol=1e-4)
    assert cs.mask(np.array([2])).tolist() == [False, False, True, True, True] and len(cs) == 5
    # 220 Hz lies in the second of 64 bins of 125 Hz (125-250 Hz)
    assert np.all(cs.data[1].astype(np.float32).mean(axis=1).argmax() == 1)
    half = chunk_spectrograms(corpus, chunk_seconds=0.5, freq_bins=32, progress=False)  # a miss
    assert half.data.shape == (1 + 2 + 5, 32, 16)
    assert len(_entries(tmp_cache, "chunks")) == 2
    _no_extraction(monkeypatch)
    again = chunk_spectrograms(corpus, chunk_seconds=1.0, freq_bins=64, progress=False)  # a hit
    np.testing.assert_array_equal(again.data, cs.data)
    with pytest.raises(CacheMiss):
        chunk_spectrograms(corpus, chunk_seconds=1.0, freq_bins=128, progress=False)
    with pytest.raises(ParameterError, match="freq_bins=1024 exceeds"):
        chunk_spectrograms(corpus, freq_bins=1024, progress=False)
    with pytest.raises(ParameterError, match="chunk_seconds"):
        chunk_spectrograms(corpus, chunk_seconds=0.0, progress=False)


def test_stft_magnitude_frames_and_peak():
    sr, k = 16000, 40  # bin 40 of a 1024-point FFT is 625 Hz
    x = np.sin(2 * np.pi * k * sr / 1024 * np.arange(sr) / sr)[None, :]
    mag = stft_magnitude(x, 1024, 512)
    assert mag.shape == (1, 513, 32)  # 1 + 16000 // 512 centred frames
    assert np.all(mag[0, :, 2:-2].argmax(axis=0) == k)
    # one frame by hand: frame 5 starts at 5 * 512 - 512 in the unpadded signal
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1024) / 1024)
    seg = x[0, 5 * 512 - 512: 5 * 512 + 512]
    np.testing.assert_allclose(mag[0, :, 5], np.abs(np.fft.rfft(seg * w)), atol=1e-8)


# ---------------------------------------------------------------------------------------------
# Normalisers and batches
# ---------------------------------------------------------------------------------------------
def test_standardiser_uses_the_fitted_rows_only():
    rng = np.random.default_rng(3)
    x = rng.normal(4.0, 3.0, (10, 5, 7)).astype(np.float32)
    x[:, 4] = 2.0  # a constant feature: divided by 1, not by ~0
    x[6:] += 100.0  # held-out rows far away must not move the statistics
    train = np.arange(6)
    norm = Standardiser.fit(x[train])
    assert norm.mean.shape == norm.std.shape == (5,) and norm.std.dtype == np.float32
    z = norm(x)
    assert z.shape == x.shape and z.dtype == np.float32
    np.testing.assert_allclose(z[train][:, :4].mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(z[train][:, :4].std(axis=(0, 2)), 1, atol=1e-5)
    np.testing.assert_array_equal(z[train, 4], 0)
    np.testing.assert_array_equal(z[6:, 4], 100.0)  # the constant feature's std became 1
    assert z[6:, :4].mean() > 20  # the held-out rows keep their offset
    # a matrix is normalised like a row of the array; a ragged list fits the same statistics
    np.testing.assert_allclose(norm(x[7]), z[7], atol=1e-6)
    ragged = Standardiser.fit([m for m in x[train]])
    np.testing.assert_allclose(ragged.mean, norm.mean, rtol=1e-5)
    np.testing.assert_allclose(ragged.std, norm.std, rtol=1e-5)


def test_standardiser_floor_offset_precision_and_bad_input():
    x = np.ones((3, 2, 4), np.float16)
    x[:, 1] = np.arange(4)
    coarse = Standardiser.fit(x, floor=1e-6, dtype=np.float64)
    np.testing.assert_array_equal(coarse.std, np.float32([1.0, np.std(np.arange(4))]))
    smooth = Standardiser.fit([m for m in x], floor=0.0, offset=1e-5)
    np.testing.assert_allclose(smooth.std, [1e-5, np.std(np.arange(4)) + 1e-5], rtol=1e-6)
    with pytest.raises(ValueError, match="Standardiser.fit"):
        Standardiser.fit([])
    with pytest.raises(ValueError, match="Standardiser.fit"):
        Standardiser.fit([np.ones(4)])


def test_mel_batches_pad_cut_and_standardise_with_training_rows():
    rng = np.random.default_rng(4)
    mats = [rng.normal(i, 1.0 + i, (6, n)).astype(np.float32) for i, n in enumerate((30, 50, 12))]
    raw = MelBatches(mats, max_frames=40)
    assert len(raw) == 3 and raw.n_mels == 6
    b = raw.batch([0, 1, 2], "cpu")
    assert tuple(b["x"].shape) == (3, 6, 40) and b["lengths"].tolist() == [30, 40, 12]
    np.testing.assert_array_equal(b["x"][2, :, :12].numpy(), mats[2])  # unfitted: served as they are
    assert float(b["x"][2, :, 12:].abs().sum()) == 0.0  # zero padding after the end
    fitted = raw.fit_stats([0, 1])
    assert fitted is not raw and np.all(raw.norm.std == 1)  # a standardised copy; the original unchanged
    cat = np.concatenate([mats[0], mats[1][:, :40]], axis=1)
    np.testing.assert_allclose(fitted.norm.mean, cat.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(fitted.norm.std, cat.std(axis=1) + 1e-5, rtol=1e-5)
    x = fitted.batch([0, 1], "cpu")["x"].numpy()
    pooled = np.concatenate([x[0, :, :30], x[1]], axis=1)
    np.testing.assert_allclose(pooled.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(pooled.std(axis=1), 1, atol=1e-3)
