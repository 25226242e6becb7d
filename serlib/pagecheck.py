"""The page check: what a reader of the built book must never see on a chapter page.

A chapter page is a notebook executed by ``serbook run`` and rendered by Sphinx. Whatever its code
cells print ends up on the page, so a stray ``print`` or a forgotten return value puts the book's
machinery in front of the reader. :func:`check_pages` reads the built HTML of every executed
chapter and names each spot of the following kinds (:data:`KINDS`):

``repr``
    An object's programmer-facing text in an output: ``PosixPath('…')``, ``Corpus(…)``,
    ``<… object at 0x…>``, ``<Figure size … with 1 Axes>``, a dataclass's ``Name(a=…, b=…)``,
    ``array([…])``, a data frame or series printed as text (its ``dtype:`` or
    ``[… rows x … columns]`` footer, or its aligned columns under a header line).
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
    A table cell that reads ``NaN``, ``None``, ``<NA>`` or ``...``, or a cell of a data frame left
    empty: a number the book does not have is written "—", and the table's caption says what a
    dash means.
``truncated``
    A data frame's cell whose text pandas cut short with ``...`` (its ``display.max_colwidth``).
``code name``
    A table header that is a programming identifier (``uar_aug``, ``svm_C``) instead of words. A table
    whose first header is "parameter" lists the names a reader passes with ``-p``; its row
    headers are exempt.
``figure``
    A figure in an output that is not a numbered, captioned figure with a name (mystnb ``figure``
    metadata with a ``caption`` and a ``name``).

The chapters' pages are read whole; the book's other pages (introduction, protocols, the manual)
have no outputs, and only their tables are read (a cell of literal code, such as a default of
``None`` in a table of options, is left alone there as in the chapters).

:func:`serlib.run.build_book` runs the check after every build and fails the build on any spot;
``serbook check-pages`` runs it on a built book; the test suite runs it on its strict smoke build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KINDS", "PageProblems", "Problem", "chapter_pages", "check_html", "check_pages", "format_problems",
           "other_pages"]

KINDS = ("repr", "log", "path", "empty", "parameters", "missing", "truncated", "code name", "figure")
"""The kinds of problem :func:`check_pages` names, in the order it reports them."""

CHAPTER_PAGES = "book/chapters"
"""Where the executed chapters' pages lie, relative to the built book's ``_build/html``."""

_REPR = re.compile(
    r"\b(?:PosixPath|WindowsPath|PurePosixPath|Corpus|Config|Namespace|Results|SweepResult)\("
    r"|<[\w.]+ object at 0x[0-9a-fA-F]+>"
    r"|<Figure size [\d.]+x[\d.]+ with \d+ Axes>"
    r"|<matplotlib\.[\w.]+ at 0x"
    r"|\bdtype: (?:float|int|object|bool|str|string|category)\w*"
    r"|\[\d+ rows x \d+ columns\]"
    r"|\b(?:array|tensor)\(\["
    r"|\b[A-Z]\w*\((?:[a-z_]\w*=[^,()]*, ){2,}")  # a dataclass: Name(a=1, b='x', …
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
_CODE_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[A-Za-z0-9]+)+")
_PRINTED_ROW = re.compile(r"\S+(?: {2,}\S+)+")
_CUT = re.compile(r"\w\.\.\.$")  # pandas' end of a cell cut at display.max_colwidth
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


def _printed_frame(text: str) -> str | None:
    """A data frame printed as text: a header line indented past the index, then aligned rows."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    for i in range(len(lines) - 2):
        if lines[i].startswith("  ") and _PRINTED_ROW.fullmatch(lines[i].strip()) and all(
                _PRINTED_ROW.fullmatch(row) for row in lines[i + 1:i + 3]):
            return "\n".join(lines[i:i + 3])
    return None


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
    if not any(p.kind == "repr" for p in problems):
        for pre in out.find_all("pre"):
            if (printed := _printed_frame(pre.get_text())) is not None:
                problems.append(Problem(page, "repr", "a table printed as text: " + _short(printed)))
                break
    visible = out.get_text(" ", strip=True)
    has_content = out.find(["img", "table", "svg", "figure", "math"]) is not None or out.select_one(".math")
    if visible in _EMPTY and not has_content and not out.find("script", attrs={"type": _WIDGET}):
        problems.append(Problem(page, "empty", visible or "(an empty output)"))
    for img in out.find_all("img"):
        fig = img.find_parent("figure")
        caption = fig.find("figcaption") if fig is not None else None
        if caption is None or not caption.get_text(strip=True):
            problems.append(Problem(page, "figure", "a figure without a numbered caption"))
        elif not fig.get("id") or caption.select_one(".caption-number") is None:
            problems.append(Problem(page, "figure", "a captioned figure without a name or number: "
                                    + _short(caption.get_text(" ", strip=True), 60)))
    return problems


def _table_problems(page: str, table) -> list[Problem]:
    problems: list[Problem] = []
    parameters = _is_parameter_table(table)
    frame = "dataframe" in (table.get("class") or [])
    for cell in table.find_all(["td", "th"]):
        if cell.find_parent("table") is not table:
            continue  # a table inside a cell is checked on its own
        text = cell.get_text(" ", strip=True)
        if cell.find("code") is not None and not "".join(
                s for s in cell.find_all(string=True) if s.find_parent("code") is None).strip():
            continue  # literal code: a name or a value as a reader types it
        if text.lower() in _MISSING:
            problems.append(Problem(page, "missing", f"a cell reading {text!r}" + _row(cell)))
        elif frame and cell.name == "td" and not text:
            problems.append(Problem(page, "missing", "an empty cell" + _row(cell)))
        elif frame and _CUT.search(text):
            problems.append(Problem(page, "truncated", f"a cell cut short: {_short(text, 60)!r}" + _row(cell)))
        if cell.name == "th" and _CODE_NAME.fullmatch(text) and cell.find("code") is None:
            row_header = cell.find_parent("tbody") is not None
            if not (parameters and row_header):
                problems.append(Problem(page, "code name", f"a header reading {text!r}"))
    return problems


def _row(cell) -> str:
    """`` in row '…'``: the header of the row a table cell is in, where it has one."""
    row = cell.find_parent("tr")
    head = row.find(["th", "td"]) if row is not None else None
    if head is None or head is cell:
        return ""
    label = head.get_text(" ", strip=True)
    return f" in row {_short(label, 40)!r}" if label else ""


def check_html(text: str, page: str = "page", *, tables_only: bool = False) -> list[Problem]:
    """Every problem on one built page (its HTML ``text``), named with ``page``; ``tables_only``
    reads the page's tables and nothing else (a page of prose, whose text is the book's own)."""
    soup = _soup(text)
    problems: list[Problem] = []
    if not tables_only:
        for _shown in soup.select("div.cell.tag_injected-parameters"):
            problems.append(Problem(page, "parameters", "papermill's injected-parameters cell is shown"))
        for out in soup.select("div.cell_output"):
            problems.extend(_output_problems(page, out))
    for table in soup.find_all("table"):
        if "highlighttable" in (table.get("class") or []):
            continue  # a code listing's line numbers
        problems.extend(_table_problems(page, table))
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(problems, key=lambda p: order[p.kind])


def chapter_pages(html_dir: str | Path) -> list[Path]:
    """The built pages of the executed chapters under ``html_dir`` (a ``_build/html`` folder)."""
    folder = Path(html_dir) / CHAPTER_PAGES
    if not folder.is_dir():
        raise FileNotFoundError(f"no chapter pages in {folder}: build the book first (make book)")
    return sorted(folder.glob("*.html"))


_SPHINX_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
"""Pages Sphinx writes by itself: nothing of the book's to check."""


def other_pages(html_dir: str | Path) -> list[Path]:
    """The built book's pages that are not chapters (introduction, protocols, the manual), less
    Sphinx's own pages and folders (``_static``, ``_sources``, the index of terms, the search)."""
    html_dir = Path(html_dir)
    chapters = set(chapter_pages(html_dir))
    return sorted(p for p in html_dir.rglob("*.html") if p not in chapters and p.name not in _SPHINX_PAGES
                  and not any(part.startswith("_") for part in p.relative_to(html_dir).parts[:-1]))


def check_pages(html_dir: str | Path) -> list[Problem]:
    """Every problem on the built book in ``html_dir``: every executed chapter's page whole, then
    the tables of the book's other pages (:func:`other_pages`)."""
    html_dir = Path(html_dir)
    problems: list[Problem] = []
    for path in chapter_pages(html_dir):
        problems.extend(check_html(path.read_text(encoding="utf-8"), path.relative_to(html_dir).as_posix()))
    for path in other_pages(html_dir):
        problems.extend(check_html(path.read_text(encoding="utf-8"), path.relative_to(html_dir).as_posix(),
                                   tables_only=True))
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
