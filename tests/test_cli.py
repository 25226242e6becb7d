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
