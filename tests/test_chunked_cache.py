"""Chunked, resumable extraction (:func:`serlib.cache.cached_chunks`): the same entry as a one-shot
build, bit for bit; an interrupted build resumes from its saved chunks; a damaged chunk is logged
and computed again; chunks of another chunk size are never mixed in."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pandas as pd
import pytest

from bench.reference_features import functionals_one_shot, padded_mfcc_one_shot
from serlib import cache, features
from serlib.audio import trim_bounds, trim_silence
from serlib.config import ParameterError
from serlib.data import load_corpus

ITEMS = list(range(10, 22))  # 12 items


class Killed(Exception):
    """Stands for a kill in the middle of an extraction."""


class Builder:
    """A ``build_chunk`` that records the items it computes and can be told to die on its k-th call."""

    def __init__(self, die_on_call: int | None = None) -> None:
        self.die_on_call = die_on_call
        self.calls = 0
        self.items: list[int] = []

    def __call__(self, chunk):
        self.calls += 1
        if self.calls == self.die_on_call:
            raise Killed(f"killed on call {self.calls}")
        self.items.extend(chunk)
        return [np.full(3, v * v, dtype=np.int32) for v in chunk]


def combine(values):
    return np.stack(values)


EXPECTED = np.stack([np.full(3, v * v, dtype=np.int32) for v in ITEMS])


def _build(builder, chunk_size=3, key="k", **kw):
    return cache.cached_chunks("t", key, ITEMS, builder, combine, chunk_size=chunk_size, progress=False, **kw)


def _chunk_files(tmp_cache, key="k"):
    return sorted(p.name for p in (tmp_cache / "t" / f"{key}.chunks").glob("*.pkl"))


# ---------------------------------------------------------------------------------------------
# The generic helper
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [1, 3, 5, 12, 50])
def test_any_chunk_size_gives_the_one_shot_entry_and_leaves_no_chunks(tmp_cache, chunk_size):
    b = Builder()
    out = _build(b, chunk_size)
    assert out.dtype == EXPECTED.dtype and np.array_equal(out, EXPECTED)
    assert b.items == ITEMS and b.calls == -(-len(ITEMS) // chunk_size)
    # the entry is where cached() puts it; the chunk folder is gone
    assert sorted(p.name for p in (tmp_cache / "t").iterdir()) == ["k.pkl", "k.pkl.sha256"]
    assert np.array_equal(cache.load_verified(tmp_cache / "t" / "k.pkl"), EXPECTED)
    again = Builder()
    assert np.array_equal(_build(again, chunk_size), EXPECTED) and again.calls == 0  # a hit


def test_an_entry_written_by_cached_is_a_hit(tmp_cache):
    cache.cached("t", "k", lambda: EXPECTED)
    (tmp_cache / "t" / "k.chunks").mkdir()  # left by a run stopped after saving its entry
    b = Builder()
    assert np.array_equal(_build(b), EXPECTED) and b.calls == 0
    assert not (tmp_cache / "t" / "k.chunks").exists()


def test_a_killed_build_resumes_from_its_saved_chunks(tmp_cache):
    with pytest.raises(Killed):
        _build(Builder(die_on_call=3))  # chunks 0 and 1 finished, chunk 2 killed
    assert _chunk_files(tmp_cache) == ["size3-000000.pkl", "size3-000001.pkl"]
    assert not (tmp_cache / "t" / "k.pkl").exists()
    b = Builder()
    out = _build(b)
    assert b.items == ITEMS[6:] and b.calls == 2  # only the missing chunks
    assert out.dtype == EXPECTED.dtype and np.array_equal(out, EXPECTED)
    assert not (tmp_cache / "t" / "k.chunks").exists()


def test_overwrite_discards_saved_chunks(tmp_cache):
    with pytest.raises(Killed):
        _build(Builder(die_on_call=3))
    b = Builder()
    assert np.array_equal(_build(b, overwrite=True), EXPECTED) and b.items == ITEMS


def test_the_progress_bar_counts_restored_items_from_the_start(tmp_cache, monkeypatch):
    import tqdm.auto

    bars = []
    real = tqdm.auto.tqdm

    def spy(*args, **kwargs):
        bars.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", spy)
    with pytest.raises(Killed):
        cache.cached_chunks("t", "k", ITEMS, Builder(die_on_call=3), combine, chunk_size=3, desc="x")
    cache.cached_chunks("t", "k", ITEMS, Builder(), combine, chunk_size=3, desc="x")
    assert [(b["total"], b["initial"], b["disable"]) for b in bars] == [(12, 0, False), (12, 6, False)]
    cache.cached_chunks("t", "k2", ITEMS, Builder(), combine, chunk_size=3, progress=False)
    assert bars[-1]["disable"] is True


def _flip(path, at=-5):
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_chunk_is_logged_by_name_and_computed_again(tmp_cache, caplog):
    with pytest.raises(Killed):
        _build(Builder(die_on_call=4))  # chunks 0-2 saved
    folder = tmp_cache / "t" / "k.chunks"
    _flip(folder / "size3-000000.pkl")  # checksum mismatch
    cache.write_verified_bytes(folder / "size3-000001.pkl", b"not a pickle")  # whole, but unreadable
    with caplog.at_level(logging.WARNING, logger="serlib.cache"):
        b = Builder()
        out = _build(b)
    assert np.array_equal(out, EXPECTED)
    assert b.items == ITEMS[:6] + ITEMS[9:]  # chunks 0, 1 again; chunk 2 restored; chunk 3 new
    text = caplog.text
    assert f"chunk {folder / 'size3-000000.pkl'} is corrupt" in text
    assert f"chunk {folder / 'size3-000001.pkl'} cannot be read" in text


def test_a_chunk_without_its_checksum_file_is_computed_again(tmp_cache, caplog):
    with pytest.raises(Killed):
        _build(Builder(die_on_call=2))
    cache.checksum_file(tmp_cache / "t" / "k.chunks" / "size3-000000.pkl").unlink()  # a write cut short
    with caplog.at_level(logging.WARNING, logger="serlib.cache"):
        b = Builder()
        assert np.array_equal(_build(b), EXPECTED)
    assert b.items == ITEMS and "size3-000000.pkl has no checksum file" in caplog.text


def test_chunks_of_another_chunk_size_are_not_reused(tmp_cache, caplog):
    with pytest.raises(Killed):
        _build(Builder(die_on_call=3), chunk_size=3)  # items 0-5 saved in chunks of 3
    with pytest.raises(Killed):
        _build(Builder(die_on_call=2), chunk_size=4)  # items 0-3 saved in a chunk of 4
    assert _chunk_files(tmp_cache) == ["size3-000000.pkl", "size3-000001.pkl", "size4-000000.pkl"]
    with caplog.at_level(logging.INFO, logger="serlib.cache"):
        b = Builder()
        out = _build(b, chunk_size=6)  # no chunk of size 6 exists: everything is computed
    assert b.items == ITEMS and np.array_equal(out, EXPECTED)
    assert "3 chunk file(s) saved with another chunk size are not used" in caplog.text
    assert not (tmp_cache / "t" / "k.chunks").exists()


def test_a_chunk_holding_other_items_is_computed_again(tmp_cache, caplog):
    with pytest.raises(Killed):
        _build(Builder(die_on_call=2))
    path = tmp_cache / "t" / "k.chunks" / "size3-000000.pkl"
    saved = pickle.loads(path.read_bytes())
    saved["items"] = cache.cache_key(items=[1, 2, 3])
    cache.save_verified(path, saved)
    with caplog.at_level(logging.WARNING, logger="serlib.cache"):
        b = Builder()
        assert np.array_equal(_build(b), EXPECTED)
    assert b.items == ITEMS and "holds other items" in caplog.text


def test_bad_chunk_size_and_a_wrong_number_of_results(tmp_cache):
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ParameterError, match="chunk_size="):
            _build(Builder(), chunk_size=bad)
    with pytest.raises(ValueError, match="gave 2 results for the 3 items 0..2 .* one result per item"):
        _build(lambda chunk: [0, 1])
    assert not list((tmp_cache / "t").glob("**/*.pkl"))  # nothing saved


def test_items_given_as_a_function_are_listed_only_when_building(tmp_cache):
    listed = []

    def items():
        listed.append(1)
        return ITEMS

    for _ in range(2):
        out = cache.cached_chunks("t", "k", items, Builder(), combine, chunk_size=5, progress=False)
        assert np.array_equal(out, EXPECTED)
    assert listed == [1]


def test_trim_bounds_are_where_trim_silence_cuts():
    import librosa

    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(4000), 0.3 * rng.standard_normal(8000), np.zeros(3000)]).astype(np.float32)
    start, stop = trim_bounds(x)
    y, _ = librosa.effects.trim(x, top_db=30.0)
    assert 2000 < start < 5000 and 10000 < stop < 14000
    np.testing.assert_array_equal(x[start:stop], y)
    np.testing.assert_array_equal(trim_silence(x), y)


# ---------------------------------------------------------------------------------------------
# The extractors: chunked == one-shot, bit for bit
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def small(tmp_path, monkeypatch):
    """Twelve utterances of the tiny embedded corpus (from the usual cache), features in a new cache."""
    corpus = load_corpus("embedded", size="tiny", progress=False)
    cache_root = tmp_path / "cache"
    monkeypatch.setenv("SERLIB_CACHE", str(cache_root))
    return corpus.subset(np.arange(12), name="small"), cache_root / "features"


def test_chunked_functionals_are_the_one_shot_functionals(small):
    corpus, _ = small
    reference = functionals_one_shot(corpus, "is10")
    for size in (5, 12):
        got = features.functionals(corpus, "is10", progress=False, chunk_size=size, overwrite=True)
        pd.testing.assert_frame_equal(got, reference, check_exact=True)
        assert got.dtypes.unique().tolist() == [np.float32] and got.index.name == "utt_id"


@pytest.mark.parametrize("keep", [True, False], ids=["audio-kept", "audio-read-again"])
def test_chunked_padded_mfccs_and_frames_are_the_one_shot_ones(small, monkeypatch, keep):
    corpus, cache_root = small
    if not keep:
        monkeypatch.setattr(features, "KEEP_AUDIO_BYTES", 0)
    reference, ref_frames = padded_mfcc_one_shot(corpus)
    got = features.padded_mfcc(corpus, progress=False, chunk_size=5)
    assert got.dtype == reference.dtype == np.float32 and got.shape == reference.shape
    np.testing.assert_array_equal(got, reference)
    frames = features.padded_mfcc_frames(corpus, progress=False)
    assert frames.dtype == ref_frames.dtype == np.int64
    np.testing.assert_array_equal(frames, ref_frames)
    assert not list(cache_root.glob("*.chunks"))


def test_the_other_extractors_do_not_depend_on_the_chunk_size(small):
    corpus, _ = small
    for size in (12, 5):  # one chunk, then three
        kw = {"progress": False, "chunk_size": size, "overwrite": True}
        ep = features.energy_pitch(corpus, **kw)
        mel = features.frames(corpus, "logmel", **kw)
        cs = features.chunk_spectrograms(corpus, freq_bins=64, **kw)
        if size == 12:
            first = (ep, mel, cs)
            continue
        for a, b in ((ep, first[0]), (mel, first[1])):
            assert len(a) == len(b) == 12
            assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))
        for field in ("data", "rows", "weight"):
            x, y = getattr(cs, field), getattr(first[2], field)
            assert x.dtype == y.dtype and np.array_equal(x, y)


def test_a_killed_padded_mfcc_extraction_recomputes_only_the_missing_chunks(small, monkeypatch):
    corpus, cache_root = small
    reference, ref_frames = padded_mfcc_one_shot(corpus)
    real = features._frame_matrix
    made = []

    def frame_matrix(*args, **kwargs):
        if len(made) == 7:
            raise Killed("killed in the second chunk")
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(features, "_frame_matrix", frame_matrix)
    with pytest.raises(Killed):
        features.padded_mfcc(corpus, progress=False, chunk_size=5)
    folder = next(cache_root.glob("padded-mfcc-*.chunks"))
    assert sorted(p.name for p in folder.glob("*.pkl")) == ["size5-000000.pkl"]
    made.clear()
    loads = []
    real_load = features.load_audio

    def load(path, *args, **kwargs):
        loads.append(path)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(features, "load_audio", load)
    got = features.padded_mfcc(corpus, progress=False, chunk_size=5)
    assert len(made) == 7  # utterances 5-11; the first chunk's 5 were restored
    assert loads == corpus.table["path"].tolist()[5:]  # the trimming pass was saved as a whole
    np.testing.assert_array_equal(got, reference)
    np.testing.assert_array_equal(features.padded_mfcc_frames(corpus, progress=False), ref_frames)
    assert not list(cache_root.glob("*.chunks"))


def test_a_killed_functionals_extraction_resumes_with_the_same_result(small, monkeypatch):
    corpus, cache_root = small
    reference = functionals_one_shot(corpus, "egemaps")
    real_load = features.load_audio
    loads = []

    def load(path, *args, **kwargs):
        if len(loads) == 7:
            raise Killed("killed on the eighth recording")
        loads.append(path)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(features, "load_audio", load)
    with pytest.raises(Killed):
        features.functionals(corpus, "egemaps", progress=False, chunk_size=3)
    folder = next(cache_root.glob("egemaps-*.chunks"))
    assert sorted(p.name for p in folder.glob("*.pkl")) == ["size3-000000.pkl", "size3-000001.pkl"]
    loads.clear()
    monkeypatch.setattr(features, "load_audio", lambda p, *a, **k: (loads.append(p), real_load(p, *a, **k))[1])
    got = features.functionals(corpus, "egemaps", progress=False, chunk_size=3)
    assert loads == corpus.table["path"].tolist()[6:]
    pd.testing.assert_frame_equal(got, reference, check_exact=True)
    assert not folder.exists()
