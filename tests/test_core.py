"""config, cache, params, corpus table and the runner's parameter checks."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from serlib import cache, config
from serlib.data import Corpus, CorpusError, load_corpus, validate_layout
from serlib.params import ChapterConfig, param


def test_check_range_and_choice():
    assert config.check_range("x", 0.5, 0, 1) == 0.5
    with pytest.raises(config.ParameterError, match=r"x=2 is out of range"):
        config.check_range("x", 2, 0, 1)
    with pytest.raises(config.ParameterError, match="not one of"):
        config.check_choice("profile", "fast", config.PROFILES)


def test_get_device_refuses_missing_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(config.ParameterError, match="no CUDA GPU"):
        config.get_device("cuda")
    assert config.get_device("auto").type in ("cpu", "mps")


def test_seed_everything_reproducible():
    import torch

    config.seed_everything(7)
    a = (np.random.rand(), torch.rand(1).item())
    config.seed_everything(7)
    assert (np.random.rand(), torch.rand(1).item()) == a


def test_cache_roundtrip_and_corruption_rebuild(tmp_cache):
    calls = []

    def build():
        calls.append(1)
        return {"x": np.arange(5)}

    v1 = cache.cached("t", "k", build)
    v2 = cache.cached("t", "k", build)
    assert len(calls) == 1 and np.array_equal(v1["x"], v2["x"])
    path = tmp_cache / "t" / "k.pkl"
    path.write_bytes(path.read_bytes()[:-7])  # truncate: a corrupt entry
    v3 = cache.cached("t", "k", build)
    assert len(calls) == 2 and np.array_equal(v3["x"], np.arange(5))
    assert not list((tmp_cache / "t").glob("*.tmp"))


def test_cache_failed_build_leaves_nothing(tmp_cache):
    def build():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.cached("t", "bad", build)
    assert not list((tmp_cache / "t").iterdir())


@dataclasses.dataclass
class _Cfg(ChapterConfig):
    epochs: int = param(10, smoke=1, paper=100, paper_value="100", help="epochs", low=1)
    mode: str = param("a", choices=("a", "b"), help="mode")


def test_chapter_config_profiles_and_checks():
    assert _Cfg.for_profile("smoke").epochs == 1
    assert _Cfg.for_profile("paper").epochs == 100
    cfg = _Cfg.for_profile("book", epochs=None, mode="b")
    assert cfg.epochs == 10 and cfg.mode == "b" and cfg.changed == {"mode": "b"}
    with pytest.raises(config.ParameterError, match="unknown parameter"):
        _Cfg.for_profile("book", epoch=3)
    with pytest.raises(config.ParameterError, match="out of range"):
        _Cfg.for_profile("book", epochs=0)
    with pytest.raises(config.ParameterError, match="not one of"):
        _Cfg.for_profile("book", mode="c")
    with pytest.raises(config.ParameterError):
        _Cfg.for_profile("fast")
    ref = _Cfg.reference()
    assert ref.loc["epochs", "paper's value"] == "100" and ref.loc["epochs", "smoke"] == 1


def test_from_notebook_picks_the_config_fields_with_the_profile_applied():
    import os

    namespace = {"profile": "smoke", "epochs": None, "mode": "b", "np": np, "unrelated": 3}
    cfg = _Cfg.from_notebook(namespace)
    assert cfg.profile == "smoke" and cfg.epochs == 1 and cfg.mode == "b"
    assert cfg.changed == {"mode": "b"}
    assert cfg.as_dict() == _Cfg.for_profile("smoke", epochs=None, mode="b").as_dict()
    # a field absent from the namespace keeps the profile's value; no profile means "book"
    assert _Cfg.from_notebook({"mode": "a"}).epochs == 10
    assert _Cfg.from_notebook({"seeds": 4}).seeds == [4]
    with pytest.raises(config.ParameterError, match="out of range"):
        _Cfg.from_notebook({"profile": "book", "epochs": 0})
    with pytest.raises(config.ParameterError, match="'mode' is bound to"):
        _Cfg.from_notebook({"profile": "book", "mode": os})


@dataclasses.dataclass
class _HiddenCfg(_Cfg):
    NOT_IN_NOTEBOOK = ("device",)


def test_not_in_notebook_fields_are_not_read_from_the_namespace():
    assert "device" not in _HiddenCfg.knobs() and "epochs" in _HiddenCfg.knobs()
    cfg = _HiddenCfg.from_notebook({"profile": "book", "device": "cuda:7"})
    assert cfg.device == "auto" and cfg.changed == {}


def test_corpus_table_checks(table_corpus):
    with pytest.raises(CorpusError, match="lacks columns"):
        Corpus("x", table_corpus.table.drop(columns=["speaker"]), table_corpus.labels)
    bad = table_corpus.table.copy()
    bad.loc[0, "emotion"] = "bored"
    with pytest.raises(CorpusError, match="not in the label set"):
        Corpus("x", bad, table_corpus.labels)
    assert set(table_corpus.y) == {0, 1, 2, 3}
    assert table_corpus.counts("speaker")["total"].sum() == len(table_corpus)


def test_corpus_fingerprint_tracks_files(tmp_path, table_corpus):
    p = tmp_path / "a.wav"
    p.write_bytes(b"1234")
    t = table_corpus.table.copy()
    t.loc[0, "path"] = str(p)
    c = Corpus("x", t, table_corpus.labels)
    fp = c.fingerprint()
    assert fp == Corpus("x", t.copy(), table_corpus.labels).fingerprint()
    p.write_bytes(b"12345")
    assert c.fingerprint() != fp


def test_unknown_corpus_and_missing_root(tmp_path):
    with pytest.raises(config.ParameterError, match="unknown corpus"):
        load_corpus("not-a-corpus")
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus("emodb", tmp_path / "nowhere")
    problems = validate_layout("emodb", tmp_path / "nowhere")
    assert problems and "does not exist" in problems[0].problem


def test_parse_params():
    from serlib.run import parse_params

    assert parse_params(["epochs=3", "lr=1e-3", "seeds=[0, 1]", "corpus=emodb", "root=null"]) == {
        "epochs": 3, "lr": 1e-3, "seeds": [0, 1], "corpus": "emodb", "root": None}
    with pytest.raises(config.ParameterError, match="key=value"):
        parse_params(["epochs"])


def test_runner_refuses_unknown_parameters(tmp_path):
    from serlib.run import execute

    nb = tmp_path / "nb.py"
    nb.write_text('# %% tags=["parameters"]\nprofile = "book"\nepochs = None\n\n# %%\nprint(profile)\n')
    with pytest.raises(config.ParameterError, match=r"unknown parameter\(s\) \['epoch'\]"):
        execute(nb, {"epoch": 3}, output_dir=tmp_path / "out")
    with pytest.raises(config.ParameterError, match="profile='fast'"):
        execute(nb, {"profile": "fast"}, output_dir=tmp_path / "out")


def test_runner_executes_and_records(tmp_path):
    from serlib.run import NotebookFailed, execute

    nb = tmp_path / "nb.py"
    nb.write_text('# %% tags=["parameters"]\nprofile = "book"\nn = 2\n\n# %%\n'
                  "from serlib.results import save_table\nimport pandas as pd\n"
                  "save_table('t', pd.DataFrame({'v': [n * 10]}))\n")
    out = execute(nb, {"n": 4}, output_dir=tmp_path / "out", progress=False)
    assert out.exists()
    res = tmp_path / "out" / "nb.results"
    assert pd.read_csv(res / "t.csv", index_col=0)["v"].tolist() == [40]
    run = json.loads((res / "run.json").read_text())
    assert run["parameters"] == {"n": 4} and "torch" in run["versions"]

    bad = tmp_path / "bad.py"
    bad.write_text('# %% tags=["parameters"]\nprofile = "book"\n\n# %%\nraise ValueError("no data")\n')
    with pytest.raises(NotebookFailed, match="ValueError: no data"):
        execute(bad, {}, output_dir=tmp_path / "out", progress=False)
    assert (tmp_path / "out" / "bad.failed.ipynb").exists()
    assert not (tmp_path / "out" / "bad.ipynb").exists()


def test_a_kernel_session_runs_each_notebook_as_a_fresh_kernel_would(tmp_path, monkeypatch):
    """Notebooks run in one kernel in turn: each starts from an emptied namespace, in its own
    folder, with this process's environment and torch's thread count as at the kernel's start, and
    records its own peak memory; an import-time variable's change or a dead kernel starts a new one."""

    from serlib.run import KernelSession, NotebookFailed, execute

    nb = tmp_path / "nb.py"
    nb.write_text('# %% tags=["parameters"]\nprofile = "book"\nmegabytes = 0\n\n# %%\n'
                  "import os, torch\nimport pandas as pd\nfrom serlib.results import save_table\n"
                  "ballast = bytearray(megabytes * 2**20)\nballast[::4096] = b'x' * len(range(0, len(ballast), 4096))\n"
                  "save_table('t', pd.DataFrame({'left': ['left' in globals()], 'cwd': [os.getcwd()],\n"
                  "                              'var': [os.environ.get('SERBOOK_TEST_VAR', 'unset')],\n"
                  "                              'threads': [torch.get_num_threads()], 'pid': [os.getpid()]}))\n"
                  "left = 1\ntorch.set_num_threads(torch.get_num_threads() + 1)\n")
    (tmp_path / "dies.py").write_text('# %% tags=["parameters"]\nprofile = "book"\n\n# %%\n'
                                      "import os\nos._exit(1)\n")

    def run(name: str, **params) -> tuple[dict, float]:
        execute(nb, params, output_dir=tmp_path / name, progress=False, session=session)
        res = tmp_path / name / "nb.results"
        return (pd.read_csv(res / "t.csv", index_col=0).iloc[0].to_dict(),
                json.loads((res / "run.json").read_text())["peak_rss_mib"])

    monkeypatch.delenv("SERBOOK_TEST_VAR", raising=False)
    with KernelSession() as session:
        first, big = run("a", megabytes=500)
        monkeypatch.setenv("SERBOOK_TEST_VAR", "set")
        second, small = run("b")
        assert session.started == 1 and second["pid"] == first["pid"]
        assert not first["left"] and not second["left"]  # the namespace was emptied
        assert first["cwd"] == second["cwd"] == str(tmp_path)
        assert (first["var"], second["var"]) == ("unset", "set")
        assert second["threads"] == first["threads"]  # restored after the first run raised it
        assert big > 500 and small < big - 300  # each run's own peak
        monkeypatch.setenv("PYTHONSERBOOKTEST", "1")  # a name of IMPORT_TIME_ENV: read only at a start
        third, _ = run("c")
        assert session.started == 2 and third["pid"] != second["pid"]
        with pytest.raises(NotebookFailed):
            execute(tmp_path / "dies.py", {}, output_dir=tmp_path / "d", progress=False, session=session)
        fourth, _ = run("e")
        assert session.started == 3 and fourth["pid"] != third["pid"]


def test_table_saver_shares_the_chapter_and_metadata_and_returns_nothing(tmp_path, monkeypatch):
    import json

    import pandas as pd

    from serlib import results

    monkeypatch.setattr(results, "results_dir", lambda chapter: tmp_path / chapter)
    (tmp_path / "ch").mkdir()
    save = results.TableSaver("ch", profile="smoke", corpus="embedded")
    assert save("t1", pd.DataFrame({"a": [1, 2]}), metric="accuracy (%)", corpus="emodb") is None
    assert pd.read_csv(tmp_path / "ch" / "t1.csv", index_col=0)["a"].tolist() == [1, 2]
    assert json.loads((tmp_path / "ch" / "t1.json").read_text()) == {"profile": "smoke", "corpus": "emodb",
                                                                     "metric": "accuracy (%)"}
