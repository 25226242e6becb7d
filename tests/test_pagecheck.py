"""The page check (serlib.pagecheck) names each kind of spot a reader should not see and leaves
clean pages alone; the tables a chapter shows (serlib.tables) pass it; the runner drops progress
widgets; a book build fails on a dirty page."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest

from serlib import pagecheck, tables
from serlib.pagecheck import check_html, check_pages, format_problems


def page(*outputs: str, extra: str = "") -> str:
    """A chapter page as Sphinx renders it: prose, a code cell, and one output area per item."""
    cells = "".join(
        '<div class="cell docutils container"><div class="cell_input docutils container">'
        '<pre>x = f()</pre></div>'
        f'<div class="cell_output docutils container">{out}</div></div>' for out in outputs)
    return f"<html><body><main><article><p>Prose about PosixPath( and /tmp/ and uar_aug.</p>{cells}{extra}" \
           "</article></main></body></html>"


def text_output(text: str) -> str:
    return f'<div class="output text_plain highlight-myst-ansi notranslate"><pre>{html.escape(text)}</pre></div>'


def kinds(text: str) -> list[str]:
    return [p.kind for p in check_html(text, "p.html")]


CLEAN_TABLE = ("<table><thead><tr><th></th><th>UAR (%)</th></tr><tr><th>model</th><th></th></tr></thead>"
               "<tbody><tr><th>GAN on 2-d codes</th><td>53.7</td></tr><tr><th>cGAN</th><td>—</td></tr></tbody></table>")
FIGURE = ('<figure class="align-default" id="fig-x"><img alt="_images/a.png" src="_images/a.png" />'
          '<figcaption><p><span class="caption-number">Fig. 1 </span><span class="caption-text">A caption.</span>'
          '</p></figcaption></figure>')


def test_a_clean_page_has_no_problem():
    shown = page(text_output("Accuracy 53.7 % on 10 speakers."), CLEAN_TABLE, FIGURE,
                '<div class="output text_markdown"><p>The model is <strong>ahead</strong>.</p></div>')
    assert check_html(shown) == []


@pytest.mark.parametrize("text", [
    "PosixPath('/data/x')", "Corpus('embedded', 80 utterances)", "<serlib.x.Thing object at 0x7f3a2b>",
    "<Figure size 640x480 with 1 Axes>", "a    1\nb    2\ndtype: int64"])
def test_reprs_are_found(text):
    assert "repr" in kinds(page(text_output(text)))


@pytest.mark.parametrize("text", [
    "[serlib.experiments.leow] INFO: training 20 networks", "INFO: done", "WARNING: slow",
    "training:  40%|████      | 4/10 [00:01<00:02,  3.1it/s]"])
def test_log_lines_and_progress_bars_are_found(text):
    assert "log" in kinds(page(text_output(text)))


def test_standard_error_and_progress_widgets_are_found():
    stderr = '<div class="output stderr highlight-myst-ansi notranslate"><pre>some warning</pre></div>'
    widget = '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "a"}</script>'
    assert kinds(page(stderr)) == ["log"]
    assert kinds(page(widget)) == ["log"]


@pytest.mark.parametrize("text", ["saved to /home/ann/serbook/x.csv", "cache /root/.cache/serlib/embedded",
                                  "PATH=/tmp/abc", "results in 01_sahu2018_gan.results/table1.csv"])
def test_machine_paths_are_found(text):
    assert "path" in kinds(page(text_output(text)))


@pytest.mark.parametrize("text", ["[]", "None", "{}", ""])
def test_empty_outputs_are_found(text):
    assert kinds(page(text_output(text))) == ["empty"]


def test_a_shown_injected_parameters_cell_is_found():
    shown = ('<div class="cell tag_injected-parameters docutils container"><div class="cell_input docutils '
             'container"><pre># Parameters\nprofile = "smoke"</pre></div></div>')
    assert kinds(page(extra=shown)) == ["parameters"]


@pytest.mark.parametrize("cell", ["NaN", "nan", "None", "&lt;NA&gt;", "...", "…"])
def test_missing_values_in_tables_are_found(cell):
    table = f"<table><thead><tr><th>model</th><th>UAR (%)</th></tr></thead><tbody><tr><th>a</th><td>{cell}</td></tr></tbody></table>"
    assert kinds(page(table)) == ["missing"]


def test_code_name_headers_are_found_but_not_a_parameter_tables_names():
    coded = "<table><thead><tr><th></th><th>uar_aug</th></tr></thead><tbody><tr><th>cgan_improved</th><td>1</td></tr></tbody></table>"
    assert kinds(page(coded)) == ["code name", "code name"]
    params = ("<table><thead><tr><th></th><th>smoke</th><th>paper's value</th></tr><tr><th>parameter</th><th></th><th></th></tr>"
              "</thead><tbody><tr><th>data_root</th><td>—</td><td>—</td></tr></tbody></table>")
    assert kinds(page(params)) == []
    # a parameter table's column headers are still words
    bad_params = params.replace("<th>smoke</th>", "<th>smoke_value</th>")
    assert kinds(page(bad_params)) == ["code name"]


def test_a_figure_without_caption_is_found():
    assert kinds(page('<img alt="_images/a.png" src="_images/a.png" />')) == ["figure"]
    empty_caption = FIGURE.replace('<span class="caption-text">A caption.</span>', "").replace(
        '<span class="caption-number">Fig. 1 </span>', "")
    assert kinds(page(empty_caption)) == ["figure"]
    assert kinds(page(FIGURE)) == []


def test_check_pages_reads_every_chapter_page_and_names_it(tmp_path):
    chapters = tmp_path / pagecheck.CHAPTER_PAGES
    chapters.mkdir(parents=True)
    (chapters / "01_a.html").write_text(page(text_output("Corpus('x')")))
    (chapters / "02_b.html").write_text(page(text_output("fine")))
    problems = check_pages(tmp_path)
    assert [(p.page, p.kind) for p in problems] == [("book/chapters/01_a.html", "repr")]
    message = format_problems(problems)
    assert "book/chapters/01_a.html: repr" in message and "1 spot" in message
    with pytest.raises(FileNotFoundError, match="build the book first"):
        check_pages(tmp_path / "nothing")


def test_shown_tables_use_words_dashes_and_every_row():
    df = pd.DataFrame({"uar_aug": [62.5, np.nan], "note": [None, "x"]},
                      index=pd.Index(["cgan_improved", "gan_2d"], name="model"))
    shown = tables.to_html(df)
    assert tables.HEADERS["uar_aug"] in shown and tables.HEADERS["cgan_improved"] in shown
    assert "uar_aug" not in shown and "NaN" not in shown and "None" not in shown
    assert shown.count(tables.DASH) >= 2 and tables.DASH_NOTE in shown
    assert check_html(page(shown)) == []
    long = pd.DataFrame({"value": range(500)})
    assert "…" not in tables.to_html(long) and "..." not in tables.to_html(long)
    assert tables.to_html(long).count("<tr>") >= 500
    # the saved table keeps its names: only what is shown changes
    assert list(df.columns) == ["uar_aug", "note"]


def test_a_parameter_table_keeps_the_names_a_reader_types():
    df = pd.DataFrame({"smoke": [None], "meaning": ["folder"]}, index=pd.Index(["data_root"], name="parameter"))
    shown = tables.to_html(df)
    assert "<code>data_root</code>" in shown and tables.DASH_NOTE_PARAMETERS in shown
    risky = pd.DataFrame({"meaning": ["a <b> & c"]}, index=pd.Index(["x_y"], name="parameter"))
    assert "a &lt;b&gt; &amp; c" in tables.to_html(risky), "text cells stay escaped"
    assert check_html(page(shown)) == []


def test_install_registers_the_formatter_with_ipython():
    class Formatter:
        def __init__(self):
            self.registered = {}

        def for_type(self, cls, func):
            self.registered[cls] = func

    class Shell:
        def __init__(self):
            self.display_formatter = type("D", (), {"formatters": {"text/html": Formatter()}})()

    shell = Shell()
    assert tables.install(shell) is True
    assert shell.display_formatter.formatters["text/html"].registered[pd.DataFrame] is tables.to_html
    assert tables.install(None) is False  # outside IPython: nothing to do


def test_the_runner_drops_progress_widgets_and_keeps_other_outputs():
    import nbformat

    from serlib.run import _without_progress_widgets

    widget = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "a", "version_major": 2, "version_minor": 0},
        "text/plain": "training:  10%"})
    text = nbformat.v4.new_output("stream", name="stdout", text="kept\n")
    rich = nbformat.v4.new_output("display_data", data={"text/html": "<b>kept</b>", "text/plain": "kept"})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[widget, text, rich])])
    _without_progress_widgets(nb)
    assert nb.cells[0].outputs == [text, rich]


def test_a_book_build_fails_on_a_dirty_page(tmp_path, monkeypatch):
    import subprocess

    from serlib import run

    chapters = tmp_path / "_build" / "html" / pagecheck.CHAPTER_PAGES
    chapters.mkdir(parents=True)
    (chapters / "01_a.html").write_text(page(text_output("[serlib.x] INFO: training")))
    monkeypatch.setattr(run, "project_root", lambda: tmp_path)
    monkeypatch.setattr(run, "toc_notebooks", lambda *a, **k: [])
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    with pytest.raises(pagecheck.PageProblems, match="01_a.html: log"):
        run.build_book("smoke")
    assert run.build_book("smoke", page_check=False) == tmp_path / "_build" / "html"


def frame_table(*cells: str) -> str:
    """A data frame's table as pandas writes it, one row of ``cells`` under the header ``x``."""
    row = "".join(f"<td>{c}</td>" for c in cells)
    return (f'<table class="dataframe"><thead><tr><th></th>{"<th>UAR (%)</th>" * len(cells)}</tr></thead>'
            f"<tbody><tr><th>cGAN</th>{row}</tr></tbody></table>")


def test_an_empty_cell_of_a_data_frame_is_missing_but_an_empty_header_is_not():
    assert kinds(page(frame_table("53.7", ""))) == ["missing"]
    assert "in row 'cGAN'" in check_html(page(frame_table("")))[0].excerpt
    assert kinds(page(frame_table("53.7", "—"))) == []
    # a Markdown table written by hand may leave a cell blank on purpose: only data frames are read so
    assert kinds(page("<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td></td></tr></tbody></table>")) == []


def test_a_cell_pandas_cut_short_is_found_and_an_ellipsis_in_prose_is_not():
    cut = "run on a real corpus that is not the full rele..."
    assert kinds(page(frame_table(cut))) == ["truncated"]
    assert kinds(page(frame_table("wait for it... then train"))) == []
    assert kinds(page(frame_table("a sentence that ends."))) == []


@pytest.mark.parametrize("text", [
    "Config(profile='smoke', corpus='embedded', seeds=[0])", "array([1, 2, 3])", "tensor([[0.1, 0.2]])",
    "     uar_mean  uar_std\ngan   53.7     4.1\ncgan  55.2     3.9",
    "       a\n0   1\n1   2\n\n[2 rows x 1 columns]"])
def test_more_reprs_are_found(text):
    assert "repr" in kinds(page(text_output(text)))


@pytest.mark.parametrize("text", [
    "Fold 1: UAR 53.7 %, accuracy 55.0 %.", "Trained 2 seed(s) x 5 folds in 12 s.",
    "The model (a GAN, two layers, 128 units) learns."])
def test_sentences_in_outputs_are_not_reprs(text):
    assert kinds(page(text_output(text))) == []


def test_a_captioned_figure_needs_a_name_and_a_number():
    unnamed = FIGURE.replace(' id="fig-x"', "")
    assert kinds(page(unnamed)) == ["figure"]
    unnumbered = FIGURE.replace('<span class="caption-number">Fig. 1 </span>', "")
    assert kinds(page(unnumbered)) == ["figure"]


def test_code_names_with_capitals_are_found_and_literal_code_in_a_cell_is_left_alone():
    assert kinds(page(frame_table("1").replace("<th>cGAN</th>", "<th>svm_C</th>"))) == ["code name"]
    assert kinds(page(frame_table("1").replace("<th>cGAN</th>", "<th><code>svm_C</code></th>"))) == []
    assert kinds(page(frame_table("<code>None</code>"))) == []
    # a code listing with line numbers is a table too, and not one of the book's
    listing = '<table class="highlighttable"><tbody><tr><td>1</td><td><pre>x_y = None</pre></td></tr></tbody></table>'
    assert kinds(page(extra=listing)) == []


def test_check_pages_reads_the_tables_of_the_other_pages_only(tmp_path):
    chapters = tmp_path / pagecheck.CHAPTER_PAGES
    chapters.mkdir(parents=True)
    (chapters / "01_a.html").write_text(page(text_output("fine")))
    prose = "<html><body><main><p>Run it; it prints [serlib.run] INFO: and writes to /tmp/x.</p>{}</main></body></html>"
    (tmp_path / "book" / "using").mkdir()
    (tmp_path / "book" / "using" / "running.html").write_text(prose.format(frame_table("NaN")))
    (tmp_path / "book" / "intro.html").write_text(prose.format(""))
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "theme.html").write_text(prose.format(frame_table("NaN")))
    (tmp_path / "genindex.html").write_text(prose.format(frame_table("NaN")))
    problems = check_pages(tmp_path)
    assert [(p.page, p.kind) for p in problems] == [("book/using/running.html", "missing")]


def test_shown_tables_dash_empty_text_and_show_long_text_whole():
    long = "a description of a parameter that runs on well past the fifty characters pandas keeps by default"
    df = pd.DataFrame({"paper": ["", "72.1"], "meaning": [long, "x"]}, index=pd.Index(["a", "b"], name="setting"))
    shown = tables.to_html(df)
    assert long in shown and "..." not in shown
    assert tables.DASH in shown and tables.DASH_NOTE in shown
    assert check_html(page(shown)) == []
    assert df.loc["a", "paper"] == "", "the table itself is unchanged"
    params = pd.DataFrame({"paper's value": [""], "meaning": ["folder"]}, index=pd.Index(["data_root"], name="parameter"))
    assert tables.DASH_NOTE_PARAMETERS in tables.to_html(params)
    assert check_html(page(tables.to_html(params))) == []
