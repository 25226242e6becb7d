"""Exercises kept with their solutions in the chapter sources, and the two editions built from them.

The convention, in the jupytext sources ``notebooks/NN_<name>.py``
-------------------------------------------------------------------

* Exercises sit at the end of a chapter, after a markdown cell whose heading is
  ``## Exercises``.
* An **exercise** is a markdown cell tagged ``exercise`` (the question). It starts with a
  heading that numbers it in order, from 1 in each chapter: ``### Exercise 1: <title>``.
* It is followed by one or more code cells tagged ``solution``, and optionally by cells (code
  or markdown) tagged ``solution-only``, e.g. narrative that discusses the solution.
* **Starter code**: a line of a solution cell that ends with the comment ``# starter`` is shown
  to students, commented out and without the marker, above the ``raise`` of their cell (the
  marked lines keep their relative indentation; their common indentation is removed).
* A solution may use anything the chapter computed before the exercises, never what another
  exercise's solution defines: the student edition has no solutions, and every exercise must
  stand on its own. :func:`check` enforces this (names assigned only in one exercise's solution
  cells must not be read anywhere else).

In py:percent a solution cell reads::

    # %% tags=["solution"]
    for C in (0.01, 1.0, 100.0):  # starter
        scores, _ = svm_yardstick(lab, folds, features=feats, C=C)
        ...

The two editions
----------------

* **instructor** -- the source as it is, solutions in: ``<stem>.py`` is a byte-for-byte copy
  of the source and ``<stem>.ipynb`` its notebook form.
* **student** -- every ``solution`` cell becomes a cell tagged ``exercise-stub`` holding the
  starter code as comments and ``raise NotImplementedError("Exercise N: write your solution
  here")``; cells tagged ``solution-only`` are dropped; every other cell is unchanged.

The rendered book is built from the sources as they are, so it holds the solutions; there they
are **collapsed, not absent**: :func:`collapse_solutions`, applied by ``serbook run`` to every
executed chapter, tags each ``solution`` and ``solution-only`` cell ``hide-cell``, so that the page
shows the question and a button "Show the solution" (or "Show the discussion of the solution")
that opens the code and its output.

Both editions are written, not executed, as ``<stem>.ipynb`` plus the paired ``<stem>.py`` into
``_build/student/`` and ``_build/instructor/`` (``serbook edition student|instructor``,
``make student`` / ``make instructor``). A student executing their copy runs the whole chapter
and stops at the first exercise.
"""

from __future__ import annotations

import ast
import copy
import re
import shutil
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import project_root

__all__ = [
    "EDITIONS",
    "COLLAPSE_TAG",
    "EXERCISE_TAG",
    "ExerciseError",
    "SOLUTION_ONLY_TAG",
    "SOLUTION_TAG",
    "STARTER_MARK",
    "STUB_TAG",
    "Exercise",
    "build_edition",
    "chapter_sources",
    "check",
    "collapse_solutions",
    "exercises",
    "numbers",
    "solution_cells",
    "student_notebook",
    "stub_cells",
    "stub_source",
]

EXERCISE_TAG = "exercise"
SOLUTION_TAG = "solution"
SOLUTION_ONLY_TAG = "solution-only"
STUB_TAG = "exercise-stub"
STARTER_MARK = "# starter"
COLLAPSE_TAG = "hide-cell"
_FOLDED = ":class: dropdown"
_PROMPTS = {SOLUTION_TAG: ("Show the solution", "Hide the solution"),
            SOLUTION_ONLY_TAG: ("Show the discussion of the solution", "Hide the discussion")}
EDITIONS = ("student", "instructor")

_HEADING = re.compile(r"^\s*#{1,6}\s*Exercise\s+(\d+)\b", re.IGNORECASE)
_SECTION = re.compile(r"^\s*##\s+Exercises\s*$", re.MULTILINE)


class ExerciseError(ValueError):
    """A chapter's exercise cells break the convention; the message names the file and the cell."""


@dataclass
class Exercise:
    """One exercise of a notebook: its number, title and the indices of its cells."""

    number: int
    title: str
    cell: int
    solutions: list[int] = field(default_factory=list)
    solution_only: list[int] = field(default_factory=list)


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _where(name: str, index: int) -> str:
    return f"{name}, cell {index + 1}" if name else f"cell {index + 1}"


def exercises(nb: Any, name: str = "") -> list[Exercise]:
    """The exercises of ``nb`` in order; raises :class:`ExerciseError` on a malformed one.

    ``name`` (the file) only makes the messages precise.
    """
    out: list[Exercise] = []
    for i, cell in enumerate(nb.cells):
        tags = _tags(cell)
        marked = [t for t in (EXERCISE_TAG, SOLUTION_TAG, SOLUTION_ONLY_TAG) if t in tags]
        if len(marked) > 1:
            raise ExerciseError(f"{_where(name, i)} is tagged {marked}; a cell takes one of these tags")
        if EXERCISE_TAG in tags:
            if cell.cell_type != "markdown":
                raise ExerciseError(f"{_where(name, i)} is tagged '{EXERCISE_TAG}' but is a {cell.cell_type} cell; "
                                    "the question is a markdown cell")
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            m = _HEADING.match(first)
            expected = len(out) + 1
            if not m:
                raise ExerciseError(f"{_where(name, i)}: an exercise cell starts with the heading "
                                    f"'### Exercise {expected}: <title>', found {first!r}")
            if int(m.group(1)) != expected:
                raise ExerciseError(f"{_where(name, i)} is numbered {m.group(1)} but is exercise {expected} of the "
                                    f"chapter; renumber its heading to 'Exercise {expected}'")
            title = first[m.end():].strip(" :—–-.")
            out.append(Exercise(expected, title, i))
        elif SOLUTION_TAG in tags or SOLUTION_ONLY_TAG in tags:
            tag = SOLUTION_TAG if SOLUTION_TAG in tags else SOLUTION_ONLY_TAG
            if not out:
                raise ExerciseError(f"{_where(name, i)} is tagged '{tag}' before any cell tagged '{EXERCISE_TAG}'; "
                                    "put the question (a markdown cell tagged 'exercise') above it")
            if tag == SOLUTION_TAG:
                if cell.cell_type != "code":
                    raise ExerciseError(f"{_where(name, i)} is a {cell.cell_type} cell tagged '{SOLUTION_TAG}'; "
                                        f"solutions are code cells (tag narrative '{SOLUTION_ONLY_TAG}')")
                out[-1].solutions.append(i)
            else:
                out[-1].solution_only.append(i)
    for ex in out:
        if not ex.solutions:
            raise ExerciseError(f"{_where(name, ex.cell)}: exercise {ex.number} has no code cell tagged "
                                f"'{SOLUTION_TAG}' after it")
        between = range(ex.cell + 1, max(ex.solutions) + 1)
        stray = [j for j in between if j not in ex.solutions + ex.solution_only]
        if stray:
            raise ExerciseError(f"{_where(name, stray[0])} sits between exercise {ex.number} and its solution; "
                                f"tag it '{SOLUTION_ONLY_TAG}' or move it")
    return out


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a code cell assigns, names it reads before assigning them in the cell).

    An approximation in source order that suits notebook cells: IPython magics are skipped,
    function and comprehension scopes are flattened (their parameters and targets count as
    assigned from the start of the cell).
    """
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set(), set()
    loads: list[tuple[int, int, str]] = []
    stores: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        pos = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        if isinstance(node, ast.Name):
            (stores if isinstance(node.ctx, (ast.Store, ast.Del)) else loads).append((*pos, node.id))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.append((*pos, node.name))
        elif isinstance(node, ast.arg):
            stores.append((0, 0, node.arg))
        elif isinstance(node, ast.comprehension):
            stores += [(0, 0, n.id) for n in ast.walk(node.target) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                stores.append((*pos, (alias.asname or alias.name).split(".")[0]))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            stores.append((*pos, node.name))
    first_store: dict[str, tuple[int, int]] = {}
    for line, col, n in sorted(stores):
        first_store.setdefault(n, (line, col))
    free = {n for line, col, n in loads if n not in first_store or (line, col) < first_store[n]}
    return set(first_store), free


def check(nb: Any, name: str = "") -> list[Exercise]:
    """Check the convention (see the module docstring) and return the exercises.

    Besides what :func:`exercises` checks: the exercises follow a ``## Exercises`` heading, and
    no cell reads a name that only another exercise's solution cells assign.
    """
    exs = exercises(nb, name)
    if not exs:
        return exs
    first = exs[0].cell
    if not any(c.cell_type == "markdown" and _SECTION.search(c.source) for c in nb.cells[:first]):
        raise ExerciseError(f"{_where(name, first)}: the exercises must follow a markdown cell with the heading "
                            "'## Exercises'")
    owner: dict[int, int] = {}
    for ex in exs:
        for j in [ex.cell, *ex.solutions, *ex.solution_only]:
            owner[j] = ex.number
    code = {i: c for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    assigned_outside: set[str] = set()
    assigned_by: dict[int, set[str]] = {}
    for i, c in code.items():
        stored, _ = _names(c.source)
        if i in owner:
            assigned_by.setdefault(owner[i], set()).update(stored)
        else:
            assigned_outside |= stored
    # name -> the exercises whose solutions assign it, for names no other cell assigns
    only: dict[str, set[int]] = {}
    for k, names in assigned_by.items():
        for n in names - assigned_outside:
            only.setdefault(n, set()).add(k)
    for i, c in code.items():
        _, free = _names(c.source)
        mine = owner.get(i)
        for n in sorted(free):
            owners = only.get(n, set())
            if owners and mine not in owners:
                where = f"exercise {mine}" if mine else "a cell outside the exercises"
                raise ExerciseError(f"{_where(name, i)} ({where}) reads {n!r}, which only the solution of exercise "
                                    f"{min(owners)} assigns; the student edition has no solutions, so compute it in "
                                    "the cell that needs it (or before the exercises)")
    return exs


# ---------------------------------------------------------------------------------------------
# The student edition
# ---------------------------------------------------------------------------------------------
def stub_source(number: int, solution: str) -> str:
    """The student cell replacing one solution cell: starter lines as comments, then the raise."""
    starter = []
    for line in solution.splitlines():
        stripped = line.rstrip()
        if stripped.endswith(STARTER_MARK):
            starter.append(stripped[: -len(STARTER_MARK)].rstrip())
    starter = textwrap.dedent("\n".join(starter)).splitlines()  # a block marked inside an if/for starts at column 0
    head = [f"# Exercise {number}: your solution here."]
    if starter:
        head.append("# Starter code (uncomment and complete):")
        head += [f"# {ln}" if ln.strip() else "#" for ln in starter]
    return "\n".join(head + [f'raise NotImplementedError("Exercise {number}: write your solution here")'])


def student_notebook(nb: Any, name: str = "") -> Any:
    """A copy of ``nb`` with every solution replaced by a stub and solution-only cells dropped."""
    import nbformat

    exs = check(nb, name)
    number_of = {j: ex.number for ex in exs for j in ex.solutions}
    drop = {j for ex in exs for j in ex.solution_only}
    out = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(out.cells):
        if i in drop:
            continue
        if i in number_of:
            tags = [t for t in _tags(cell) if t != SOLUTION_TAG] + [STUB_TAG]
            stub = nbformat.v4.new_code_cell(stub_source(number_of[i], cell.source))
            stub.metadata = {k: v for k, v in cell.metadata.items() if k != "tags"}
            stub.metadata["tags"] = tags
            cell = stub
        cells.append(cell)
    out.cells = cells
    return out


# ---------------------------------------------------------------------------------------------
# Writing the editions
# ---------------------------------------------------------------------------------------------
def chapter_sources(root: str | Path | None = None) -> list[Path]:
    """The chapter sources ``notebooks/NN_*.py``, in order."""
    folder = Path(root or project_root()) / "notebooks"
    found = sorted(folder.glob("[0-9][0-9]_*.py"))
    if not found:
        raise FileNotFoundError(f"no chapter sources notebooks/NN_<name>.py in {folder}")
    return found


def build_edition(edition: str, sources: Iterable[str | Path] | None = None, *,
                  output_dir: str | Path | None = None) -> list[Path]:
    """Write the ``edition`` (``student`` or ``instructor``) of every source; return the files written.

    ``sources`` default to :func:`chapter_sources`; ``output_dir`` to ``_build/<edition>/`` of
    the project. Every source is checked before anything is written, so a malformed chapter
    leaves no half-built edition.
    """
    import jupytext

    if edition not in EDITIONS:
        raise ExerciseError(f"edition {edition!r} is not one of {list(EDITIONS)}")
    paths = [Path(p) for p in (sources if sources is not None else chapter_sources())]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"notebook source {p} not found")
        if p.suffix != ".py":
            raise ExerciseError(f"{p}: editions are built from the jupytext .py sources (notebooks/NN_<name>.py)")
    out_dir = Path(output_dir) if output_dir else project_root() / "_build" / edition
    books: list[tuple[Path, Any]] = []
    for p in paths:
        nb = jupytext.read(p)
        check(nb, p.name)
        books.append((p, student_notebook(nb, p.name) if edition == "student" else nb))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for p, nb in books:
        py, ipynb = out_dir / p.name, out_dir / f"{p.stem}.ipynb"
        if edition == "instructor":
            shutil.copyfile(p, py)
        else:
            jupytext.write(nb, py, fmt="py:percent")
        jupytext.write(nb, ipynb, fmt="ipynb")
        written += [ipynb, py]
    return written


def collapse_solutions(nb: Any) -> Any:
    """Tag every ``solution`` and ``solution-only`` cell of ``nb`` (in place) so that the rendered
    page shows it collapsed behind a button; return ``nb``.

    A cell gets the tag ``hide-cell`` (input and output folded together: the output of a
    solution gives its answer away) and the button texts of MyST-NB (``mystnb.code_prompt_show``
    and ``code_prompt_hide``); prompts a cell already sets are kept, and calling it twice changes
    nothing. Markdown cells cannot be folded by a tag, and the convention allows ``solution-only``
    markdown cells, so one is wrapped in an admonition of class ``dropdown`` instead (folded by
    sphinx-togglebutton, which the book's build loads).
    """
    for cell in nb.cells:
        tags = _tags(cell)
        kind = SOLUTION_TAG if SOLUTION_TAG in tags else SOLUTION_ONLY_TAG if SOLUTION_ONLY_TAG in tags else None
        if kind is None:
            continue
        show, hide = _PROMPTS[kind]
        if cell.cell_type == "markdown":
            if _FOLDED not in cell.source:
                longest = max((len(m) for m in re.findall(r"^\s*(:{3,})", cell.source, re.MULTILINE)), default=2)
                fence = ":" * max(4, longest + 1)
                cell.source = (f"{fence}{{admonition}} {show[len('Show '):].capitalize()}\n{_FOLDED}\n\n"
                               f"{cell.source}\n{fence}")
            continue
        meta = cell.setdefault("metadata", {})
        if COLLAPSE_TAG not in tags:
            meta["tags"] = tags + [COLLAPSE_TAG]
        prompts = meta.setdefault("mystnb", {})
        prompts.setdefault("code_prompt_show", show)
        prompts.setdefault("code_prompt_hide", hide)
    return nb


def solution_cells(nb: Any) -> list[int]:
    """Indices of the cells tagged ``solution``."""
    return [i for i, c in enumerate(nb.cells) if SOLUTION_TAG in _tags(c)]


def stub_cells(nb: Any) -> list[int]:
    """Indices of the student edition's stub cells."""
    return [i for i, c in enumerate(nb.cells) if STUB_TAG in _tags(c)]


def numbers(nb: Any) -> list[int]:
    """The exercise numbers of ``nb``, in order (a shortcut for tests and reports)."""
    return [ex.number for ex in exercises(nb)]
