"""The serbook command line: argument handling and error reporting."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from serlib.cli import build_parser, main


def test_parser_knows_the_commands():
    p = build_parser()
    a = p.parse_args(["run", "notebooks/00_corpora.py", "-p", "profile=smoke", "-p", "size=tiny"])
    assert a.param == ["profile=smoke", "size=tiny"]
    assert p.parse_args(["data", "check", "emodb", "/x"]).name == "emodb"
    assert p.parse_args(["book", "--profile", "smoke"]).profile == "smoke"
    with pytest.raises(SystemExit):
        p.parse_args(["book", "--profile", "fast"])


def test_unknown_corpus_is_a_clean_error(capsys):
    assert main(["data", "check", "nosuchcorpus", "/tmp"]) == 2
    assert "unknown corpus" in capsys.readouterr().err


def test_unknown_notebook_parameter_is_a_clean_error(capsys, tmp_path):
    assert main(["run", "notebooks/00_corpora.py", "-p", "nosuchknob=1", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) ['nosuchknob']" in err and "size" in err


def test_python_m_serlib_cli_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "serlib.cli", "data", "list"], capture_output=True, text=True, check=True)
    assert "iemocap" in out.stdout and "GPL" in out.stdout


def test_installed_serbook_script_runs_the_cli():
    """The ``serbook`` console script that installing the package ([project.scripts]) puts next to this
    Python: it exists, runs this environment's interpreter and serlib, and answers like the CLI."""
    script = Path(sys.executable).with_name("serbook")
    assert script.is_file() and os.access(script, os.X_OK), (
        f"no executable {script}: install the package (pip install -e '.[book,test]') so that its "
        "console script exists")
    out = subprocess.run([str(script), "data", "list"], capture_output=True, text=True, check=True)
    assert out.stdout == subprocess.run([sys.executable, "-m", "serlib.cli", "data", "list"], capture_output=True,
                                        text=True, check=True).stdout
    assert "iemocap" in out.stdout and "GPL" in out.stdout
    bad = subprocess.run([str(script), "data", "check", "nosuchcorpus", "/tmp"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown corpus" in bad.stderr  # main()'s exit code reaches the shell


def test_cache_key_keeps_its_recipe(monkeypatch):
    """For given versions ``serbook cache-key`` prints the same key as it always has, so the CI caches
    already stored under it stay usable. The versions are set here (package versions included), so
    bumping one in serlib does not touch this pin; a change of what goes into the key, or how it is
    hashed, does."""
    import importlib.metadata

    from serlib import versions

    monkeypatch.setattr(importlib.metadata, "version", lambda pkg: f"{pkg}-9.9")
    fixed = {"GENERATOR_VERSION": 1, "SIZES": ("tiny", "default", "large"), "VARIANTS": ("main", "cross"),
             "FEATURE_VERSION": 1, "SPECTRO_VERSION": 2, "MODEL_VERSION": 3,
             "FUNCTIONAL_SETS": {"is10": "IS10", "egemaps": "eGeMAPSv02"}, "FRAME_KINDS": ("mfcc", "logmel", "stft")}
    for name, value in fixed.items():
        monkeypatch.setattr(versions, name, value)
    assert versions.ci_cache_key() == "serlib-gen1-feat1-32c0949da6b308190de9"
    assert versions.ci_cache_key("ci") == "ci-gen1-feat1-32c0949da6b308190de9"
    monkeypatch.setattr(versions, "SPECTRO_VERSION", 3)
    assert versions.ci_cache_key() != "serlib-gen1-feat1-32c0949da6b308190de9"


def test_versions_are_the_ones_their_modules_use():
    """Each owner module reads its version from serlib.versions, so the key cannot drift from them."""
    from serlib import features, versions
    from serlib.data import synthetic
    from serlib.experiments import pereira2018

    assert features.FEATURE_VERSION is versions.FEATURE_VERSION
    assert features.SPECTRO_VERSION is versions.SPECTRO_VERSION
    assert features.FUNCTIONAL_SETS is versions.FUNCTIONAL_SETS and features.FRAME_KINDS is versions.FRAME_KINDS
    assert synthetic.GENERATOR_VERSION is versions.GENERATOR_VERSION
    assert synthetic.SIZES is versions.SIZES and synthetic.VARIANTS is versions.VARIANTS
    assert pereira2018.MODEL_VERSION is versions.MODEL_VERSION


@pytest.mark.parametrize("args", [["cache-key"], ["cache-key", "--json"]])
def test_cache_key_imports_neither_torch_nor_matplotlib(args):
    """``serbook cache-key`` runs at the start of every CI job: it reads version numbers and must not
    pay for importing torch, matplotlib or pandas (seconds) to do so."""
    code = ("import sys\nfrom serlib.cli import main\n"
            f"assert main({args!r}) == 0\n"
            "print(sorted(m for m in ('torch', 'matplotlib', 'pandas') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_the_executed_notebook_hides_the_injected_parameters_cell_from_the_page(tmp_path):
    """papermill's injected cell stays in the notebook (a reader re-running it needs it) but is
    tagged remove-cell, so the book's page shows no parameter assignments; the footer is dropped."""
    import nbformat

    from serlib import run

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = 'book'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("profile = 'smoke'", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("footer", metadata={"tags": [run._FOOTER_TAG]})]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    out = nbformat.reads(run._without_footer(path).decode(), as_version=4)
    assert [c.source for c in out.cells] == ["profile = 'book'", "profile = 'smoke'", "x = 1"]
    assert [c.metadata.get("tags", []) for c in out.cells] == [["parameters"], ["injected-parameters", "remove-cell"],
                                                                []]


def test_the_book_build_runs_its_chapters_without_progress_messages(monkeypatch, tmp_path):
    """The chapters of a book build log warnings only (no INFO lines on the pages), unless the
    reader set SERLIB_LOGLEVEL; the setting is undone afterwards."""
    import subprocess as sp
    from types import SimpleNamespace

    from serlib import run

    seen = []
    monkeypatch.setattr(run, "toc_notebooks", lambda: [tmp_path / "00_corpora.py"])
    monkeypatch.setattr(run, "execute", lambda src, params: seen.append(os.environ.get("SERLIB_LOGLEVEL")))
    monkeypatch.setattr(sp, "run", lambda *a, **k: SimpleNamespace(returncode=0))
    monkeypatch.delenv("SERLIB_LOGLEVEL", raising=False)
    run.build_book("smoke", page_check=False)  # nothing is built: no page to check
    assert seen == ["WARNING"] and "SERLIB_LOGLEVEL" not in os.environ
    monkeypatch.setenv("SERLIB_LOGLEVEL", "DEBUG")
    run.build_book("smoke", page_check=False)
    assert seen[-1] == "DEBUG" and os.environ["SERLIB_LOGLEVEL"] == "DEBUG"
