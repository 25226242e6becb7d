"""The page check: what a reader of the built book must never see on a chapter page.

A chapter page is a notebook executed by ``serbook run`` and rendered by Sphinx. Whatever its code
cells print ends up on the page, so a stray ``print`` or a forgotten return value puts the book's
machinery in front of the reader. :func:`check_pages` reads the built HTML of every executed
chapter and names each spot of the following kinds (:data:`KINDS`):

``repr``
    An object's programmer-facing text in an output: ``PosixPath('…')``, ``Corpus(…)``,
    ``<… object at 0x…>``, ``<Figure size … with 1 Axes>``, a pandas ``dtype:`` footer.
``log``
    A log line or progress bar in an output: ``[serlib.…]``, ``INFO:``/``WARNING:`` prefixes, tqdm
    bars, anything written to standard error, and progress widgets (which render as nothing).
``path``
    A path of the machine that built the book: a home, temporary or cache folder.
``empty``
    An output with nothing to read: ``[]``, ``None``, ``{}`` or an empty box.
``parameters``
    papermill's injected-parameters cell, shown instead of removed (the chapter's parameters table
    says what was set).
``missing``
    A table cell that reads ``NaN``, ``None``, ``<NA>`` or ``...``: a number the book does not have
    is written "—", and the table's caption says what a dash means.
``code name``
    A table header that is a programming identifier (``uar_aug``) instead of words. A table
    whose first header is "parameter" lists the names a reader passes with ``-p``; its row
    headers are exempt.
``figure``
    A figure in an output that is not a numbered, captioned figure (mystnb ``figure`` metadata
    with a ``caption`` and a ``name``).

:func:`serlib.run.build_book` runs the check after every build and fails the build on any spot;
``serbook pages check`` runs it on a built book; the test suite runs it on its strict smoke build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KINDS", "PageProblems", "Problem", "check_html", "check_pages", "chapter_pages", "format_problems"]

KINDS = ("repr", "log", "path", "empty", "parameters", "missing", "code name", "figure")
"""The kinds of problem :func:`check_pages` names, in the order it reports them."""

CHAPTER_PAGES = "book/chapters"
"""Where the executed chapters' pages lie, relative to the built book's ``_build/html``."""

_REPR = re.compile(
    r"\b(?:PosixPath|WindowsPath|PurePosixPath|Corpus|Config|Namespace|Results|SweepResult)\("
    r"|<[\w.]+ object at 0x[0-9a-fA-F]+>"
    r"|<Figure size [\d.]+x[\d.]+ with \d+ Axes>"
    r"|<matplotlib\.[\w.]+ at 0x"
    r"|\bdtype: (?:float|int|object|bool|str|string|category)\w*")
_LOG = re.compile(
    r"^\s*\[serlib[.\]]"
    r"|^\s*\[?(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\]?\s*[:|]"
    r"|\d+%\|[^|]*\|"
    r"|\b\d+(?:\.\d+)?(?:it|s)/(?:s|it)\]"
    r"|^\s*Executing:", re.MULTILINE)
_PATH = re.compile(r"(?:^|[\s'\"(=:])(?:/home/|/tmp/|/root/|/Users/|/var/folders/|/work/|[A-Z]:\\\\Users\\\\)"
                   r"|\.cache/serlib|\w\.results/")
_EMPTY = {"", "[]", "None", "{}", "()", "''", '""'}
_MISSING = {"nan", "none", "<na>", "nat", "...", "…", "null"}
_CODE_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_WIDGET = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class Problem:
    """One spot on one page."""

    page: str
    """The page, relative to the built book's ``_build/html``."""
    kind: str
    """One of :data:`KINDS`."""
    excerpt: str
    """The offending text, shortened to a line."""


class PageProblems(RuntimeError):
    """Raised by :func:`serlib.run.build_book` when a built page shows what a reader should not see."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(format_problems(problems))


def _soup(text: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(text, "html.parser")


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _is_parameter_table(table) -> bool:
    for row in table.select("thead tr"):
        first = row.find("th")
        if first is not None and first.get_text(" ", strip=True).lower() == "parameter":
            return True
    return False


def _output_problems(page: str, out) -> list[Problem]:
    problems: list[Problem] = []
    if out.find("script", attrs={"type": _WIDGET}):
        problems.append(Problem(page, "log", "a progress widget (renders as an empty box)"))
    for err in out.select(".stderr, .output.stderr, div.stderr"):
        problems.append(Problem(page, "log", "standard error: " + _short(err.get_text(" ", strip=True))))
    # the text a reader sees, less tables (checked cell by cell) and less figures' captions
    text_parts = []
    for pre in out.find_all("pre"):
        text_parts.append(pre.get_text())
    for piece in out.find_all(string=True):
        if piece.find_parent(["pre", "table", "figcaption", "script", "style"]) is None:
            text_parts.append(str(piece))
    text = "\n".join(text_parts)
    for kind, pattern in (("repr", _REPR), ("log", _LOG), ("path", _PATH)):
        m = pattern.search(text)
        if m:
            start = max(0, m.start() - 30)
            problems.append(Problem(page, kind, _short(text[start: m.end() + 50])))
    visible = out.get_text(" ", strip=True)
    has_content = out.find(["img", "table", "svg", "figure", "math"]) is not None or out.select_one(".math")
    if visible in _EMPTY and not has_content and not out.find("script", attrs={"type": _WIDGET}):
        problems.append(Problem(page, "empty", visible or "(an empty output)"))
    for img in out.find_all("img"):
        fig = img.find_parent("figure")
        caption = fig.find("figcaption") if fig is not None else None
        if caption is None or not caption.get_text(strip=True):
            problems.append(Problem(page, "figure", "a figure without a numbered caption"))
    return problems


def _table_problems(page: str, table) -> list[Problem]:
    problems: list[Problem] = []
    parameters = _is_parameter_table(table)
    for cell in table.find_all(["td", "th"]):
        text = cell.get_text(" ", strip=True)
        if text.lower() in _MISSING:
            problems.append(Problem(page, "missing", f"a cell reading {text!r}"))
        if cell.name == "th" and _CODE_NAME.fullmatch(text) and cell.find("code") is None:
            row_header = cell.find_parent("tbody") is not None
            if not (parameters and row_header):
                problems.append(Problem(page, "code name", f"a header reading {text!r}"))
    return problems


def check_html(text: str, page: str = "page") -> list[Problem]:
    """Every problem on one built page (its HTML ``text``), named with ``page``."""
    soup = _soup(text)
    problems: list[Problem] = []
    for _shown in soup.select("div.cell.tag_injected-parameters"):
        problems.append(Problem(page, "parameters", "papermill's injected-parameters cell is shown"))
    for out in soup.select("div.cell_output"):
        problems.extend(_output_problems(page, out))
    for table in soup.find_all("table"):
        problems.extend(_table_problems(page, table))
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(problems, key=lambda p: order[p.kind])


def chapter_pages(html_dir: str | Path) -> list[Path]:
    """The built pages of the executed chapters under ``html_dir`` (a ``_build/html`` folder)."""
    folder = Path(html_dir) / CHAPTER_PAGES
    if not folder.is_dir():
        raise FileNotFoundError(f"no chapter pages in {folder}: build the book first (make book)")
    return sorted(folder.glob("*.html"))


def check_pages(html_dir: str | Path) -> list[Problem]:
    """Every problem on every executed chapter's page of the built book in ``html_dir``."""
    html_dir = Path(html_dir)
    problems: list[Problem] = []
    for path in chapter_pages(html_dir):
        problems.extend(check_html(path.read_text(encoding="utf-8"), path.relative_to(html_dir).as_posix()))
    return problems


def format_problems(problems: list[Problem], limit: int = 40) -> str:
    """The problems as lines a reader can act on: page, kind and the offending text."""
    if not problems:
        return "the page check found nothing a reader should not see"
    counts: dict[str, int] = {}
    for p in problems:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    head = (f"the page check found {len(problems)} spot(s) a reader should not see ("
            + ", ".join(f"{n} {k}" for k, n in counts.items()) + "):")
    lines = [f"  {p.page}: {p.kind}: {p.excerpt}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  … and {len(problems) - limit} more")
    lines.append("Fix them where the chapter's code prints them (see book/using/testing.md, 'The page check').")
    return "\n".join([head] + lines)
