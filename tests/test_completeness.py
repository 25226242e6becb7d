"""Real corpora you can trust: coverage against the full release, ``serbook data check`` exit
codes, the ``paper`` profile refusing a partial copy, ``allow_partial``, provenance in
``run.json`` and each run's own peak memory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from serlib.cli import main
from serlib.config import ParameterError
from serlib.data import CorpusError, check_corpus, coverage, load_corpus
from serlib.data.coverage import compare, enforce
from serlib.data.fixtures import make_fixture
from serlib.data.provenance import fingerprint_tree
from serlib.params import ChapterConfig


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Fixture trees built once; tests copy the one they change."""
    top = tmp_path_factory.mktemp("pristine")
    return {name: (top, make_fixture(name, top / name)) for name in
            ("emodb", "savee", "iemocap", "msp_improv", "msp_podcast", "librispeech", "ravdess")}


@pytest.fixture
def fresh(pristine, tmp_path):
    count = iter(range(1000))

    def copy(name: str) -> Path:
        top, root = pristine[name]
        dst = tmp_path / f"{name}{next(count)}"
        shutil.copytree(top / name, dst)
        return dst / root.relative_to(top / name)

    return copy


# --------------------------------------------------------------------------- coverage
def _full_emodb(root: Path) -> Path:
    """An Emo-DB tree with exactly the release's 535 names (tiny silent files copied from one)."""
    src = make_fixture("emodb", root / "src", n_per_class=1)
    sample = next((src / "wav").glob("*.wav"))
    from serlib.data.emodb import FULL_COUNTS, FULL_SPEAKERS

    letters = {"anger": "W", "boredom": "L", "disgust": "E", "fear": "A", "happiness": "F", "sadness": "T",
               "neutral": "N"}
    left = dict(FULL_COUNTS)
    wav = root / "emodb" / "wav"
    wav.mkdir(parents=True)
    texts = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
    for spk, n in FULL_SPEAKERS.items():
        for k in range(n):  # deal the speaker's files over the emotions that still have some left
            emo = max(left, key=lambda e: left[e])
            left[emo] -= 1
            name = f"{spk}{texts[k % 10]}{letters[emo]}{'abcdefghijklmnop'[k // 10]}.wav"
            shutil.copyfile(sample, wav / name)
    assert not any(left.values())
    return root / "emodb"


def test_release_counts_are_consistent():
    from serlib.data import emodb, iemocap, librispeech, ravdess, savee

    assert sum(emodb.FULL_SPEAKERS.values()) == sum(emodb.FULL_COUNTS.values()) == 535
    assert sorted(emodb.FULL_SPEAKERS) == ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    speech, song = ravdess.FULL_RELEASE["speech"], ravdess.FULL_RELEASE["song"]
    assert speech["utterances"] == sum(speech["per_emotion"].values()) == sum(speech["per_speaker"].values()) == 1440
    assert song["utterances"] == sum(song["per_emotion"].values()) == sum(song["per_speaker"].values()) == 1012
    assert len(speech["per_speaker"]) == 24 and "Actor_18" not in song["per_speaker"]
    assert savee.FULL_RELEASE["utterances"] == sum(savee.FULL_RELEASE["per_speaker"].values()) == 480
    assert iemocap.FULL_RELEASE["all"]["utterances"] == 10039
    assert sum(iemocap.FULL_RELEASE["4class"]["per_emotion"].values()) == 5531
    assert sum(s["speakers"] for s in librispeech.FULL_RELEASE.values()) == 2484


def test_complete_emodb_is_complete_and_a_missing_speaker_is_named(tmp_path):
    root = _full_emodb(tmp_path)
    corpus = load_corpus("emodb", root)
    cov = coverage(corpus)
    assert (cov.loaded, cov.expected, cov.complete) == (535, 535, True)
    text, code = check_corpus("emodb", root)
    assert code == 0 and text.splitlines()[-1].startswith("OK: loads 535 utterances (complete)")
    for f in (root / "wav").glob("13*.wav"):
        f.unlink()
    for f in (root / "wav").glob("16*.wav"):
        f.unlink()
    cov = coverage(load_corpus("emodb", root))
    assert cov.complete is False and cov.loaded == 535 - 61 - 71
    assert cov.summary.startswith("403 of 535: speakers 13, 16 missing (132 files)")
    text, code = check_corpus("emodb", root)
    assert code == 3 and "Coverage: 403 of 535: speakers 13, 16 missing (132 files)" in text
    assert "allow_partial=true" in text.splitlines()[-1]


def test_compare_names_short_speakers_and_emotions():
    import pandas as pd

    table = pd.DataFrame({"speaker": ["a", "a", "b"], "emotion": ["x", "y", "x"]})
    cov = compare(table, {"utterances": 5, "per_speaker": {"a": 2, "b": 2, "c": 1}, "per_emotion": {"x": 3, "y": 2}})
    assert cov.complete is False
    assert cov.summary == "3 of 5: speaker c missing (1 files); speaker b 1 of 2; x 2 of 3, y 1 of 2"


def test_coverage_of_each_fixture(fresh):
    for name in ("savee", "iemocap", "msp_improv", "librispeech", "ravdess"):
        cov = coverage(load_corpus(name, fresh(name)))
        assert cov.complete is False and cov.expected > cov.loaded > 0, name
    root = fresh("msp_podcast")  # the label file is the release: every listed segment present
    assert coverage(load_corpus("msp_podcast", root)).complete is True
    assert coverage(load_corpus("iemocap", fresh("iemocap"), improvised_only=True)).complete is None
    pool = load_corpus("librispeech", fresh("librispeech"), max_utterances=4)
    assert coverage(pool).loaded == 11  # coverage counts what is there, before max_utterances selects


def test_one_speakers_folder_missing_is_named(fresh):
    root = fresh("savee")
    shutil.rmtree(root / "AudioData" / "JE")
    cov = coverage(load_corpus("savee", root))
    assert cov.complete is False and "speaker JE missing (120 files)" in cov.summary
    cfg = ChapterConfig.for_profile("paper", corpus="savee", data_root=str(root))
    with pytest.raises(CorpusError, match=r"speaker JE missing \(120 files\).*allow_partial=true"):
        cfg.load_corpus()
    root = fresh("ravdess")
    shutil.rmtree(root / "Actor_03")
    text, code = check_corpus("ravdess", root)
    assert code == 3 and "Actor_03" in text.split("Coverage:")[1].split("\n")[0]
    root = fresh("iemocap")
    shutil.rmtree(root / "Session5")
    text, code = check_corpus("iemocap", root)
    assert code == 3 and "session folder missing" in text and "Session5" in text


def test_label_file_disagreeing_with_audio(fresh):
    root = fresh("msp_podcast")
    listed = root / "Audios" / "MSP-PODCAST_0001_0001.wav"
    shutil.copyfile(listed, root / "Audios" / "MSP-PODCAST_0042_0042.wav")  # audio without a label row
    text, code = check_corpus("msp_podcast", root)
    assert code == 3 and "audio file not in the label file" in text and "MSP-PODCAST_0042_0042.wav" in text
    cov = coverage(load_corpus("msp_podcast", root))
    assert cov.complete is False and "1 audio file(s) not in the label file" in cov.summary
    listed.unlink()  # a label row whose audio is absent
    cov = coverage(load_corpus("msp_podcast", root))
    assert cov.loaded == cov.expected - 1 and cov.complete is False

    root = fresh("iemocap")
    wav_dir = root / "Session1" / "sentences" / "wav" / "Ses01F_impro01"
    shutil.copyfile(next(wav_dir.glob("*.wav")), wav_dir / "Ses01F_impro01_M999.wav")
    text, code = check_corpus("iemocap", root)
    assert code == 3 and "Ses01F_impro01_M999.wav" in text and "Ses01F_impro01.txt does not list it" in text

    root = fresh("msp_improv")
    wav = next((root / "session2").rglob("*.wav"))
    shutil.copyfile(wav, wav.with_name(wav.stem[:-2] + "99.wav"))
    assert "audio file not in the label file" in check_corpus("msp_improv", root)[0]


# --------------------------------------------------------------------------- data check codes
def test_data_check_exit_codes(fresh, tmp_path, capsys):
    root = fresh("msp_podcast")
    assert main(["data", "check", "msp_podcast", str(root)]) == 0  # complete (the label file's release)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("OK: loads 13 utterances")

    emodb = fresh("emodb")
    assert main(["data", "check", "emodb", str(emodb)]) == 3  # loadable but partial
    out = capsys.readouterr().out
    assert "Coverage: 70 of 535" in out and out.strip().splitlines()[-1].startswith("PARTIAL")

    wav = root / "Audios" / "MSP-PODCAST_0001_0002.wav"
    wav.write_bytes(b"")  # one empty file: skipped, so a warning and a shortfall
    assert main(["data", "check", "msp_podcast", str(root)]) == 3
    assert "audio file is empty" in capsys.readouterr().out

    assert main(["data", "check", "emodb", str(tmp_path / "nowhere")]) == 4  # missing root
    assert "does not exist" in capsys.readouterr().out

    only = tmp_path / "broken" / "wav"
    only.mkdir(parents=True)
    (only / "03a01Fa.wav").write_bytes(b"not audio at all")  # the only wav is unreadable
    assert main(["data", "check", "emodb", str(only.parent)]) == 4
    assert "NOT LOADABLE" in capsys.readouterr().out

    label = root / "Labels" / "labels_consensus.csv"
    label.unlink()
    assert main(["data", "check", "msp_podcast", str(root)]) == 4  # errors
    assert "label file missing" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["data", "check", "emodb"])  # usage
    assert exc.value.code == 2


def test_data_check_help_states_the_codes(capsys):
    with pytest.raises(SystemExit):
        main(["data", "check", "--help"])
    out = capsys.readouterr().out
    for line in ("0  complete and loadable", "3  loadable but partial", "4  errors, or nothing loadable"):
        assert line in out


# --------------------------------------------------------------------------- the paper profile
def test_paper_refuses_partial_and_allow_partial_proceeds(fresh, capsys):
    root = fresh("emodb")
    paper = ChapterConfig.for_profile("paper", corpus="emodb", data_root=str(root))
    with pytest.raises(CorpusError, match="allow_partial=true") as exc:
        paper.load_corpus()
    assert "70 of 535" in str(exc.value) and str(root) in str(exc.value)
    ok = ChapterConfig.for_profile("paper", corpus="emodb", data_root=str(root), allow_partial=True)
    assert len(ok.load_corpus()) == 70
    assert "WARNING: the corpus is partial" in capsys.readouterr().out
    book = ChapterConfig.for_profile("book", corpus="emodb", data_root=str(root))
    assert len(book.load_corpus()) == 70
    assert "70 of 535" in capsys.readouterr().out
    assert ChapterConfig.reference().loc["allow_partial", "paper"] is False


@pytest.mark.parametrize("value", ["yes", 1, "true", 0.0])
def test_allow_partial_must_be_a_bool(value):
    with pytest.raises(ParameterError, match="allow_partial"):
        ChapterConfig.for_profile("paper", allow_partial=value)
    with pytest.raises(ParameterError, match="allow_partial"):
        enforce(load_corpus("embedded", size="tiny"), profile="paper", allow_partial=value)


def test_wrong_allow_partial_is_refused_before_the_kernel_starts(tmp_path, capsys):
    code = main(["run", "notebooks/04_leow_speaker_adversarial.py", "-p", "allow_partial=maybe",
                 "--output-dir", str(tmp_path)])
    assert code == 2 and "allow_partial='maybe' must be true or false" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- provenance in run.json
_NB = '''# %% tags=["parameters"]
profile = "paper"
corpus = "emodb"
data_root = None
allow_partial = False
megabytes = 0

# %%
import numpy as np
from serlib.params import ChapterConfig
from serlib.results import save_table
import pandas as pd
block = np.ones(int(megabytes) * 2**20 // 8) if megabytes else None
cfg = ChapterConfig.from_notebook(globals())
c = cfg.load_corpus(size="tiny", part="labelled") if corpus == "embedded" else cfg.load_corpus()
save_table("n", pd.DataFrame({"n": [len(c)]}))
'''


@pytest.fixture
def probe_nb(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(_NB)
    return path


def test_run_json_records_provenance(fresh, probe_nb, tmp_path):
    from serlib.run import NotebookFailed, execute

    root = fresh("emodb")
    out = tmp_path / "out"
    with pytest.raises(NotebookFailed, match="allow_partial=true"):
        execute(probe_nb, {"data_root": str(root)}, output_dir=out, progress=False)
    assert not (out / "probe.results" / "run.json").exists()
    failed = nbformat.read(out / "probe.failed.ipynb", as_version=4)
    assert "serbook-footer" not in json.dumps([c.metadata for c in failed.cells])

    nb = execute(probe_nb, {"data_root": str(root), "allow_partial": True}, output_dir=out, progress=False)
    run = json.loads((out / "probe.results" / "run.json").read_text())
    assert run["allow_partial"] is True
    [entry] = run["corpora"]
    assert entry["name"] == "emodb" and entry["role"] == "main" and entry["root"] == str(root)
    assert entry["coverage"]["loaded"] == 70 and entry["coverage"]["expected"] == 535
    assert entry["coverage"]["complete"] is False and "70 of 535" in entry["coverage"]["summary"]
    assert entry["fingerprint"] == fingerprint_tree(root)
    assert entry["fingerprint"]["files"] == 70 and len(entry["fingerprint"]["sha256"]) == 64
    assert set(run["git"]) == {"commit", "dirty"} and run["device"] == "cpu" and "cpu_kernels" in run
    assert run["peak_rss_mib"] > 10 and "peak_child_rss_mib" not in run
    assert not (out / "probe.results" / "corpora.jsonl").exists()
    executed = nbformat.read(nb, as_version=4)
    assert not any("_serbook_footer" in c.source for c in executed.cells)
    assert any("WARNING: the corpus is partial" in o.get("text", "") for c in executed.cells
               for o in c.get("outputs", []))

    # the fingerprint follows the files: one removed changes it
    os.unlink(next((root / "wav").glob("*.wav")))
    execute(probe_nb, {"data_root": str(root), "allow_partial": True, "profile": "book"}, output_dir=out,
            progress=False)
    again = json.loads((out / "probe.results" / "run.json").read_text())
    assert again["corpora"][0]["fingerprint"]["files"] == 69
    assert again["corpora"][0]["fingerprint"]["sha256"] != entry["fingerprint"]["sha256"]


def test_peak_memory_is_each_runs_own(probe_nb, tmp_path):
    from serlib.run import execute

    params = {"corpus": "embedded", "profile": "smoke"}
    execute(probe_nb, {**params, "megabytes": 600}, output_dir=tmp_path / "big", progress=False)
    # the process that starts the kernel is itself large here (as a long test session is): its
    # peak must not leak into the kernel's figure through fork and exec
    ballast = bytearray(700 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    execute(probe_nb, params, output_dir=tmp_path / "small", progress=False)
    del ballast
    big = json.loads((tmp_path / "big" / "probe.results" / "run.json").read_text())["peak_rss_mib"]
    small = json.loads((tmp_path / "small" / "probe.results" / "run.json").read_text())["peak_rss_mib"]
    assert big > 600 and small < big - 400


def test_run_json_records_the_code_the_run_started_from(probe_nb, tmp_path, monkeypatch):
    """The tree may change while a long run works (the next commit, an edit): run.json names the
    commit and state the run began with, not those it ended with."""
    import serlib.run as run_mod
    from serlib.run import execute

    table = tmp_path / "out" / "probe.results" / "n.csv"  # written by the run: its tree has "changed"
    monkeypatch.setattr(run_mod, "git_state", lambda: {"commit": ("b" if table.exists() else "a") * 40,
                                                       "dirty": table.exists()})
    execute(probe_nb, {"corpus": "embedded"}, output_dir=tmp_path / "out", progress=False)
    run = json.loads((tmp_path / "out" / "probe.results" / "run.json").read_text())
    assert run["git"] == {"commit": "a" * 40, "dirty": False}
