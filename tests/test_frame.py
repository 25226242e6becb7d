"""The frame of each chapter: the box "In this chapter" (objectives, prerequisites, measured times),
the model diagram, the takeaways, and the solutions folded on the book's pages."""

from __future__ import annotations

import json
import re

import matplotlib
import nbformat
import pytest

matplotlib.use("Agg")

from serlib import diagrams, frame, overview, plots  # noqa: E402
from serlib.config import PROFILES, project_root  # noqa: E402
from serlib.exercises import COLLAPSE_TAG, collapse_solutions, student_notebook  # noqa: E402

ROOT = project_root()
STEMS = [c.stem for c in overview.CHAPTERS]
jupytext = pytest.importorskip("jupytext")


# ---------------------------------------------------------------------------------------------
# The block diagram
# ---------------------------------------------------------------------------------------------
def _gids(fig, prefix):
    ax = fig.axes[0]
    artists = list(ax.patches) + list(ax.texts) + list(ax.get_children())
    return {a.get_gid() for a in artists if (a.get_gid() or "").startswith(prefix)}


def test_block_diagram_draws_every_block_arrow_and_label():
    blocks = {"x": {"label": "input", "at": (0, 0), "kind": "data"},
              "f": {"label": "network", "at": (2, 0)},
              "y": {"label": "loss", "at": (4, 0), "kind": "loss"}}
    fig = plots.block_diagram(blocks, [("x", "f"), ("f", "y", "score"), ("y", "f", "gradient", "dashed")])
    try:
        assert isinstance(fig, matplotlib.figure.Figure)
        assert _gids(fig, "block:") == {"block:x", "block:f", "block:y"}
        assert _gids(fig, "arrow:") == {"arrow:x->f", "arrow:f->y", "arrow:y->f"}
        texts = {t.get_text() for t in fig.axes[0].texts}
        assert {"input", "network", "loss", "score", "gradient"} <= texts
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert legend == [plots.BLOCK_KINDS[k][1] for k in ("data", "net", "loss")] + ["gradient, loss or weights"]
    finally:
        matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("blocks, arrows, message", [
    ({"a": {"label": "A", "at": (0, 0)}}, [("a", "b")], r"unknown block 'b'.*the blocks are \['a'\]"),
    ({"a": {"label": "A", "at": (0, 0)}, "b": {"label": "B", "at": (1, 0)}}, [("a", "a")], "to itself"),
    ({"a": {"label": "A"}}, [], r"block 'a': 'at' must be two finite numbers"),
    ({"a": {"label": "A", "at": (0, 0), "kind": "magic"}}, [], r"kind 'magic' is not one of"),
    ({"a": {"label": "A", "at": (0, 0), "colour": "red"}}, [], r"unknown keys \['colour'\]"),
    ({"a": {"label": "A", "at": (0, 0)}, "b": {"label": "B", "at": (1, 0)}}, [("a", "b", "", "dotted")],
     "style 'dotted'"),
    ({"a": {"label": "A", "at": (0, 0)}}, ["ab"], r"expected \(source, target"),
    ({}, [], "no blocks"),
])
def test_block_diagram_refuses_a_bad_description(blocks, arrows, message):
    with pytest.raises(ValueError, match=message):
        plots.block_diagram(blocks, arrows)


@pytest.mark.parametrize("stem", STEMS)
def test_every_chapter_has_a_diagram_that_draws(stem):
    fig = diagrams.draw(stem)
    try:
        d = diagrams.DIAGRAMS[stem]
        assert len(_gids(fig, "block:")) == len(d["blocks"]) >= 4
        assert len(_gids(fig, "arrow:")) == len({(a[0], a[1]) for a in d["arrows"]}) >= 3
    finally:
        matplotlib.pyplot.close(fig)
    with pytest.raises(KeyError, match="no diagram for chapter"):
        diagrams.draw("99_nothing")


# ---------------------------------------------------------------------------------------------
# Measured times and the box
# ---------------------------------------------------------------------------------------------
SPEED = """# Speed

| what | target | measured (2-core CPU, 2026-01-02) |
|---|---|---|
| each chapter, `book` profile (features cached) | < 10 min | 12 s (ch. 0), 163 s (1), 2 min (2), 164 s (3), 216 s (4), 163 s (5) |
| each chapter, `smoke` profile | < 90 s | 34 s (ch. 0, generating the tiny corpus), 24 s, 9 s, 14 s, 19 s, 11 s |
"""


def _project(tmp_path, speed=SPEED, recorded=None):
    (tmp_path / "book" / "using").mkdir(parents=True)
    (tmp_path / "book" / "using" / "speed.md").write_text(speed)
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nOne two three, four's five-six `code` $x^2$.\n\n"
                                              "```bash\nnot counted at all\n```\n{cite}`key` seven"),
                nbformat.v4.new_code_cell("not = counted")]
    jupytext.write(nb, tmp_path / "notebooks" / "02_latif2020_mixup_gan.py", fmt="py:percent")
    if recorded:
        folder = tmp_path / "book" / "results" / "02_latif2020_mixup_gan" / "emodb"
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps(recorded))
    return tmp_path


def test_chapter_times_come_from_the_speed_page_and_the_recorded_runs(tmp_path):
    run = {"notebook": "notebooks/02_latif2020_mixup_gan.py", "parameters": {"corpus": "emodb", "workers": 2},
           "seconds": 5815.8, "finished": "2026-12-04 07:35:10", "device": "cpu", "corpora": [{"name": "emodb"}]}
    root = _project(tmp_path, recorded=run)
    times = frame.chapter_times("02_latif2020_mixup_gan", root)
    assert [(t.profile, t.seconds) for t in times] == [("smoke", 9.0), ("book", 120.0), ("paper", None),
                                                       ("book", 5815.8)]
    assert times[1].where == "2-core CPU, 2026-01-02" and times[1].note == "features cached"
    assert times[3].corpus == "emodb" and times[3].note == "workers=2"
    assert times[3].source == "book/results/02_latif2020_mixup_gan/emodb/run.json"
    assert frame.chapter_times("00_corpora", root)[0].note == "generating the tiny corpus"


def test_chapter_times_refuse_a_speed_row_that_does_not_list_every_chapter(tmp_path):
    root = _project(tmp_path, speed=SPEED.replace(", 11 s |", " |"))
    with pytest.raises(ValueError, match=r"speed\.md: the row .*smoke.* gives 5 chapter times, expected 6"):
        frame.chapter_times("00_corpora", root)
    (root / "book" / "using" / "speed.md").unlink()
    with pytest.raises(FileNotFoundError, match="speed.md not found"):
        frame.chapter_times("00_corpora", root)


def test_the_real_speed_page_gives_smoke_and_book_times_for_every_chapter():
    for stem in STEMS:
        times = {t.profile: t for t in frame.chapter_times(stem)[:len(PROFILES)]}
        assert times["smoke"].seconds > 0 and times["book"].seconds > 0, stem


def test_reading_words_count_prose_only(tmp_path):
    root = _project(tmp_path)
    # Title, One, two, three, four's, five-six, `code` (one word), seven; not the fence, the maths, the role
    assert frame.reading_words("02_latif2020_mixup_gan", root / "notebooks") == 8


def test_duration_text():
    assert [frame.duration_text(s) for s in (9.4, 60, 163, 3600, 5815.8)] == [
        "9 s", "1 min", "2 min 43 s", "1 h", "1 h 36 min"]


def test_chapter_frame_says_not_measured_and_never_invents_a_time(tmp_path):
    root = _project(tmp_path)
    box = frame.chapter_frame("02_latif2020_mixup_gan", ["Do a", "Do b", "Do c"], ["Chapter 1"], root=root)
    assert box.startswith(":::{admonition} In this chapter\n:class: note") and box.endswith("\n:::")
    assert "* Do a\n* Do b\n* Do c" in box and "* Chapter 1" in box
    assert "Reading: about 1 min (8 words of prose at 200 words a minute" in box
    assert "`smoke` 9 s (2-core CPU, 2026-01-02)" in box and "`book` 2 min (2-core CPU, 2026-01-02; features cached)" in box
    assert "`paper` not measured" in box
    assert "on a real corpus" not in box
    with pytest.raises(ValueError, match="3 to 5 learning objectives"):
        frame.chapter_frame("02_latif2020_mixup_gan", ["a", "b"], ["c"], root=root)
    with pytest.raises(ValueError, match="at least one prerequisite"):
        frame.chapter_frame("02_latif2020_mixup_gan", ["a", "b", "c"], [], root=root)


# ---------------------------------------------------------------------------------------------
# The chapters carry the frame
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stem", STEMS)
def test_chapter_opens_with_the_box_and_shows_its_diagram_and_takeaways(stem):
    nb = jupytext.read(ROOT / "notebooks" / f"{stem}.py")
    cells = nb.cells
    box = [i for i, c in enumerate(cells) if c.cell_type == "code" and "chapter_frame(" in c.source]
    assert box == [2], "the box follows the opening cell and the box 'Run this chapter yourself'"
    assert "remove-input" in cells[2].metadata.get("tags", [])
    assert f'"{stem}"' in cells[2].source
    figure = [c for c in cells if c.cell_type == "code" and f'diagrams.draw("{stem}")' in c.source]
    assert len(figure) == 1
    meta = figure[0].metadata["mystnb"]["figure"]
    assert meta["caption"] and meta["name"].startswith("fig-") and meta["name"].endswith("-diagram")
    exercises = next(i for i, c in enumerate(cells) if c.cell_type == "markdown"
                     and re.search(r"^## Exercises", c.source, re.M))
    real = next(i for i, c in enumerate(cells) if c.cell_type == "markdown"
                and re.search(r"^## On real corpora", c.source, re.M))
    take = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and "{admonition} Takeaways" in c.source]
    assert len(take) == 1 and real < take[0] < exercises
    bullets = [ln for ln in cells[take[0]].source.splitlines() if ln.startswith("* ")]
    assert 3 <= len(bullets) <= 5


# ---------------------------------------------------------------------------------------------
# Solutions folded on the book's pages
# ---------------------------------------------------------------------------------------------
def _exercise_notebook():
    nb = nbformat.v4.new_notebook()
    fig = nbformat.v4.new_code_cell("plot()", metadata={"tags": ["solution"],
                                                        "mystnb": {"figure": {"caption": "c", "name": "n"}}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_markdown_cell("## Exercises"),
                nbformat.v4.new_markdown_cell("### Exercise 1: one", metadata={"tags": ["exercise"]}),
                fig,
                nbformat.v4.new_code_cell("print(x)", metadata={"tags": ["solution-only"]}),
                nbformat.v4.new_markdown_cell("Why:\n:::{note}\ninside\n:::", metadata={"tags": ["solution-only"]})]
    return nb


def test_collapse_solutions_folds_solutions_and_keeps_everything_else():
    nb = collapse_solutions(_exercise_notebook())
    assert COLLAPSE_TAG not in nb.cells[0].metadata.get("tags", [])
    sol, only, md = nb.cells[3], nb.cells[4], nb.cells[5]
    assert sol.metadata["tags"] == ["solution", COLLAPSE_TAG]
    assert sol.metadata["mystnb"] == {"figure": {"caption": "c", "name": "n"}, "code_prompt_show": "Show the solution",
                                      "code_prompt_hide": "Hide the solution"}
    assert only.metadata["tags"] == ["solution-only", COLLAPSE_TAG]
    assert only.metadata["mystnb"]["code_prompt_show"] == "Show the discussion of the solution"
    assert md.source.startswith("::::{admonition} The discussion of the solution\n:class: dropdown\n\nWhy:")
    assert md.source.endswith(":::\n::::")
    again = collapse_solutions(nbformat.from_dict(json.loads(json.dumps(nb))))
    assert again == nb
    # the student edition is unaffected: its stubs are never folded
    st = student_notebook(_exercise_notebook())
    assert not any(COLLAPSE_TAG in c.metadata.get("tags", []) for c in st.cells)


def test_an_executed_chapter_renders_its_solutions_collapsed(tmp_path):
    from serlib.run import _without_footer

    src = jupytext.read(ROOT / "notebooks" / "00_corpora.py")
    path = tmp_path / "00_corpora.ipynb"
    nbformat.write(src, path)
    out = nbformat.reads(_without_footer(path).decode(), as_version=4)
    sols = [c for c in out.cells if "solution" in c.metadata.get("tags", [])]
    assert sols and all(COLLAPSE_TAG in c.metadata["tags"] for c in sols)
    assert all(c.metadata["mystnb"]["code_prompt_show"] == "Show the solution" for c in sols)
    assert all("figure" in c.metadata["mystnb"] for c in sols)  # their figures keep caption and name
    # every other cell keeps its tags (some chapter cells fold themselves, e.g. the parameters table)
    assert [c.metadata.get("tags", []) for c in out.cells if "solution" not in " ".join(c.metadata.get("tags", []))] \
        == [c.metadata.get("tags", []) for c in src.cells if "solution" not in " ".join(c.metadata.get("tags", []))]
