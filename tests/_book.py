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

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import yaml
from filelock import FileLock

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


def execute_smoke(src: Path, dest: Path, extra: dict[str, Any] | None = None, session: Any = None) -> Path:
    """Execute the chapter ``src`` in the smoke profile (and the parameters ``extra``) into ``dest``'s
    chapters folder, as the book build does (a chapter that reads the others' saved results is
    pointed at that folder), in a kernel of its own or the :class:`serlib.run.KernelSession`
    ``session``; returns the executed ``.ipynb``."""
    chapters = dest / BOOK_CHAPTERS
    params: dict[str, Any] = {"profile": "smoke", **(extra or {})}
    if "chapters_dir" in (_declared_parameters(jupytext.read(src)) or set()):
        params["chapters_dir"] = str(chapters)  # a chapter that reads the others' saved results
    level_before = os.environ.get("SERLIB_LOGLEVEL")
    os.environ["SERLIB_LOGLEVEL"] = "WARNING"  # as `serbook book` runs the chapters: no progress messages
    try:
        return execute(src, params, output_dir=chapters, progress=False, session=session)
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


def build_book_copy(dest: Path, toc: dict[str, Any] | None = None, strict: bool = True,
                    extra: dict[str, Any] | None = None, session: Any = None) -> Path:
    """Copy the book's sources to ``dest``, execute the toc's chapters (smoke), build strictly.

    The copy holds ``_config.yml``, ``_toc.yml``, ``book/`` (less any executed chapters) and the
    notebook sources, which the chapters offer for download.

    ``toc`` replaces ``_toc.yml`` in the copy (default: the project's). ``strict=False`` lets warnings
    pass (a partial toc leaves the prose pages' links to the other chapters unresolved). ``extra``
    adds parameters to every chapter's run (a test of a page's structure may train for less);
    ``session`` lends the chapters a :class:`serlib.run.KernelSession`.
    Returns ``dest/_build/html``.
    """
    copy_book_sources(dest, toc)
    for src in toc_notebooks(dest / "_toc.yml"):
        execute_smoke(src, dest, extra, session)
    return run_jupyter_book(dest, strict)


def session_id() -> str:
    """One id per test session, the same in every pytest-xdist worker of it (xdist's run uid; a
    plain session makes its own)."""
    global _SESSION_ID
    if _SESSION_ID is None:
        _SESSION_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    return _SESSION_ID


_SESSION_ID: str | None = None


class SmokeChapters:
    """The book's chapters executed in the smoke profile, each at most once per test session.

    The chapters run in a copy of the book's sources (:func:`copy_book_sources`), into its chapters
    folder, exactly as :func:`build_book_copy` runs them, so the strict book build uses the very runs
    that the chapters' own tests (``test_notebook_smoke``) and the resume test check, instead of
    executing each chapter again. A chapter that reads the others' saved results (``chapters_dir``)
    runs after every chapter before it in the toc.

    The folder may be shared by the worker processes of one pytest-xdist session: the first worker
    to need a chapter executes it while holding that chapter's file lock, and a marker file names
    the session that made it, so every other worker of the session waits for it and then reads the
    same run (a marker of another session, e.g. of the last ``make test``, is ignored and the
    folder made anew).
    """

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(dest) + ".lock"):
            marker = dest / ".serbook-session"
            if not (marker.is_file() and marker.read_text() == session_id()):
                if dest.exists():  # an earlier session's copy
                    shutil.rmtree(dest)
                dest.mkdir(parents=True)
                copy_book_sources(dest)
                marker.write_text(session_id())
        self.sources = {src.stem: src for src in toc_notebooks(dest / "_toc.yml")}
        self.order = list(self.sources)
        self.done: dict[str, Path] = {}
        self.seconds: dict[str, float] = {}
        """Wall-clock time of each chapter's run (in whichever worker made it)."""

    def run(self, stem: str) -> Path:
        """The executed ``.ipynb`` of chapter ``stem`` (its tables in ``<stem>.results`` beside it)."""
        if stem not in self.done:
            if stem not in self.order:
                raise KeyError(f"{stem} is not a chapter of _toc.yml: {self.order}")
            src = self.sources[stem]
            if "chapters_dir" in (_declared_parameters(jupytext.read(src)) or set()):
                for before in self.order[:self.order.index(stem)]:
                    self.run(before)
            with FileLock(str(self.dest / f".{stem}.lock")):
                marker = self.dest / f".{stem}.done"
                made = json.loads(marker.read_text()) if marker.is_file() else {}
                if made.get("session") == session_id():  # another worker of this session ran it
                    self.done[stem] = Path(made["notebook"])
                    self.seconds[stem] = float(made["seconds"])
                else:
                    start = time.monotonic()
                    self.done[stem] = execute_smoke(src, self.dest)
                    self.seconds[stem] = time.monotonic() - start
                    marker.write_text(json.dumps({"session": session_id(), "notebook": str(self.done[stem]),
                                                  "seconds": self.seconds[stem]}))
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
    ``chapters``, made now where no test has asked for them yet), built with ``-W -n``: once per
    session, by the first worker to ask; the others wait for it and share the build."""
    for stem in chapters.order:
        chapters.run(stem)
    dest = chapters.dest
    with FileLock(str(dest / ".build.lock")):
        marker = dest / ".build.done"
        made = json.loads(marker.read_text()) if marker.is_file() else {}
        if made.get("session") == session_id():
            build = float(made["seconds"])
        else:
            start = time.monotonic()
            run_jupyter_book(dest, strict=True)
            build = time.monotonic() - start
            marker.write_text(json.dumps({"session": session_id(), "seconds": build}))
    seconds = sum(chapters.seconds[stem] for stem in chapters.order) + build
    return BuiltBook(dest / "_build" / "html", yaml.safe_load((dest / "_toc.yml").read_text()), seconds)


SHARED_BOOK = "SERBOOK_TEST_BOOK"
"""Environment variable naming a folder for the session's strict build (instead of a temporary one):
the session makes the book there anew and stamps it with :func:`sources_key` once it is built."""
REUSE_BOOK = "SERBOOK_TEST_BOOK_REUSE"
"""Set to ``1``, a session reuses the strict build stamped in ``SERBOOK_TEST_BOOK`` when the stamp's
key is this tree's (``make test`` runs the browser tests in a second process, beside the suite)."""
WAIT_FOR = "SERBOOK_TEST_BOOK_WAIT_PID"
"""The process id of a test session that is building the strict book: a session that may reuse it
(``SERBOOK_TEST_BOOK_REUSE=1``) waits for its stamp while that process runs, instead of building
the book itself (``make test`` starts the browser tests beside the suite, which builds it)."""
STAMP = ".serbook-test-book.json"

KEY_SOURCES = ("_config.yml", "_toc.yml", "pyproject.toml", "book", "notebooks", "serlib", "tests/_book.py")


def sources_key(root: Path = ROOT) -> str:
    """SHA-256 over the paths and contents of every file the strict build reads (the book's sources,
    the chapters, serlib and this module), so a stamped build is reused only for the very same tree."""
    h = hashlib.sha256()
    outputs = BOOK_CHAPTERS.as_posix() + "/"
    for name in KEY_SOURCES:
        top = root / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            rel = f.relative_to(root).as_posix()
            if rel.startswith(outputs) or "__pycache__" in rel or rel.endswith(".pyc"):
                continue  # executed chapters and bytecode are outputs, not sources
            h.update(rel.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def shared_book_folder() -> Path | None:
    """The folder named by ``SERBOOK_TEST_BOOK``, or ``None`` (a temporary folder is used)."""
    folder = os.environ.get(SHARED_BOOK)
    return Path(folder).resolve() if folder else None


def stamp_book(book: BuiltBook) -> None:
    """Write the stamp that lets a later session reuse ``book`` (see :data:`REUSE_BOOK`)."""
    tmp = book.source / f"{STAMP}.tmp"  # whole or absent: a session beside this one may be waiting for it
    tmp.write_text(json.dumps({"key": sources_key(), "seconds": book.seconds}))
    tmp.replace(book.source / STAMP)


def _running(pid: int) -> bool:
    """Whether the process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def reusable_book() -> BuiltBook | None:
    """The stamped strict build in ``SERBOOK_TEST_BOOK`` when ``SERBOOK_TEST_BOOK_REUSE=1`` and its key
    is this tree's; else ``None`` (the session builds its own). With ``SERBOOK_TEST_BOOK_WAIT_PID``,
    a build that is not there yet is waited for while that process runs."""
    folder = shared_book_folder()
    if folder is None or os.environ.get(REUSE_BOOK) != "1":
        return None
    builder = int(os.environ.get(WAIT_FOR) or 0)
    key = sources_key()
    book = _stamped_book(folder, key)
    while book is None and builder and _running(builder):
        time.sleep(2)
        book = _stamped_book(folder, key)
    return book


def _stamped_book(folder: Path, key: str) -> BuiltBook | None:
    """The strict build stamped in ``folder`` with the sources key ``key``, or ``None``."""
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):  # not there (yet), or being written
        return None
    html = folder / "_build" / "html"
    if stamp.get("key") != key or not html.is_dir():
        return None
    return BuiltBook(html, yaml.safe_load((folder / "_toc.yml").read_text()), float(stamp["seconds"]))


class BuildTimeNote:
    """Names the strict build's time in pytest's closing summary (under pytest-xdist the worker that
    built the book hands the figures to the controlling process, which prints the summary)."""

    def __init__(self, seconds: float, source: Path | str, reused: bool = False) -> None:
        self.seconds = seconds
        self.source = source
        self.reused = reused

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(f"strict book build (every chapter executed, smoke profile): "
                                    f"{self.seconds:.0f} s, in {self.source}" + (" (reused)" if self.reused else ""))
