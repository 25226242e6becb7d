"""The serbook command line: argument handling and error reporting."""

import subprocess
import sys

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


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "serlib.cli", "data", "list"], capture_output=True, text=True, check=True)
    assert "iemocap" in out.stdout and "GPL" in out.stdout
