"""Building the book for the tests: a temporary copy of its sources, every toc chapter executed.

:func:`build_book_copy` copies ``_config.yml``, ``_toc.yml``, ``book/`` (less any executed
chapters) and the notebook sources into a folder, executes the toc's chapters in the ``smoke``
profile and builds the HTML book there. The strict build of the whole book (``-W -n``: every
Sphinx warning, every unresolved reference fails) is made once per test session by the
``strict_book`` fixture of ``tests/conftest.py`` and shared by ``tests/test_online.py`` (the
build itself, its links and metadata) and ``tests/test_browser.py`` (its pages in Chromium). Its
chapters are the session's smoke runs (:class:`SmokeChapters`, the ``smoke_chapters`` fixture),
which the chapters' own smoke tests check too: each chapter is executed once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import yaml

from serlib.config import project_root
from serlib.run import BOOK_CHAPTERS, _declared_parameters, execute, toc_entries, toc_notebooks

ROOT = project_root()


def toc_files(toc: Any) -> list[str]:
    """Every ``root`` and ``file`` entry of a toc, in reading order."""
    return toc_entries(toc, ("root", "file"))


USING_PART = "Using serbook"
"""The caption of the toc part that is the book's manual (``book/using/``); README points into it."""


def part_files(toc: Any, caption: str) -> list[str]:
    """The ``file`` entries of the toc part captioned ``caption``, in reading order (empty if none)."""
    return [f for part in toc.get("parts", []) if part.get("caption") == caption
            for f in toc_entries(part, ("file",))]


def toc_pages(toc: Any) -> list[str]:
    """The HTML page (relative to ``_build/html``) of every toc entry, in reading order."""
    return [f"{f.removesuffix('.md').removesuffix('.ipynb')}.html" for f in toc_files(toc)]


def book_pages(html: Path) -> list[str]:
    """Every HTML page of a built book, relative to ``html`` (Sphinx's own folders left out)."""
    pages = [p.relative_to(html).as_posix() for p in html.rglob("*.html")]
    return sorted(p for p in pages if not p.split("/")[0].startswith("_"))


def copy_book_sources(dest: Path, toc: dict[str, Any] | None = None) -> None:
    """Copy ``_config.yml``, ``_toc.yml`` (or ``toc``), ``book/`` (less any executed chapters) and the
    notebook sources, which the chapters offer for download, to ``dest``; the chapters folder is
    made, empty."""
    shutil.copy2(ROOT / "_config.yml", dest / "_config.yml")
    chapters_src = ROOT / BOOK_CHAPTERS
    shutil.copytree(ROOT / "book", dest / "book",
                    ignore=lambda folder, names: names if Path(folder) == chapters_src else [])
    if toc is None:
        shutil.copy2(ROOT / "_toc.yml", dest / "_toc.yml")
    else:
        (dest / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    (dest / "notebooks").mkdir()
    for src in (ROOT / "notebooks").glob("*.py"):  # the chapters link their jupytext sources for download
        shutil.copy2(src, dest / "notebooks" / src.name)
    (dest / BOOK_CHAPTERS).mkdir(parents=True, exist_ok=True)


def execute_smoke(src: Path, dest: Path) -> Path:
    """Execute the chapter ``src`` in the smoke profile into ``dest``'s chapters folder, as the book
    build does (a chapter that reads the others' saved results is pointed at that folder); returns
    the executed ``.ipynb``."""
    chapters = dest / BOOK_CHAPTERS
    params: dict[str, Any] = {"profile": "smoke"}
    if "chapters_dir" in (_declared_parameters(jupytext.read(src)) or set()):
        params["chapters_dir"] = str(chapters)  # a chapter that reads the others' saved results
    level_before = os.environ.get("SERLIB_LOGLEVEL")
    os.environ["SERLIB_LOGLEVEL"] = "WARNING"  # as `serbook book` runs the chapters: no progress messages
    try:
        return execute(src, params, output_dir=chapters, progress=False)
    finally:
        if level_before is None:
            os.environ.pop("SERLIB_LOGLEVEL", None)
        else:
            os.environ["SERLIB_LOGLEVEL"] = level_before


def run_jupyter_book(dest: Path, strict: bool = True) -> Path:
    """``jupyter-book build`` of the copy in ``dest`` (``-W -n`` when ``strict``); returns ``dest/_build/html``."""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb)] if jb.exists() else [sys.executable, "-m", "jupyter_book"]
    cmd += ["build", str(dest), "--builder", "html"] + (["-W", "-n", "--keep-going"] if strict else [])
    proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return dest / "_build" / "html"


def build_book_copy(dest: Path, toc: dict[str, Any] | None = None, strict: bool = True) -> Path:
    """Copy the book's sources to ``dest``, execute the toc's chapters (smoke), build strictly.

    The copy holds ``_config.yml``, ``_toc.yml``, ``book/`` (less any executed chapters) and the
    notebook sources, which the chapters offer for download.

    ``toc`` replaces ``_toc.yml`` in the copy (default: the project's). ``strict=False`` lets warnings
    pass (a partial toc leaves the prose pages' links to the other chapters unresolved). Returns
    ``dest/_build/html``.
    """
    copy_book_sources(dest, toc)
    for src in toc_notebooks(dest / "_toc.yml"):
        execute_smoke(src, dest)
    return run_jupyter_book(dest, strict)


class SmokeChapters:
    """The book's chapters executed in the smoke profile, each at most once per test session.

    The chapters run in a copy of the book's sources (:func:`copy_book_sources`), into its chapters
    folder, exactly as :func:`build_book_copy` runs them, so the strict book build uses the very runs
    that the chapters' own tests (``test_notebook_smoke``) and the resume test check, instead of
    executing each chapter again. A chapter that reads the others' saved results (``chapters_dir``)
    runs after every chapter before it in the toc.
    """

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        copy_book_sources(dest)
        self.sources = {src.stem: src for src in toc_notebooks(dest / "_toc.yml")}
        self.order = list(self.sources)
        self.done: dict[str, Path] = {}
        self.seconds: dict[str, float] = {}
        """Wall-clock time of each chapter's run."""

    def run(self, stem: str) -> Path:
        """The executed ``.ipynb`` of chapter ``stem`` (its tables in ``<stem>.results`` beside it)."""
        if stem not in self.done:
            if stem not in self.order:
                raise KeyError(f"{stem} is not a chapter of _toc.yml: {self.order}")
            src = self.sources[stem]
            if "chapters_dir" in (_declared_parameters(jupytext.read(src)) or set()):
                for before in self.order[:self.order.index(stem)]:
                    self.run(before)
            start = time.monotonic()
            self.done[stem] = execute_smoke(src, self.dest)
            self.seconds[stem] = time.monotonic() - start
        return self.done[stem]

    def results(self, stem: str) -> Path:
        """The ``.results`` folder of chapter ``stem``'s smoke run (run if not yet)."""
        return self.run(stem).with_suffix(".results")


@dataclass(frozen=True)
class BuiltBook:
    """A book built by :func:`build_strict_book`."""

    html: Path
    """``_build/html`` of the copy."""
    toc: dict[str, Any]
    """The copy's ``_toc.yml``, read."""
    seconds: float
    """Wall-clock time of the chapters' execution (whichever test asked for each first) and the build
    together."""

    @property
    def source(self) -> Path:
        """The folder the book was built from (its ``_toc.yml``, ``book/``, ``notebooks/``)."""
        return self.html.parent.parent


def build_strict_book(chapters: SmokeChapters) -> BuiltBook:
    """The whole book, every toc chapter executed in the smoke profile (the session's runs of
    ``chapters``, made now where a test has not asked for them yet), built with ``-W -n``."""
    for stem in chapters.order:
        chapters.run(stem)
    start = time.monotonic()
    html = run_jupyter_book(chapters.dest, strict=True)
    seconds = sum(chapters.seconds[stem] for stem in chapters.order) + time.monotonic() - start
    return BuiltBook(html, yaml.safe_load((chapters.dest / "_toc.yml").read_text()), seconds)


class BuildTimeNote:
    """Names the strict build's time in pytest's closing summary (under pytest-xdist the worker that
    built the book hands the figures to the controlling process, which prints the summary)."""

    def __init__(self, seconds: float, source: Path | str) -> None:
        self.seconds = seconds
        self.source = source

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(f"strict book build (every chapter executed, smoke profile): "
                                    f"{self.seconds:.0f} s, in {self.source}")
