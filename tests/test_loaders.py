"""Loaders of the real corpora, exercised on fixture trees shaped like the releases.

Every expected number below is counted by hand from what ``serlib.data.fixtures`` writes
(its module docstring lists each tree).
"""

from __future__ import annotations

import importlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serlib.config import ParameterError
from serlib.data import REQUIRED_COLUMNS, CorpusError, load_corpus, validate_layout
from serlib.data._common import EMPTY, MISSING, UNREADABLE, ZERO_FRAMES, format_report
from serlib.data.fixtures import FIXTURES, make_fixture

ALL = sorted(FIXTURES)
LABEL_FILE_CORPORA = ("iemocap", "msp_improv", "msp_podcast", "omg", "librispeech")
NAME_LABELLED = ("emodb", "ravdess", "savee", "tess")
RATES = {"iemocap": 16000, "msp_improv": 48000, "msp_podcast": 16000, "emodb": 16000, "ravdess": 48000,
         "savee": 44100, "omg": 16000, "librispeech": 16000, "tess": 24414}
SIZES = {"iemocap": 45, "msp_improv": 48, "msp_podcast": 13, "emodb": 70, "ravdess": 48, "savee": 28,
         "omg": 14, "librispeech": 11, "tess": 28}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Every fixture tree, built once; tests that change files work on copies."""
    base = tmp_path_factory.mktemp("pristine")
    return {name: (base / name, make_fixture(name, base / name)) for name in ALL}


@pytest.fixture(scope="module")
def listed(pristine):
    """The audio paths each pristine tree loads, relative to its corpus folder."""
    out = {}
    for name, (_, root) in pristine.items():
        out[name] = [Path(p).relative_to(root) for p in load_corpus(name, root).table["path"]]
    return out


@pytest.fixture
def fresh(pristine, tmp_path):
    """A private copy of one fixture tree; returns the corpus folder inside it."""

    def copy(name: str) -> Path:
        top, root = pristine[name]
        shutil.copytree(top, tmp_path / name)
        return tmp_path / name / root.relative_to(top)

    return copy


def errors(problems):
    return [p for p in problems if p.severity == "error"]


def warnings_(problems):
    return [p for p in problems if p.severity == "warning"]


# --------------------------------------------------------------------------- every corpus
@pytest.mark.parametrize("name", ALL)
def test_fixture_loads_clean(name, pristine):
    _, root = pristine[name]
    assert validate_layout(name, root) == []
    c = load_corpus(name, root)
    t = c.table
    assert len(c) == SIZES[name]
    assert list(t.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert (t["corpus"] == name).all()
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in t["path"])
    assert (t["sample_rate"] == RATES[name]).all()
    row = t.iloc[0]
    assert row["duration"] == pytest.approx(sf.info(row["path"]).duration)
    assert t["duration"].between(0.29, 0.51).all()
    assert set(t["gender"]) <= {"F", "M", "U"}
    assert c.meta["skipped"] == [] and c.meta["n_utterances"] == len(c)
    assert sum(c.meta["counts"].values()) == len(c)
    assert t["utt_id"].is_unique


@pytest.mark.parametrize("name", ALL)
def test_unknown_option_is_a_parameter_error(name, pristine):
    with pytest.raises(ParameterError, match="no_such_option"):
        load_corpus(name, pristine[name][1], no_such_option=1)


@pytest.mark.parametrize("name", ALL)
def test_wrong_root_names_the_path(name, tmp_path):
    empty = tmp_path / "not_the_corpus"
    empty.mkdir()
    with pytest.raises(CorpusError, match="not_the_corpus"):
        load_corpus(name, empty)
    assert errors(validate_layout(name, empty))
    with pytest.raises(CorpusError, match="does_not_exist"):
        load_corpus(name, tmp_path / "does_not_exist")


@pytest.mark.parametrize("name", ALL)
def test_zero_length_audio_is_a_counted_skip(name, fresh, listed):
    root = fresh(name)
    victim = root / listed[name][0]
    fmt = "FLAC" if victim.suffix == ".flac" else "WAV"
    buf = io.BytesIO()
    sf.write(buf, np.zeros(0, dtype=np.float32), RATES[name], format=fmt, subtype="PCM_16")
    victim.write_bytes(buf.getvalue())
    found = [p for p in validate_layout(name, root) if p.path == str(victim)]
    assert found and found[0].severity == "warning"
    c = load_corpus(name, root)
    assert len(c) == SIZES[name] - 1
    # libsndfile writes a 0-frame FLAC as an empty file
    reason = ZERO_FRAMES if fmt == "WAV" else EMPTY
    assert c.meta["skipped"] == [(str(victim), reason)]
    assert str(victim) not in set(c.table["path"])


@pytest.mark.parametrize("name", ALL)
def test_unreadable_and_empty_audio_are_counted_skips(name, fresh, listed):
    root = fresh(name)
    paths = [str(root / rel) for rel in listed[name][:2]]
    Path(paths[0]).write_bytes(b"this is not audio " * 20)
    Path(paths[1]).write_bytes(b"")
    c = load_corpus(name, root)
    assert len(c) == SIZES[name] - 2
    assert sorted(c.meta["skipped"]) == sorted([(paths[0], UNREADABLE), (paths[1], EMPTY)])
    assert c.meta["skip_reasons"] == {UNREADABLE: 1, EMPTY: 1}


@pytest.mark.parametrize("name", ALL)
def test_wrong_sample_rate_warns_but_loads(name, fresh, listed):
    root = fresh(name)
    victim = root / listed[name][0]
    fmt = "FLAC" if victim.suffix == ".flac" else "WAV"
    buf = io.BytesIO()
    sf.write(buf, 0.1 * np.sin(np.arange(4000) / 5.0), 8000, format=fmt, subtype="PCM_16")
    victim.write_bytes(buf.getvalue())
    probs = [p for p in validate_layout(name, root) if p.path == str(victim)]
    if name in ("omg", "librispeech"):
        assert not probs  # OMG audio is cut by each reader at any rate; LibriSpeech validate skips headers
    else:
        assert len(probs) == 1 and probs[0].severity == "warning" and "8000 Hz" in probs[0].problem
    c = load_corpus(name, root)
    assert len(c) == SIZES[name]
    assert c.table.set_index("path").loc[str(victim), "sample_rate"] == 8000
    if name != "omg":
        assert c.meta["sample_rate_mismatch"] == {8000: 1}


@pytest.mark.parametrize("name", LABEL_FILE_CORPORA)
def test_missing_audio_is_named_and_skipped(name, fresh, listed):
    root = fresh(name)
    victim = root / listed[name][0]
    victim.unlink()
    probs = validate_layout(name, root)
    assert not errors(probs)
    assert [(p.path, p.problem) for p in warnings_(probs)] == [(str(victim), MISSING)]
    c = load_corpus(name, root)
    assert len(c) == SIZES[name] - 1
    assert c.meta["skipped"] == [(str(victim), MISSING)]


@pytest.mark.parametrize("name", NAME_LABELLED)
def test_missing_audio_in_name_labelled_corpora_shrinks_the_table(name, fresh, listed):
    # No label file lists these files, so a deleted one cannot be named; the table shrinks.
    root = fresh(name)
    (root / listed[name][0]).unlink()
    assert validate_layout(name, root) == []
    assert len(load_corpus(name, root)) == SIZES[name] - 1


LABEL_FILES = {
    "iemocap": "Session3/dialog/EmoEvaluation/Ses03M_script01_1.txt",
    "msp_improv": "Evalution.txt",
    "msp_podcast": "Labels/labels_consensus.csv",
    "omg": "omg_ValidationVideos.csv",
    "librispeech": "dev-clean/1462/170138/1462-170138.trans.txt",
}


@pytest.mark.parametrize("name", LABEL_FILE_CORPORA)
def test_missing_label_file_is_an_error_naming_it(name, fresh):
    root = fresh(name)
    label_file = root / LABEL_FILES[name]
    assert label_file.is_file()
    label_file.unlink()
    errs = errors(validate_layout(name, root))
    assert [p.path for p in errs] == [str(label_file)]
    with pytest.raises(CorpusError, match=label_file.name):
        load_corpus(name, root)
    with pytest.raises(CorpusError, match=label_file.name):  # the loader itself refuses too
        importlib.import_module(f"serlib.data.{name}").load(root)


def test_format_report(fresh):
    root = fresh("iemocap")
    ok = format_report("iemocap", root, validate_layout("iemocap", root))
    assert ok.splitlines()[-1] == "OK: loads 45 utterances."
    wav = root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"
    wav.unlink()
    warned = format_report("iemocap", root, validate_layout("iemocap", root))
    assert "WARNINGS" in warned and str(wav) in warned and MISSING in warned
    assert warned.splitlines()[-1] == "OK: loads 44 utterances (1 skipped, see the warnings)."
    label = root / "Session2/dialog/EmoEvaluation/Ses02F_impro01.txt"
    label.unlink()
    bad = format_report("iemocap", root, validate_layout("iemocap", root))
    assert "ERRORS" in bad and str(label) in bad
    assert bad.splitlines()[-1].startswith("NOT LOADABLE: 1 error(s)")
    assert "Totals: 1 error(s), 1 warning(s)." in bad


# --------------------------------------------------------------------------- IEMOCAP
def test_iemocap_label_map_speakers_and_values(pristine):
    top, root = pristine["iemocap"]
    c = load_corpus("iemocap", top)  # the parent of IEMOCAP_full_release is accepted too
    t = c.table.set_index("utt_id")
    assert c.labels == ("neutral", "angry", "sad", "happy")
    assert c.meta["counts"] == {"neutral": 10, "angry": 10, "sad": 10, "happy": 15}
    assert c.meta["excluded"] == {"xxx": 5, "fru": 5}
    assert (t.loc[t["raw_emotion"] == "exc", "emotion"] == "happy").all()
    assert (t["raw_emotion"] == "exc").sum() == 10
    assert set(t["raw_emotion"]) == {"neu", "ang", "sad", "hap", "exc"}
    # A male turn in an F-prefixed dialog belongs to the male speaker of the session.
    m = t.loc["Ses01F_impro01_M000"]
    assert (m["speaker"], m["gender"], m["session"], m["dialog"]) == ("Ses01M", "M", "Ses01", "Ses01F_impro01")
    assert (m["emotion"], m["raw_emotion"]) == ("angry", "ang")
    f = t.loc["Ses03M_script01_1_F000"]
    assert (f["speaker"], f["gender"], f["improvised"]) == ("Ses03F", "F", False)
    assert sorted(set(t["speaker"])) == [f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"]
    assert (c.counts("speaker")[list(c.labels)] > 0).all().all()  # every speaker has every class
    assert c.counts("session")["total"].tolist() == [9] * 5
    # [V, A, D] order: ang was written as valence 1.5, arousal 4.0, dominance 4.0
    assert (m["valence"], m["arousal"], m["dominance"]) == (1.5, 4.0, 4.0)
    assert m["transcript"] == "That is not what you told me yesterday!"
    assert m["end"] > m["start"] > 0
    assert t["improvised"].sum() == 20


def test_iemocap_options(pristine):
    root = pristine["iemocap"][1]
    c = load_corpus("iemocap", root, label_set="4class_noexc")
    assert len(c) == 35 and c.meta["counts"]["happy"] == 5
    assert c.meta["excluded"] == {"xxx": 5, "fru": 5, "exc": 10}
    c = load_corpus("iemocap", root, improvised_only=True)
    assert len(c) == 20 and c.table["improvised"].all()
    with pytest.raises(CorpusError, match="5531|1708"):
        load_corpus("iemocap", root, expect_full=True)  # the fixture is not the full release
    with pytest.raises(ParameterError):
        load_corpus("iemocap", root, expect_full=True, improvised_only=True)
    with pytest.raises(ParameterError):
        load_corpus("iemocap", root, label_set="7class")


def test_iemocap_missing_session_is_a_warning(fresh):
    root = fresh("iemocap")
    shutil.rmtree(root / "Session5")
    probs = validate_layout("iemocap", root)
    assert [(p.severity, p.path) for p in probs] == [("warning", str(root / "Session5"))]
    assert len(load_corpus("iemocap", root)) == 36


# --------------------------------------------------------------------------- MSP-IMPROV
def test_msp_improv(pristine, fresh):
    root = pristine["msp_improv"][1]
    c = load_corpus("msp_improv", root)
    t = c.table
    assert c.meta["counts"] == {"neutral": 12, "angry": 12, "sad": 12, "happy": 12}
    assert c.meta["excluded"] == {"O": 1, "X": 1}
    assert sorted(set(t["speaker"])) == sorted(f"{g}{s:02d}" for s in range(1, 7) for g in "FM")
    assert (t["gender"] == t["speaker"].str[0]).all()
    assert sorted(set(t["session"])) == [f"session{s}" for s in range(1, 7)]
    assert (c.counts("speaker")[list(c.labels)] == 1).all().all()
    row = t[t["emotion"] == "angry"].iloc[0]
    assert row["raw_emotion"] == "A"
    assert (row["arousal"], row["valence"], row["dominance"], row["naturalness"]) == (2.6, 3.1, 2.9, 3.0)
    assert set(t["condition"]) == {"R", "S", "T", "P"}
    n_read = int((t["condition"] == "R").sum())
    assert len(load_corpus("msp_improv", root, conditions="R")) == n_read
    # The spelling Evaluation.txt and an Audio/ level are accepted.
    moved = fresh("msp_improv")
    (moved / "Evalution.txt").rename(moved / "Evaluation.txt")
    (moved / "Audio").mkdir()
    for s in range(1, 7):
        (moved / f"session{s}").rename(moved / "Audio" / f"session{s}")
    assert validate_layout("msp_improv", moved) == []
    assert len(load_corpus("msp_improv", moved)) == 48


# --------------------------------------------------------------------------- MSP-Podcast
def test_msp_podcast(pristine, fresh):
    root = pristine["msp_podcast"][1]
    c = load_corpus("msp_podcast", root)
    t = c.table
    assert c.meta["counts"] == {"neutral": 4, "angry": 3, "sad": 3, "happy": 3}
    assert c.meta["excluded"] == {"C": 1, "X": 1, "O": 1}
    assert sorted(set(t["speaker"])) == ["1005", "127", "128", "309", "Unknown"]
    unknown = t[t["speaker"] == "Unknown"]
    assert len(unknown) == 1 and unknown["gender"].tolist() == ["U"]
    assert t.groupby("speaker")["gender"].first().to_dict() == {
        "1005": "M", "127": "F", "128": "M", "309": "F", "Unknown": "U"}
    assert (t["session"] == t["speaker"]).all()
    assert t["split"].value_counts().to_dict() == {"train": 8, "development": 2, "test1": 3}
    assert t["arousal"].notna().all() and t["podcast"].str.fullmatch(r"\d{4}").all()
    c8 = load_corpus("msp_podcast", root, label_set="8class")
    assert len(c8) == 14 and c8.meta["counts"]["contempt"] == 1 and len(c8.labels) == 8
    assert len(load_corpus("msp_podcast", root, splits=["Train"])) == 8
    assert len(load_corpus("msp_podcast", root, keep_unknown_speakers=False)) == 12
    with pytest.raises(ParameterError, match="Test3"):
        load_corpus("msp_podcast", root, splits="Test3")
    moved = fresh("msp_podcast")
    (moved / "Labels/labels_consensus.csv").rename(moved / "Labels/labels_concensus.csv")
    assert len(load_corpus("msp_podcast", moved)) == 13


def test_msp_podcast_transcript_table(fresh, tmp_path):
    """A reader's transcript table stands in for the release's Transcripts/ folder."""
    root = fresh("msp_podcast")
    segments = sorted(p.stem for p in (root / "Audios").glob("*.wav"))
    assert len(segments) == 16  # the 13 of the 4 classes, plus the C, X and O segments
    table = tmp_path / "asr.csv"
    rows = [f"{s}.wav,asr text {k}" for k, s in enumerate(segments)]  # ".wav" is accepted and removed
    rows[0] = f"{segments[0]},"  # no words heard: an utterance without text
    table.write_text("id,text\n" + "\n".join(rows) + "\n")
    folder_text = {s: (root / "Transcripts" / f"{s}.txt").read_text().strip() for s in segments}
    shutil.move(root / "Transcripts", tmp_path / "Transcripts")

    c = load_corpus("msp_podcast", root, transcripts=str(table))  # no Transcripts/ folder needed
    text = dict(zip(c.table["utt_id"], c.table["transcript"]))
    assert len(c) == 13 and segments[0] in text
    assert text[segments[0]] == "" and text[segments[1]] == "asr text 1"
    assert c.meta["transcripts"] == {"table": str(table), "folder": None, "from_table": 13, "from_folder": 0,
                                     "without_text": 1}
    assert len(load_corpus("msp_podcast", root, transcripts=table, label_set="8class")) == 14  # a Path works too
    with pytest.raises(CorpusError, match=r"Transcripts.*or pass transcripts=<CSV id,text>"):
        load_corpus("msp_podcast", root, transcripts=True)  # the folder itself is still needed for True

    # with the folder back and a table listing only some segments, the table wins where it speaks
    shutil.move(tmp_path / "Transcripts", root / "Transcripts")
    table.write_text("id,text\n" + "\n".join(rows[:3]) + "\n")
    c = load_corpus("msp_podcast", root, transcripts=str(table))
    text = dict(zip(c.table["utt_id"], c.table["transcript"]))
    assert text[segments[0]] == "" and text[segments[1]] == "asr text 1"
    others = [s for s in text if s not in segments[:3]]
    assert others and all(text[s] == folder_text[s] for s in others)
    assert c.meta["transcripts"]["from_table"] == 3 and c.meta["transcripts"]["from_folder"] == 10
    assert c.meta["transcripts"]["folder"] == str(root / "Transcripts")

    table.write_text("id,text\nMSP-PODCAST_9999_0001,hello\n")
    with pytest.raises(CorpusError, match=r"asr\.csv.*1 id\(s\) the corpus does not have.*9999"):
        load_corpus("msp_podcast", root, transcripts=str(table))
    with pytest.raises(ParameterError, match="transcripts=3"):
        load_corpus("msp_podcast", root, transcripts=3)


# --------------------------------------------------------------------------- Emo-DB
def test_emodb(pristine):
    root = pristine["emodb"][1]
    c = load_corpus("emodb", root)
    t = c.table
    assert c.labels == ("anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral")
    assert set(c.meta["counts"].values()) == {10}
    genders = t.groupby("speaker")["gender"].first().to_dict()
    assert genders == {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M", "12": "M", "13": "F",
                       "14": "F", "15": "M", "16": "F"}
    assert (c.counts("speaker")[list(c.labels)] == 1).all().all()
    assert (t["session"] == t["speaker"]).all()
    row = t.set_index("utt_id").loc["03a01Wa"]
    assert (row["emotion"], row["raw_emotion"], row["text_id"]) == ("anger", "W", "a01")
    assert row["transcript"] == "Der Lappen liegt auf dem Eisschrank."
    with pytest.raises(CorpusError, match="535"):
        load_corpus("emodb", root, expect_full=True)
    # the wav/ folder itself is accepted as root
    assert len(load_corpus("emodb", root / "wav")) == 70


# --------------------------------------------------------------------------- RAVDESS
def test_ravdess(pristine, fresh):
    root = pristine["ravdess"][1]
    c = load_corpus("ravdess", root)
    t = c.table
    assert c.labels == ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    assert sorted(set(t["speaker"])) == [f"Actor_0{a}" for a in range(1, 7)]
    assert t.groupby("speaker")["gender"].first().tolist() == ["M", "F", "M", "F", "M", "F"]
    assert (c.counts("speaker")[list(c.labels)] == 1).all().all()
    assert c.meta["excluded"] == {"(song)": 2}
    assert (t.loc[t["emotion"] == "neutral", "intensity"] == "normal").all()
    row = t.set_index("utt_id").loc["03-01-05-02-02-01-03"]
    assert (row["emotion"], row["intensity"], row["statement"], row["repetition"]) == ("angry", "strong", 2, 1)
    assert row["transcript"] == "Dogs are sitting by the door"
    assert len(load_corpus("ravdess", root, vocal_channel="song")) == 2
    assert len(load_corpus("ravdess", root, vocal_channel="both")) == 50
    with pytest.raises(CorpusError, match="1440"):
        load_corpus("ravdess", root, expect_full=True)
    # Actor folders inside Audio_Speech_Actors_01-24/ are found too.
    moved = fresh("ravdess")
    (moved / "Audio_Speech_Actors_01-24").mkdir()
    for d in sorted(moved.glob("Actor_*")):
        d.rename(moved / "Audio_Speech_Actors_01-24" / d.name)
    assert len(load_corpus("ravdess", moved)) == 48


# --------------------------------------------------------------------------- SAVEE
def test_savee_both_layouts(pristine, fresh):
    root = pristine["savee"][1]
    c = load_corpus("savee", root)
    t = c.table
    assert sorted(set(t["speaker"])) == ["DC", "JE", "JK", "KL"] and set(t["gender"]) == {"M"}
    assert set(c.meta["counts"].values()) == {4}
    assert set(t["raw_emotion"]) == {"a", "d", "f", "h", "n", "sa", "su"}
    assert t.set_index("utt_id").loc["JK_sa01", "emotion"] == "sadness"
    flat = fresh("savee")
    for wav in sorted((flat / "AudioData").glob("*/*.wav")):
        wav.rename(flat / f"{wav.parent.name}_{wav.name}")
    shutil.rmtree(flat / "AudioData")
    cf = load_corpus("savee", flat)
    assert sorted(cf.table["utt_id"]) == sorted(t["utt_id"])
    assert cf.meta["counts"] == c.meta["counts"]


# --------------------------------------------------------------------------- OMG-Emotion
def test_omg(pristine, fresh):
    root = pristine["omg"][1]
    c = load_corpus("omg", root)
    t = c.table
    assert c.labels == ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    assert c.meta["counts"] == {"anger": 3, "disgust": 2, "fear": 1, "happy": 3, "neutral": 3, "sad": 1,
                                "surprise": 1}
    assert t["split"].value_counts().to_dict() == {"train": 8, "validation": 3, "test": 3}
    assert (t["speaker"] == t["video"]).all() and (t["session"] == t["video"]).all()
    assert set(t["gender"]) == {"U"}
    row = t.set_index("utt_id").loc["5b44393ed_utterance_1"]
    assert (row["emotion"], row["raw_emotion"]) == ("neutral", "4")
    assert row["transcript"] == "utterance number 1 of this video"
    assert t.loc[t["split"] == "test", "transcript"].eq("").all()
    assert len(load_corpus("omg", root, splits=["train", "test"])) == 11
    moved = fresh("omg")
    (moved / "omg_TestVideos_WithLabels.csv").rename(moved / "omg_TestVideos.csv")
    assert len(load_corpus("omg", moved)) == 14


# --------------------------------------------------------------------------- LibriSpeech
def test_librispeech(pristine):
    top, root = pristine["librispeech"]
    c = load_corpus("librispeech", top)  # the parent of LibriSpeech/ is accepted
    t = c.table
    assert c.labels == () and t["emotion"].isna().all() and (c.y == -1).all()
    assert t.groupby("speaker")["gender"].first().to_dict() == {"103": "F", "1272": "M", "1462": "F", "174": "F"}
    assert t["subset"].value_counts().to_dict() == {"dev-clean": 9, "train-clean-100": 2}
    row = t.set_index("utt_id").loc["1272-128104-0000"]
    assert row["transcript"].split()[0] == "THE" and row["chapter"] == "128104"
    assert len(load_corpus("librispeech", root, subsets="dev-clean")) == 9
    few = load_corpus("librispeech", root, max_utterances=4)
    assert len(few) == 4 and few.table["speaker"].nunique() == 4
    with pytest.raises(ParameterError):
        load_corpus("librispeech", root, max_utterances=0)
    with pytest.raises(CorpusError, match="test-other"):
        load_corpus("librispeech", root, subsets=["test-other"])


def test_fixture_builder_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="no fixture"):
        make_fixture("timit", tmp_path)


def test_fixtures_are_deterministic_and_scale(tmp_path):
    def digest(root: Path) -> list[bytes]:
        return [p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()]

    a, b = make_fixture("omg", tmp_path / "a"), make_fixture("omg", tmp_path / "b")
    assert digest(a) == digest(b)
    assert digest(make_fixture("omg", tmp_path / "c", seed=1)) != digest(a)
    assert len(load_corpus("omg", make_fixture("omg", tmp_path / "d", n_per_class=2))) == 28


# --------------------------------------------------------------------------- TESS
def test_tess(pristine, fresh):
    from serlib.data.tess import FULL_RELEASE

    root = pristine["tess"][1]
    c = load_corpus("tess", root)
    t = c.table
    assert c.labels == ("angry", "disgust", "fear", "happy", "pleasant_surprise", "sad", "neutral")
    assert c.meta["counts"] == {lab: 4 for lab in c.labels}
    assert sorted(t["speaker"].unique()) == ["OAF", "YAF"] and (t["gender"] == "F").all()
    assert (t["session"] == t["speaker"]).all()
    row = t.set_index("utt_id").loc["OAF_back_ps"]
    assert (row["emotion"], row["raw_emotion"], row["word"], row["age"]) == ("pleasant_surprise", "ps", "back", 64)
    assert row["transcript"] == "Say the word back"
    assert Path(row["path"]).parent.name == "OAF_Pleasant_surprise"
    assert Path(t.set_index("utt_id").loc["YAF_bar_ps", "path"]).parent.name == "YAF_pleasant_surprised"
    assert Path(t.set_index("utt_id").loc["OAF_bar_fear", "path"]).parent.name == "OAF_Fear"
    assert FULL_RELEASE["utterances"] == 2800 == sum(FULL_RELEASE["per_emotion"].values())
    assert sum(FULL_RELEASE["per_speaker"].values()) == 2800
    with pytest.raises(CorpusError, match="2800"):
        load_corpus("tess", root, expect_full=True)
    # the parent of the release folder is accepted too
    assert len(load_corpus("tess", root.parent)) == 28

    # the official Dataverse download is flat: every file in one folder
    flat = fresh("tess")
    for wav in list(flat.rglob("*.wav")):
        wav.rename(flat / wav.name)
    (flat / "MANIFEST.TXT").write_text("TESS files\n")
    flat_c = load_corpus("tess", flat)
    assert len(flat_c) == 28 and flat_c.meta["counts"] == c.meta["counts"]


def test_tess_file_in_the_wrong_emotion_folder_is_skipped(fresh):
    # a file in the folder of another emotion is a counted skip, named in the report
    moved = fresh("tess")
    victim = moved / "YAF_sad" / "YAF_back_sad.wav"
    victim.rename(moved / "YAF_happy" / victim.name)
    probs = validate_layout("tess", moved)
    assert [p.path for p in warnings_(probs)] == [str(moved / "YAF_happy" / victim.name)]
    assert len(load_corpus("tess", moved)) == 27
