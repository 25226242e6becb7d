"""Re-running a notebook with parameters: YAML parameter files, value lists, parallel sweeps."""

import json

import pytest

from serlib.cli import main
from serlib.config import ParameterError
from serlib.results import load_table
from serlib.run import (
    expand_grid,
    load_params_file,
    merge_params,
    parse_params,
    parse_sweep_params,
    run_label,
    split_values,
    sweep,
)

# A notebook small enough to run several times: it saves a one-row table that depends on its
# parameters, a second table only when gamma > 2, and fails when gamma < 0.
TINY = '''# %% tags=["parameters"]
profile = "book"
gamma = 1.0
label = "default"

# %%
import pandas as pd

from serlib.results import save_table

if gamma < 0:
    raise ValueError(f"gamma must be positive, got {gamma}")
save_table("scores", pd.DataFrame({"score": [2 * gamma], "label": [label]}, index=pd.Index(["tiny"], name="method")))
if gamma > 2:
    save_table("extra", pd.DataFrame({"x": [gamma]}))
'''


@pytest.fixture
def tiny(tmp_path):
    nb = tmp_path / "tiny.py"
    nb.write_text(TINY)
    return nb


def write(path, text):
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# -p values and value lists
# ---------------------------------------------------------------------------------------------
def test_single_values_parse_exactly_as_before():
    items = ["profile=smoke", "epochs=3", "lr=1e-3", "seeds=[0, 1]", "seeds2=[0,1,2]", "corpus=emodb", "root=null",
             "flag=true", "empty=", 'title="a, b"', "opts={a: 1, b: 2}", "epochs=4"]
    single, grid = parse_sweep_params(items)
    assert grid == {}
    assert single == parse_params(items)
    assert list(single) == list(parse_params(items))  # same order: the injected cell is the same
    assert single["seeds2"] == [0, 1, 2] and single["title"] == "a, b" and single["opts"] == {"a": 1, "b": 2}
    assert single["epochs"] == 4 and single["lr"] == 1e-3 and single["empty"] is None


def test_value_lists_split_on_commas_outside_brackets_and_quotes():
    assert split_values("1.25,2.5,3.33") == ["1.25", "2.5", "3.33"]
    assert split_values("[0],[0,1]") == ["[0]", "[0,1]"]
    assert split_values("'a, b',c") == ["'a, b'", "c"]
    single, grid = parse_sweep_params(["profile=smoke", "gamma=1.25,2.5,3.33", "seeds=[0],[0,1]",
                                       "corpus=embedded,'emo, db'"])
    assert single == {"profile": "smoke"}
    assert grid == {"gamma": [1.25, 2.5, 3.33], "seeds": [[0], [0, 1]], "corpus": ["embedded", "emo, db"]}
    # a later -p of the same name wins, whether a single value or a list
    assert parse_sweep_params(["gamma=1,2", "gamma=3"]) == ({"gamma": 3}, {})
    assert parse_sweep_params(["gamma=3", "gamma=1,2"]) == ({}, {"gamma": [1, 2]})


def test_bad_value_lists_are_refused():
    with pytest.raises(ParameterError, match="empty item"):
        parse_sweep_params(["gamma=1,,2"])
    with pytest.raises(ParameterError, match="lists 1.5 more than once"):
        parse_sweep_params(["gamma=1.5,2,1.5"])
    with pytest.raises(ParameterError, match="key=value"):
        parse_sweep_params(["gamma"])


def test_grid_expansion_is_the_cartesian_product():
    combos = expand_grid({"gamma": [1.25, 2.5, 3.33], "size": ["tiny", "default"]})
    assert len(combos) == 6
    assert combos[0] == {"gamma": 1.25, "size": "tiny"} and combos[1] == {"gamma": 1.25, "size": "default"}
    assert {(c["gamma"], c["size"]) for c in combos} == {(g, s) for g in (1.25, 2.5, 3.33) for s in ("tiny", "default")}
    assert len({run_label(c) for c in combos}) == 6
    assert run_label({"gamma": 1.25, "size": "tiny"}) == "gamma=1.25,size=tiny"
    assert run_label({"seeds": [0, 1], "root": "/data/x y"}) == "seeds=0+1,root=_data_x_y"
    assert expand_grid({}) == [{}]


# ---------------------------------------------------------------------------------------------
# Parameter files
# ---------------------------------------------------------------------------------------------
def test_yaml_file_values_and_sweep(tmp_path):
    f = write(tmp_path / "params.yaml", 'profile: smoke\nlr: 1e-3\nname: "1e-3"\nseeds: [0, 1]\nroot: null\n'
                                        "sweep:\n  gamma: [1.25, 2.5]\n  size: [tiny]\n")
    params, grid = load_params_file(f)
    assert params == {"profile": "smoke", "lr": 1e-3, "name": "1e-3", "seeds": [0, 1], "root": None}
    assert isinstance(params["lr"], float)  # like -p lr=1e-3; the quoted one stays a string
    assert grid == {"gamma": [1.25, 2.5], "size": ["tiny"]}


def test_command_line_wins_over_the_file(tmp_path):
    f = write(tmp_path / "params.yaml", "profile: smoke\nlr: 0.1\nseeds: [0, 1]\nsweep:\n  gamma: [1.25, 2.5]\n")
    file_params, file_grid = load_params_file(f)
    # a single -p value replaces a file value and a file sweep
    params, grid = merge_params(file_params, file_grid, *parse_sweep_params(["profile=book", "gamma=3.33"]))
    assert params == {"profile": "book", "lr": 0.1, "seeds": [0, 1], "gamma": 3.33} and grid == {}
    # a -p value list replaces a file value, and adds to the file's sweep
    params, grid = merge_params(file_params, file_grid, *parse_sweep_params(["lr=0.01,0.001"]))
    assert params == {"profile": "smoke", "seeds": [0, 1]}
    assert grid == {"gamma": [1.25, 2.5], "lr": [0.01, 0.001]}
    # nothing on the command line: the file as written
    assert merge_params(file_params, file_grid, {}, {}) == (file_params, file_grid)


@pytest.mark.parametrize("text, message", [
    ("profile: [smoke\n", "not a valid YAML parameter file"),
    ("- profile: smoke\n", "expected a mapping of parameter: value.*got a list"),
    ("", "got an empty file"),
    ("sweep: [1, 2]\n", "'sweep' must be a mapping"),
    ("sweep:\n  gamma: 1.25\n", "sweep.gamma must be a list"),
    ("sweep:\n  gamma: []\n", "empty list of values"),
    ("gamma: 1\nsweep:\n  gamma: [1, 2]\n", "gamma is given both as a value and under 'sweep'"),
    ("1: 2\n", "parameter names must be strings"),
])
def test_bad_parameter_files_name_the_file(tmp_path, text, message):
    f = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ParameterError, match=message) as err:
        load_params_file(f)
    assert str(f) in str(err.value)


def test_missing_parameter_file_is_a_clean_error(tiny, tmp_path, capsys):
    assert main(["run", str(tiny), "-f", str(tmp_path / "nope.yaml"), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "parameter file" in err and "nope.yaml" in err


def test_unknown_names_are_refused_before_anything_runs(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    f = write(tmp_path / "params.yaml", "profile: smoke\nnosuchknob: 1\n")
    assert main(["run", str(tiny), "-f", str(f), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) ['nosuchknob']" in err and "gamma" in err and "params.yaml" in err
    f = write(tmp_path / "sweep.yaml", "sweep:\n  nosuchknob: [1, 2]\n")
    assert main(["run", str(tiny), "-f", str(f), "--output-dir", str(out)]) == 2
    assert "unknown parameter(s) ['nosuchknob']" in capsys.readouterr().err
    assert main(["run", str(tiny), "-p", "nosuchknob=1,2", "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) ['nosuchknob']" in err and "gamma" in err
    assert main(["run", str(tiny), "-p", "profile=smoke,fast", "--output-dir", str(out)]) == 2
    assert "profile='fast' is not one of" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_sweep_refuses_to_replace_a_folder_it_did_not_write(tiny, tmp_path):
    out = tmp_path / "out"
    (out / "tiny.sweep").mkdir(parents=True)
    (out / "tiny.sweep" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="no sweep wrote it"):
        sweep(tiny, {"gamma": [1.0, 2.0]}, {"profile": "smoke"}, jobs=1, output_dir=out, progress=False)
    assert (out / "tiny.sweep" / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------------------------------------------
# Real sweeps of the tiny notebook (each run is a papermill execution)
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_sweep_collects_one_row_per_run(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    f = write(tmp_path / "params.yaml", "profile: smoke\nlabel: from-file\ngamma: 9.0\n")
    rc = main(["run", str(tiny), "-f", str(f), "-p", "gamma=1.5,2.5", "--jobs", "2", "--output-dir", str(out), "-q"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    folder = out / "tiny.sweep"
    table = load_table(folder / "scores.csv")
    assert list(table.columns) == ["gamma", "score", "label"]
    assert sorted(table["gamma"]) == [1.5, 2.5]
    assert (table["score"] == 2 * table["gamma"]).all()  # each row came from its own run
    assert (table["label"] == "from-file").all()  # the file's value reached every run
    assert not (folder / "extra.csv").exists()  # saved by the gamma=2.5 run only
    for g in (1.5, 2.5):
        run = json.loads((folder / f"gamma={g}" / "tiny.results" / "run.json").read_text())
        assert run["parameters"] == {"profile": "smoke", "label": "from-file", "gamma": g}
        assert (folder / f"gamma={g}" / "tiny.ipynb").exists()
    assert "2 succeeded, 0 failed" in printed.out and "scores.csv" in printed.out
    assert "extra" in printed.out  # named as not collected


@pytest.mark.slow
def test_failing_combination_is_reported_and_the_others_kept(tiny, tmp_path):
    out = tmp_path / "out"
    result = sweep(tiny, {"gamma": [1.0, -1.0, 3.0]}, {"profile": "smoke"}, jobs=2, output_dir=out, progress=False)
    assert [r["label"] for r in result.failed] == ["gamma=-1.0"]
    error = result.failed[0]["error"]
    assert "failed in cell" in error and "ValueError: gamma must be positive, got -1.0" in error
    assert (out / "tiny.sweep" / "gamma=-1.0" / "tiny.failed.ipynb").exists()
    scores = result["scores"]
    assert sorted(scores["gamma"]) == [1.0, 3.0] and (scores["score"] == 2 * scores["gamma"]).all()
    assert load_table(out / "tiny.sweep" / "scores.csv").equals(scores)
    assert result.skipped == ["extra"] and "extra" not in result
    manifest = json.loads((out / "tiny.sweep" / "sweep.json").read_text())
    assert manifest["status"] == "finished" and manifest["tables"] == ["scores"]
    assert {r["label"]: r["ok"] for r in manifest["runs"]} == {"gamma=1.0": True, "gamma=-1.0": False,
                                                               "gamma=3.0": True}
    summary = result.summary()
    assert "2 succeeded, 1 failed" in summary and "FAILED gamma=-1.0" in summary and "gamma must be positive" in summary


# ---------------------------------------------------------------------------------------------
# a kernel that never starts
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_kernel_that_never_answers_is_replaced_and_a_failing_cell_is_not_retried(tiny, tmp_path, monkeypatch):
    """Two kernels started together can be handed the same port, and the loser never answers: the
    run starts a new kernel (no cell has run). A notebook whose cell fails is not run again."""
    import papermill as pm

    from serlib import run as run_mod

    real = pm.execute_notebook
    calls: list[int] = []
    refused: list[int] = []  # the first kernel only

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1 and not refused:
            refused.append(1)
            raise RuntimeError("Kernel didn't respond in 60 seconds")
        return real(*args, **kwargs)

    monkeypatch.setattr(pm, "execute_notebook", flaky)
    out = run_mod.execute(tiny, {"profile": "smoke", "gamma": 3.0}, output_dir=tmp_path / "a", progress=False)
    assert len(calls) == 2 and out.exists()
    assert load_table(tmp_path / "a" / "tiny.results" / "scores.csv")["score"].iloc[0] == 6.0

    calls.clear()
    with pytest.raises(run_mod.NotebookFailed, match="gamma must be positive"):
        run_mod.execute(tiny, {"profile": "smoke", "gamma": -1.0}, output_dir=tmp_path / "b", progress=False)
    assert len(calls) == 1

    calls.clear()
    monkeypatch.setattr(pm, "execute_notebook", lambda *a, **k: calls.append(1) or (_ for _ in ()).throw(
        RuntimeError("Kernel didn't respond in 60 seconds")))
    with pytest.raises(run_mod.NotebookFailed, match="Kernel didn't respond"):
        run_mod.execute(tiny, {"profile": "smoke"}, output_dir=tmp_path / "c", progress=False)
    assert len(calls) == run_mod.KERNEL_START_TRIES
