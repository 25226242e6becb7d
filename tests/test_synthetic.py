"""The embedded corpus generator: shape, labels, determinism, caching and recovery."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest

from serlib.config import ParameterError
from serlib.data import REQUIRED_COLUMNS, load_corpus
from serlib.data import synthetic as S

EXTRAS = ("arousal", "valence", "split", "blend", "blend_weight", "expressiveness", "channel")


@pytest.fixture(scope="module")
def cache_a(tmp_path_factory):
    """One tiny main + cross corpus per test module, in a private cache."""
    root = tmp_path_factory.mktemp("cache_a")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERLIB_CACHE", str(root))
        main = S.load(size="tiny", part="all", progress=False)
        cross = S.load(size="tiny", variant="cross", part="all", progress=False)
    return root, main, cross


@pytest.fixture
def in_cache_a(cache_a, monkeypatch):
    monkeypatch.setenv("SERLIB_CACHE", str(cache_a[0]))
    return cache_a


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_columns_labels_and_audio(cache_a):
    _, main, _ = cache_a
    t = main.table
    assert main.name == "embedded"
    assert main.labels == ("neutral", "angry", "sad", "happy")
    for col in (*REQUIRED_COLUMNS, *EXTRAS):
        assert col in t.columns, col
    assert list(t.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert (t["sample_rate"] == 16000).all()
    assert all(Path(p).is_absolute() and Path(p).exists() for p in t["path"])
    assert t["duration"].between(1.0, 6.0).all()
    lab = t[t["emotion"].notna()]
    assert lab["arousal"].between(1, 5).all() and lab["valence"].between(1, 5).all()
    assert set(lab["split"]) == {"train", "test"}
    assert set(lab["blend"].dropna()) <= set(main.labels)
    assert lab["blend_weight"].between(0, 0.5).all()

    import soundfile as sf

    x, sr = sf.read(t["path"].iloc[0], dtype="int16")
    assert sr == 16000 and x.ndim == 1
    assert len(x) == round(t["duration"].iloc[0] * 16000)
    assert np.abs(x).max() > 1000  # speech, not silence
    info = sf.info(t["path"].iloc[0])
    assert info.subtype == "PCM_16"


def test_sessions_speakers_and_emotions(cache_a):
    _, main, _ = cache_a
    lab = main.labelled().table
    assert sorted(lab["session"].unique()) == [f"Ses0{i}" for i in range(1, 6)]
    for ses, grp in lab.groupby("session"):
        assert sorted(grp["speaker"].unique()) == [f"{ses}F", f"{ses}M"]
        assert sorted(grp["gender"].unique()) == ["F", "M"]
        assert set(grp["emotion"]) == set(main.labels), ses
    assert (lab["speaker"].str[-1] == lab["gender"]).all()
    # some speakers are far less expressive than others
    expr = lab.groupby("speaker")["expressiveness"].first()
    assert expr.max() / expr.min() > 2


def test_unlabelled_pool(in_cache_a):
    _, main, _ = in_cache_a
    pool = S.load(size="tiny", part="unlabelled", progress=False)
    lab = S.load(size="tiny", part="labelled", progress=False)
    assert len(pool) > 0 and len(lab) + len(pool) == len(main)
    assert pool.table["emotion"].isna().all()
    assert (pool.y == -1).all()
    assert pool.table["arousal"].isna().all() and pool.table["blend"].isna().all()
    assert not set(pool.speakers) & set(lab.speakers)
    assert lab.table["emotion"].notna().all()


def test_cross_variant(cache_a):
    _, main, cross = cache_a
    assert cross.name == "embedded-cross"
    assert cross.labels == main.labels
    assert not set(cross.speakers) & set(main.speakers)
    assert not set(cross.sessions) & set(main.sessions)
    counts = cross.labelled().table["emotion"].value_counts()
    for big in ("neutral", "happy"):
        for small in ("angry", "sad"):
            assert counts[big] >= 2.5 * counts[small]
    assert set(cross.table["channel"]).isdisjoint(set(main.table["channel"]))


def test_registry_and_bad_parameters(in_cache_a):
    _, main, _ = in_cache_a
    c = load_corpus("embedded", size="tiny", progress=False)
    assert len(c) == main.labelled().__len__()
    with pytest.raises(ParameterError):
        S.load(size="huge")
    with pytest.raises(ParameterError):
        S.load(size="tiny", variant="msp")
    with pytest.raises(ParameterError):
        S.load(size="tiny", part="some")
    with pytest.raises(ParameterError):
        load_corpus("embedded", size="huge")
    with pytest.raises(ParameterError):
        S.generate("huge")


def test_deterministic_and_recovers_from_corruption(cache_a, tmp_path, monkeypatch, caplog):
    _, main, _ = cache_a
    monkeypatch.setenv("SERLIB_CACHE", str(tmp_path / "cache_b"))
    folder = S.generate("tiny", "main", progress=False)
    assert folder == S.corpus_dir("main", "tiny")
    assert S.validate(folder) == []
    assert not list(folder.parent.glob(".*tmp*"))  # nothing half-written left behind
    # byte-identical to the first cache, file by file
    other = main.table.set_index("utt_id")["path"]
    for wav in sorted(folder.glob("wav/*/*.wav")):
        assert wav.read_bytes() == Path(other[wav.stem]).read_bytes(), wav.name
    assert (folder / "corpus.csv").read_bytes() == (Path(other.iloc[0]).parents[2] / "corpus.csv").read_bytes()

    # truncate one file: validate names it, load regenerates it (logged), identical again
    victim = sorted(folder.glob("wav/*/*.wav"))[3]
    good = _sha(victim)
    victim.write_bytes(victim.read_bytes()[:1000])
    problems = S.validate(folder)
    assert len(problems) == 1 and problems[0].path == str(victim)
    with caplog.at_level(logging.WARNING, logger="serlib"):
        again = S.load(size="tiny", progress=False)
    assert any("regenerat" in r.getMessage() for r in caplog.records)
    assert _sha(victim) == good
    assert S.validate(folder) == []
    assert len(again) == len(main.labelled())


def test_validate_reports_missing_and_altered(in_cache_a, tmp_path):
    import shutil

    src = S.corpus_dir("main", "tiny")
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    wavs = sorted(copy.glob("wav/*/*.wav"))
    wavs[0].unlink()
    data = bytearray(wavs[1].read_bytes())
    data[-1] ^= 0xFF  # same size, other content: only the full check sees it
    wavs[1].write_bytes(bytes(data))
    problems = S.validate(copy)
    assert {p.path for p in problems} == {str(wavs[0]), str(wavs[1])}
    assert S.validate(tmp_path / "nothing-here")
