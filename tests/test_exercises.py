"""Exercises in the chapter sources, and the student / instructor editions built from them."""

import ast
import re

import nbformat
import pytest

from serlib.config import project_root
from serlib.exercises import (
    STUB_TAG,
    ExerciseError,
    build_edition,
    chapter_sources,
    check,
    exercises,
    numbers,
    solution_cells,
    stub_cells,
    student_notebook,
)

jupytext = pytest.importorskip("jupytext")

ROOT = project_root()
# chapter -> (fewest, most) exercises it should have
CHAPTERS = {"00_corpora": (1, 2), "01_sahu2018_gan": (2, 4), "02_latif2020_mixup_gan": (2, 4),
            "03_ahn_infogan": (2, 4), "04_leow_speaker_adversarial": (2, 4), "05_pereira2018_began": (2, 4)}


def source(stem: str):
    return jupytext.read(ROOT / "notebooks" / f"{stem}.py")


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


# ---------------------------------------------------------------------------------------------
# The convention, on small hand-made notebooks
# ---------------------------------------------------------------------------------------------
def md(text, *t):
    c = nbformat.v4.new_markdown_cell(text)
    if t:
        c.metadata["tags"] = list(t)
    return c


def code(text, *t):
    c = nbformat.v4.new_code_cell(text)
    if t:
        c.metadata["tags"] = list(t)
    return c


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [code("x = 1"), *cells]
    return nb


def good_notebook():
    return notebook(
        md("## Exercises\n\nTwo of them."),
        md("### Exercise 1: double it", "exercise"),
        code("for k in range(3):  # starter\n    y = 2 * x  # starter\nsecret_value = y + 41", "solution"),
        md("Why 42: because.", "solution-only"),
        md("### Exercise 2: triple it", "exercise"),
        code("z = 3 * x\nprint(z)", "solution"),
        md("## References"),
    )


def test_a_good_notebook_passes_and_numbers_its_exercises():
    exs = check(good_notebook(), "demo.py")
    assert [e.number for e in exs] == [1, 2]
    assert [e.title for e in exs] == ["double it", "triple it"]
    assert exs[0].solutions == [3] and exs[0].solution_only == [4] and exs[1].solutions == [6]


def test_student_notebook_replaces_solutions_keeps_starter_and_drops_solution_only():
    nb = good_notebook()
    st = student_notebook(nb, "demo.py")
    assert len(st.cells) == len(nb.cells) - 1  # the solution-only cell is gone
    assert not any("solution" in tags(c) or "solution-only" in tags(c) for c in st.cells)
    stubs = [c for c in st.cells if STUB_TAG in tags(c)]
    assert len(stubs) == 2
    first = stubs[0].source
    assert "# for k in range(3):" in first and "#     y = 2 * x" in first  # starter lines, commented
    assert "secret_value" not in first and "# starter" not in first
    assert 'raise NotImplementedError("Exercise 1: write your solution here")' in first
    assert 'raise NotImplementedError("Exercise 2: write your solution here")' in stubs[1].source
    assert "print(z)" not in stubs[1].source
    # everything else is untouched, in order
    kept = [c.source for c in nb.cells if not set(tags(c)) & {"solution", "solution-only"}]
    assert [c.source for c in st.cells if STUB_TAG not in tags(c)] == kept
    assert nb.cells[3].source.startswith("for k")  # the source notebook is not modified


@pytest.mark.parametrize("cells, message", [
    ((md("## Exercises"), md("### Exercise 2: wrong number", "exercise"), code("a = 1", "solution")),
     "numbered 2 but is exercise 1"),
    ((md("## Exercises"), md("Exercise without a heading", "exercise"), code("a = 1", "solution")),
     "starts with the heading"),
    ((md("## Exercises"), code("a = 1", "solution"), md("### Exercise 1: late", "exercise")),
     "before any cell tagged 'exercise'"),
    ((md("## Exercises"), md("### Exercise 1: no answer", "exercise"), md("### Exercise 2: b", "exercise"),
      code("b = 1", "solution")), "exercise 1 has no code cell tagged 'solution'"),
    ((md("## Exercises"), code("a = 1", "exercise")), "is a code cell"),
    ((md("## Exercises"), md("### Exercise 1: a", "exercise"), md("an answer in prose", "solution")),
     "solutions are code cells"),
    ((md("## Exercises"), md("### Exercise 1: a", "exercise"), code("a = 1", "solution"), code("b = a"),
      code("c = 2", "solution")), "sits between exercise 1 and its solution"),
    ((md("### Exercise 1: a", "exercise"), code("a = 1", "solution")), "'## Exercises'"),
    ((md("## Exercises"), md("### Exercise 1: a", "exercise"), code("answer = 42", "solution"),
      md("### Exercise 2: b", "exercise"), code("print(answer + 1)", "solution")),
     "reads 'answer', which only the solution of exercise 1 assigns"),
    ((md("## Exercises"), md("### Exercise 1: a", "exercise"), code("answer = 42", "solution"),
      code("print(answer)")), "a cell outside the exercises"),
])
def test_malformed_exercises_are_refused_with_the_cell_named(cells, message):
    with pytest.raises(ExerciseError, match=re.escape(message)) as err:
        check(notebook(*cells), "demo.py")
    assert "demo.py, cell" in str(err.value)


def test_reading_chapter_names_and_own_names_is_allowed():
    nb = notebook(md("## Exercises"), md("### Exercise 1: a", "exercise"), code("s = x + 1", "solution"),
                  code("print(s, x)", "solution"), md("### Exercise 2: b", "exercise"),
                  code("s = [x for x in range(3)]\nprint(s)", "solution"))
    assert numbers(nb) == [1, 2]
    check(nb, "demo.py")


def test_build_edition_refuses_a_malformed_source_and_writes_nothing(tmp_path):
    bad = tmp_path / "99_bad.py"
    jupytext.write(notebook(md("## Exercises"), md("### Exercise 3: a", "exercise"), code("a = 1", "solution")),
                   bad, fmt="py:percent")
    out = tmp_path / "student"
    with pytest.raises(ExerciseError, match="99_bad.py"):
        build_edition("student", [ROOT / "notebooks" / "00_corpora.py", bad], output_dir=out)
    assert not out.exists()
    with pytest.raises(ExerciseError, match="edition 'teacher'"):
        build_edition("teacher", [bad], output_dir=out)


# ---------------------------------------------------------------------------------------------
# The chapters
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    out = tmp_path_factory.mktemp("editions")
    written = {ed: build_edition(ed, output_dir=out / ed) for ed in ("student", "instructor")}
    return out, written


def test_every_chapter_source_follows_the_convention():
    stems = {p.stem for p in chapter_sources()}
    assert set(CHAPTERS) <= stems
    for p in chapter_sources():
        check(jupytext.read(p), p.name)


@pytest.mark.parametrize("stem", sorted(CHAPTERS))
def test_chapter_has_numbered_exercises_at_its_end(stem):
    nb = source(stem)
    exs = exercises(nb, stem)
    lo, hi = CHAPTERS[stem]
    assert lo <= len(exs) <= hi
    assert [e.number for e in exs] == list(range(1, len(exs) + 1))
    heading = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source]
    assert len(heading) == 1 and heading[0] < exs[0].cell
    # after the heading: only the exercises, their solutions, and markdown (e.g. the bibliography)
    for c in nb.cells[heading[0] + 1:]:
        assert c.cell_type == "markdown" or set(tags(c)) & {"solution", "solution-only"}
    # solutions build their own state: none of them is read by another exercise (check() enforces it)
    for ex in exs:
        assert all("solution" in tags(nb.cells[j]) for j in ex.solutions)


@pytest.mark.parametrize("stem", sorted(CHAPTERS))
def test_student_edition_has_no_solution_code_and_raises_in_every_exercise(stem, editions):
    out, written = editions
    src = source(stem)
    py, ipynb = out / "student" / f"{stem}.py", out / "student" / f"{stem}.ipynb"
    assert py in written["student"] and ipynb in written["student"]
    st = jupytext.read(ipynb)
    paired = jupytext.read(py)
    assert [(c.cell_type, c.source, tags(c)) for c in paired.cells] == [(c.cell_type, c.source, tags(c))
                                                                        for c in st.cells]
    assert not solution_cells(st)
    assert not any("solution-only" in tags(c) for c in st.cells)
    exs = exercises(src, stem)
    owner = {j: ex.number for ex in exs for j in ex.solutions}
    assert len(stub_cells(st)) == len(owner)
    expected = [owner[j] for j in sorted(owner)]
    got = []
    for i in stub_cells(st):
        tree = ast.parse(st.cells[i].source)
        assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Raise)  # comments and the raise, no code
        call = tree.body[0].exc
        assert isinstance(call, ast.Call) and call.func.id == "NotImplementedError"
        m = re.fullmatch(r"Exercise (\d+): write your solution here", call.args[0].value)
        assert m
        got.append(int(m.group(1)))
    assert got == expected
    # the question cells and everything outside the exercises are there unchanged, so with the stubs holding
    # nothing but comments and the raise, no solution code is left
    keep = [c.source for c in src.cells if not set(tags(c)) & {"solution", "solution-only"}]
    assert [c.source for c in st.cells if STUB_TAG not in tags(c)] == keep


@pytest.mark.parametrize("stem", sorted(CHAPTERS))
def test_instructor_edition_equals_the_source(stem, editions):
    out, written = editions
    src_path = ROOT / "notebooks" / f"{stem}.py"
    py, ipynb = out / "instructor" / f"{stem}.py", out / "instructor" / f"{stem}.ipynb"
    assert py.read_bytes() == src_path.read_bytes()
    src, ins = jupytext.read(src_path), jupytext.read(ipynb)
    assert [(c.cell_type, c.source, tags(c)) for c in ins.cells] == [(c.cell_type, c.source, tags(c))
                                                                     for c in src.cells]
    assert solution_cells(ins) == solution_cells(src) != []


def test_cli_writes_both_editions(tmp_path, capsys):
    from serlib.cli import main

    for ed in ("student", "instructor"):
        assert main(["edition", ed, "--output-dir", str(tmp_path / ed)]) == 0
        printed = capsys.readouterr().out.split()
        assert str(tmp_path / ed / "00_corpora.ipynb") in printed
        assert {p.name for p in (tmp_path / ed).iterdir()} >= {f"{s}.{x}" for s in CHAPTERS for x in ("py", "ipynb")}


# ---------------------------------------------------------------------------------------------
# A student runs their copy: everything before the first exercise runs, the exercise raises
# ---------------------------------------------------------------------------------------------
def test_student_copy_executes_up_to_the_first_exercise(tmp_path, kernel_session):
    from serlib.run import NotebookFailed, execute

    build_edition("student", [ROOT / "notebooks" / "00_corpora.py"], output_dir=tmp_path / "student")
    run_dir = tmp_path / "run"
    with pytest.raises(NotebookFailed, match="NotImplementedError: Exercise 1: write your solution here"):
        execute(tmp_path / "student" / "00_corpora.ipynb", {"profile": "smoke"}, output_dir=run_dir, progress=False,
                session=kernel_session)
    failed = nbformat.read(run_dir / "00_corpora.failed.ipynb", as_version=4)
    cells = [c for c in failed.cells if "papermill-error-cell-tag" not in tags(c)]
    first_stub = next(i for i, c in enumerate(cells) if STUB_TAG in tags(c))
    before = [c for c in cells[:first_stub] if c.cell_type == "code"]
    assert len(before) >= 5 and any("injected-parameters" in tags(c) for c in before)
    for c in before:
        assert c.execution_count is not None, c.source[:80]
        assert not [o for o in c.get("outputs", []) if o.output_type == "error"], c.source[:80]
    errors = [o for o in cells[first_stub].outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "NotImplementedError"
    assert errors[0].evalue == "Exercise 1: write your solution here"
    for c in cells[first_stub + 1:]:
        if c.cell_type == "code":
            assert c.execution_count is None and not c.get("outputs")


# ---------------------------------------------------------------------------------------------
# The small helpers the solutions call
# ---------------------------------------------------------------------------------------------
def test_without_reversal_the_speaker_gradient_reaches_the_encoder_unreversed():
    import torch

    from serlib.models.sier import GradientReversal, PassGradient

    for layer, sign in ((GradientReversal(0.7), -0.7), (PassGradient(), 1.0)):
        layer.lam = 0.7  # SIERNet sets lam on whichever layer it holds
        x = torch.ones(3, requires_grad=True)
        layer(x).sum().backward()
        assert torch.allclose(x.grad, torch.full((3,), sign))


def test_helpers_refuse_settings_they_cannot_honour():
    from serlib.config import ParameterError
    from serlib.experiments import ahn, leow

    with pytest.raises(ParameterError, match=r"cannot change \['use_txt'\]"):
        ahn.infogan_settings(None, None, ahn.Config.for_profile("smoke"), 0, {"typo": {"use_txt": False}})
    with pytest.raises(ParameterError, match="reversal=False"):
        leow.fit_one(leow.Config.for_profile("smoke"), None, None, None, gamma=None, reversal=False)
