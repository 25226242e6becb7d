"""Building the book for the tests: a temporary copy of its sources, every toc chapter executed.

:func:`build_book_copy` copies ``_config.yml``, ``_toc.yml``, ``book/`` (less any executed
chapters) and the notebook sources into a folder, executes the toc's chapters in the ``smoke``
profile and builds the HTML book there. The strict build of the whole book (``-W -n``: every
Sphinx warning, every unresolved reference fails) is made once per test session by the
``strict_book`` fixture of ``tests/conftest.py`` and shared by ``tests/test_online.py`` (the
build itself, its links and metadata) and ``tests/test_browser.py`` (its pages in Chromium).
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


def build_book_copy(dest: Path, toc: dict[str, Any] | None = None, strict: bool = True) -> Path:
    """Copy the book's sources to ``dest``, execute the toc's chapters (smoke), build strictly.

    The copy holds ``_config.yml``, ``_toc.yml``, ``book/`` (less any executed chapters) and the
    notebook sources, which the chapters offer for download.

    ``toc`` replaces ``_toc.yml`` in the copy (default: the project's). ``strict=False`` lets warnings
    pass (a partial toc leaves the prose pages' links to the other chapters unresolved). Returns
    ``dest/_build/html``.
    """
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
    chapters = dest / BOOK_CHAPTERS
    chapters.mkdir(parents=True, exist_ok=True)
    level_before = os.environ.get("SERLIB_LOGLEVEL")
    os.environ["SERLIB_LOGLEVEL"] = "WARNING"  # as `serbook book` runs the chapters: no progress messages
    try:
        for src in toc_notebooks(dest / "_toc.yml"):
            params: dict[str, Any] = {"profile": "smoke"}
            if "chapters_dir" in (_declared_parameters(jupytext.read(src)) or set()):
                params["chapters_dir"] = str(chapters)  # a chapter that reads the others' saved results
            execute(src, params, output_dir=chapters, progress=False)
    finally:
        if level_before is None:
            os.environ.pop("SERLIB_LOGLEVEL", None)
        else:
            os.environ["SERLIB_LOGLEVEL"] = level_before
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb)] if jb.exists() else [sys.executable, "-m", "jupyter_book"]
    cmd += ["build", str(dest), "--builder", "html"] + (["-W", "-n", "--keep-going"] if strict else [])
    proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return dest / "_build" / "html"


@dataclass(frozen=True)
class BuiltBook:
    """A book built by :func:`build_strict_book`."""

    html: Path
    """``_build/html`` of the copy."""
    toc: dict[str, Any]
    """The copy's ``_toc.yml``, read."""
    seconds: float
    """Wall-clock time of the chapters' execution and the build together."""

    @property
    def source(self) -> Path:
        """The folder the book was built from (its ``_toc.yml``, ``book/``, ``notebooks/``)."""
        return self.html.parent.parent


def build_strict_book(dest: Path) -> BuiltBook:
    """The whole book, every toc chapter executed in the smoke profile, built with ``-W -n``."""
    start = time.monotonic()
    html = build_book_copy(dest)
    return BuiltBook(html, yaml.safe_load((dest / "_toc.yml").read_text()), time.monotonic() - start)


class BuildTimeNote:
    """Names the strict build's time in pytest's closing summary."""

    def __init__(self, book: BuiltBook) -> None:
        self.book = book

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(f"strict book build (every chapter executed, smoke profile): "
                                    f"{self.book.seconds:.0f} s, in {self.book.source}")
