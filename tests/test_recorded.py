"""`serbook results add`: real-corpus runs recorded in book/results, refused without provenance,
and shown in the chapters and the results overview."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from serlib import recorded
from serlib.cli import main
from serlib.recorded import RecordRefused, add_run, load_recorded, provenance_line

STEM = "04_leow_speaker_adversarial"

EMODB = {"name": "emodb", "role": "main", "root": "/home/reader/data/emodb",
         "fingerprint": {"files": 535, "bytes": 47_000_000, "sha256": "ab" * 32},
         "coverage": {"loaded": 535, "expected": 535, "complete": True, "summary": "535 of 535"}}


def leow_table1() -> pd.DataFrame:
    return pd.DataFrame({"ours accuracy (%)": [61.3, 64.0], "ours std": [4.0, 3.1],
                         "paper accuracy, Emo-DB": [78.3, 82.1], "paper accuracy, RAVDESS": [55.2, 58.9]},
                        index=pd.Index(["1 / without AL", "1 / 2.50"], name="CNN layers / gamma"))


def make_run(folder: Path, corpora=(EMODB,), drop: tuple[str, ...] = (), extra_tables=None) -> Path:
    """A <stem>.results folder as `serbook run` writes it."""
    res = folder / f"{STEM}.results"
    res.mkdir(parents=True)
    leow_table1().to_csv(res / "table1.csv")
    (res / "table1.json").write_text(json.dumps({"metric": "accuracy (%)", "corpus": "emodb"}))
    for name, table in (extra_tables or {}).items():
        table.to_csv(res / f"{name}.csv")
    run = {"notebook": f"notebooks/{STEM}.py", "parameters": {"profile": "book", "corpus": "emodb",
                                                              "data_root": "/home/reader/data/emodb"},
           "seconds": 812.4, "finished": "2026-11-30 20:11:02", "versions": {"torch": "2.13.0"},
           "corpora": list(corpora), "allow_partial": False, "git": {"commit": "0123abc", "dirty": False},
           "device": "cuda:0 (NVIDIA H200)", "peak_rss_mib": 1830.0}
    for key in drop:
        run.pop(key)
    (res / "run.json").write_text(json.dumps(run))
    return res


def test_add_copies_tables_and_provenance(tmp_path):
    res = make_run(tmp_path / "runs")
    (res / "notes.wav").write_bytes(b"RIFF")  # never copied: not a table
    dest = add_run(res, results_root=tmp_path / "results")
    assert dest == tmp_path / "results" / STEM / "emodb"
    assert sorted(p.name for p in dest.iterdir()) == ["run.json", "table1.csv", "table1.json"]
    pd.testing.assert_frame_equal(pd.read_csv(dest / "table1.csv", index_col=0), pd.read_csv(res / "table1.csv",
                                                                                             index_col=0))
    run = json.loads((dest / "run.json").read_text())
    assert run["corpora"][0]["root"] is None  # the contributor's folder is not published
    assert run["corpora"][0]["fingerprint"] == EMODB["fingerprint"]
    assert run["git"]["commit"] == "0123abc" and run["device"].startswith("cuda:0")


def test_a_run_is_recorded_under_its_evaluation_corpus_not_its_pretraining_corpus(tmp_path):
    # chapter 5's shape: LibriSpeech pretrains, the protocols evaluate on the corpus named by `corpus`
    libri = {**EMODB, "name": "librispeech", "role": "pretrain"}
    loso = {**EMODB, "role": "loso protocol"}
    dest = add_run(make_run(tmp_path / "runs", corpora=(libri, loso)), results_root=tmp_path / "results")
    assert dest == tmp_path / "results" / STEM / "emodb"


def test_add_accepts_the_executed_notebook_path_and_replaces_an_earlier_record(tmp_path):
    res = make_run(tmp_path / "runs")
    first = add_run(res, results_root=tmp_path / "results")
    (first / "stale.csv").write_text("a\n1\n")
    second = add_run(res.with_suffix(".ipynb"), results_root=tmp_path / "results")
    assert second == first and not (second / "stale.csv").exists()
    assert [p.name for p in second.parent.iterdir()] == ["emodb"]  # no temporary folder left behind


def test_tables_with_utterance_ids_are_not_copied(tmp_path):
    per_utt = pd.DataFrame({"utt_id": ["03a01Fa"], "pred": ["anger"]})
    res = make_run(tmp_path / "runs", extra_tables={"predictions": per_utt})
    dest = add_run(res, results_root=tmp_path / "results")
    assert not (dest / "predictions.csv").exists()
    assert "predictions.csv: has per-utterance column(s) ['utt_id']" in (dest / "SKIPPED.txt").read_text()


@pytest.mark.parametrize("corpora, drop, message", [
    ((), ("corpora",), "lacks the provenance ['corpora']"),
    ((), (), "'corpora' is empty"),
    (({"name": "embedded", "role": "main", "root": None},), (), "read only ['embedded'], not a real corpus"),
    ((EMODB,), ("finished", "parameters"), "lacks the provenance ['parameters', 'finished']"),
])
def test_add_refuses_runs_without_real_corpus_provenance(tmp_path, corpora, drop, message):
    res = make_run(tmp_path / "runs", corpora=corpora, drop=drop)
    with pytest.raises(RecordRefused, match=message.replace("[", r"\[").replace("]", r"\]")):
        add_run(res, results_root=tmp_path / "results")
    assert not (tmp_path / "results" / STEM / "emodb").exists()


def test_add_refuses_a_folder_without_run_json(tmp_path):
    res = make_run(tmp_path / "runs")
    (res / "run.json").unlink()
    with pytest.raises(RecordRefused, match="run.json not found"):
        add_run(res, results_root=tmp_path / "results")


def test_cli_results_add_exit_codes(tmp_path, capsys):
    good = make_run(tmp_path / "good")
    assert main(["results", "add", str(good), "--results-root", str(tmp_path / "results")]) == 0
    assert "recorded" in capsys.readouterr().out
    bad = make_run(tmp_path / "bad", corpora=({"name": "embedded"},))
    assert main(["results", "add", str(bad), "--results-root", str(tmp_path / "results")]) == 1
    assert "not a real corpus" in capsys.readouterr().err
    assert main(["results", "add", str(tmp_path / "nowhere"), "--results-root", str(tmp_path / "r")]) == 2


def test_load_and_provenance_line(tmp_path):
    add_run(make_run(tmp_path / "runs"), results_root=tmp_path / "results")
    [rec] = load_recorded(STEM, tmp_path / "results")
    assert rec.corpus == "emodb" and list(rec.tables) == ["table1"]
    line = provenance_line(rec)
    for part in ("`emodb` (main): 535 of 535", "commit `0123abc`", "device `cuda:0 (NVIDIA H200)`",
                 "2026-11-30 20:11:02", "profile `book`", '`corpus="emodb"`'):
        assert part in line, (part, line)
    assert "/home/reader" not in line
    assert load_recorded("01_sahu2018_gan", tmp_path / "results") == []


def test_a_record_without_run_json_is_not_shown(tmp_path):
    (tmp_path / "results" / STEM / "emodb").mkdir(parents=True)
    with pytest.raises(RecordRefused, match="has no run.json"):
        load_recorded(STEM, tmp_path / "results")


def test_show_displays_tables_with_sentence_or_says_how_to_add(tmp_path, monkeypatch):
    shown: list = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert recorded.show(STEM, results_root=tmp_path / "results") is None  # a cell ending with it prints nothing
    assert len(shown) == 1 and "serbook results add book/chapters/04_leow_speaker_adversarial.results" \
        in shown[0].data
    shown.clear()
    add_run(make_run(tmp_path / "runs"), results_root=tmp_path / "results")
    recorded.show(STEM, results_root=tmp_path / "results")
    texts = [getattr(o, "data", "") for o in shown]
    assert "On `emodb`" in texts[0] and "commit `0123abc`" in texts[0]
    assert any("Table 1" in t and "61.3" not in t and "behind the paper" in t for t in texts)
    frames = [o for o in shown if isinstance(o, pd.DataFrame)]
    assert len(frames) == 1 and frames[0].loc["1 / 2.50", "ours accuracy (%)"] == 64.0
    assert any("Table 2" in t and "not produced" in t for t in texts)  # the record has no table2


def test_records_are_not_ignored_by_git():
    """book/results/ is committed: no .gitignore pattern may hide it."""
    import shutil
    import subprocess

    from serlib.config import project_root

    root = project_root()
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    path = f"book/results/{STEM}/emodb/table1.csv"
    proc = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=root, check=False)
    assert proc.returncode == 1, f"{path} is ignored by git; fix .gitignore"


def test_show_keeps_a_table_whose_layout_changed(tmp_path, monkeypatch):
    shown: list = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    res = make_run(tmp_path / "runs")
    leow_table1().rename(columns={"ours accuracy (%)": "accuracy"}).to_csv(res / "table1.csv")
    add_run(res, results_root=tmp_path / "results")
    recorded.show(STEM, results_root=tmp_path / "results")
    texts = [getattr(o, "data", "") for o in shown]
    assert any("no comparison computed" in t and "update serlib.overview.CHAPTERS" in t for t in texts)
    assert any(isinstance(o, pd.DataFrame) and "accuracy" in o.columns for o in shown)


def test_a_record_leaves_out_every_local_path(tmp_path):
    """The contributor's folders and files (the data root in the parameters and in a table's
    metadata, a cache file) are not published; relative paths and other values are kept."""
    res = make_run(tmp_path / "runs")
    (res / "table1.json").write_text(json.dumps({"metric": "accuracy (%)", "data_root": "/home/reader/data/emodb",
                                                 "config": {"savee_root": "~/corpora/savee", "seeds": [0, 1]},
                                                 "checkpoint": "C:\\Users\\reader\\cache\\began.pt"}))
    dest = add_run(res, results_root=tmp_path / "results")
    meta = json.loads((dest / "table1.json").read_text())
    assert meta == {"metric": "accuracy (%)", "data_root": None, "config": {"savee_root": None, "seeds": [0, 1]},
                    "checkpoint": None}
    run = json.loads((dest / "run.json").read_text())
    assert run["parameters"]["data_root"] is None and run["parameters"]["corpus"] == "emodb"
    assert run["notebook"] == f"notebooks/{STEM}.py"


def test_committed_records_hold_no_local_path():
    """What book/results publishes names no folder of the machine a run was made on."""
    root = Path(__file__).resolve().parents[1] / "book" / "results"
    found = []

    def walk(obj, where):
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{where}/{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{where}[{i}]")
        elif isinstance(obj, str) and recorded._local_path(obj):
            found.append(f"{where}: {obj}")

    for path in sorted(root.rglob("*.json")):
        walk(json.loads(path.read_text()), str(path.relative_to(root)))
    assert not found, "local paths in published records:\n" + "\n".join(found)
