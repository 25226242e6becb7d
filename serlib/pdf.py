"""The whole book as one PDF, printed offline by headless Chromium.

``serbook pdf`` (``make pdf``) renders the chapters that ``serbook book`` already executed into
``book/chapters/`` — it executes nothing — as a single HTML page (Sphinx's ``singlehtml`` builder,
through ``jupyter-book build --builder singlehtml``, strict like the HTML book), lets headless
Chromium load that page from disk with the book's own MathJax (``book/_static/mathjax``), and
prints it to ``_build/pdf/serbook.pdf``: A4 pages without the browser's header and footer, a
page break before every chapter, and the headings as the PDF's outline (its bookmarks). How the
page is laid out on paper is the ``@media print`` part of ``book/_static/serbook.css``.

When the HTML book has been built (``_build/html/index.html``), the PDF is also copied to
``_build/html/serbook.pdf``, where the intro page, the "Publishing the book" page and every page's
download menu link it, so that the published site carries it.

Chromium (``chromium``, ``chromium-browser`` or ``google-chrome``) must be installed; without it
the command stops and says what to install. Afterwards the PDF is checked: it must be a PDF
(``%PDF``), and when the page holds maths, MathJax's fonts must be embedded in it — a PDF printed
before MathJax typeset the page is an error, not a result.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .config import get_logger, project_root

__all__ = ["BROWSERS", "INSTALL_HINT", "PDF_NAME", "PdfError", "build_pdf", "find_chromium", "pdf_facts"]

log = get_logger("pdf")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""The Chromium binaries looked for on ``PATH``, in this order."""

INSTALL_HINT = ("no Chromium binary found on PATH (looked for " + ", ".join(BROWSERS) + "); install one, "
                "e.g. `sudo apt-get install chromium` on Debian/Ubuntu")

PDF_NAME = "serbook.pdf"
"""The PDF's file name, in ``_build/pdf/`` and at the top of the built site (``_build/html/``)."""

VIRTUAL_TIME_MS = 60_000
"""How much virtual time Chromium gives the page to load and typeset before printing (ms). Virtual
time runs as fast as the page lets it: a page that settles sooner is printed sooner."""

CHROMIUM_TIMEOUT_S = 900
"""Wall-clock limit of the Chromium run (s)."""


class PdfError(RuntimeError):
    """The PDF could not be built; the message says why and what to do."""


def find_chromium() -> str | None:
    """The first Chromium binary of :data:`BROWSERS` on ``PATH``, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _jupyter_book() -> list[str]:
    jb = Path(sys.executable).with_name("jupyter-book")
    return [str(jb)] if jb.exists() else [sys.executable, "-m", "jupyter_book"]


def _toc(root: Path) -> dict:
    import yaml

    toc_file = root / "_toc.yml"
    if not toc_file.exists():
        raise FileNotFoundError(f"{toc_file} does not exist: the book's table of contents is needed")
    return yaml.safe_load(toc_file.read_text())


def _unexecuted(root: Path, toc: dict) -> list[str]:
    """The toc's chapters (``book/chapters/<stem>``) whose executed notebook is missing."""
    from .run import BOOK_CHAPTERS, toc_entries

    files = [Path(f) for f in toc_entries(toc, ("file",))]
    return [f.as_posix() for f in files
            if f.parent == BOOK_CHAPTERS and not (root / f.with_suffix(".ipynb")).exists()]


def pdf_facts(pdf: Path) -> dict[str, object]:
    """What :func:`build_pdf` checks in a printed PDF, read from its bytes (no PDF library needed).

    ``pages`` counts the ``/Type /Page`` objects; ``fonts`` lists the embedded fonts' names
    (without the subset prefix, e.g. ``DejaVuSans``, ``MathJax_Main-Regular``); ``outline`` every
    title in it, decoded: the document's (the page's ``<title>``) and its outline's entries, which
    Chromium makes from the headings.
    """
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    fonts = sorted({m.decode("latin-1") for m in re.findall(rb"/FontName\s*/(?:[A-Z]{6}\+)?([\w.-]+)", data)})
    outline = []
    for m in re.finditer(rb"/Title\s*(?:<([0-9A-Fa-f\s]*)>|\(((?:\\.|[^\\)])*)\))", data):
        if m.group(1) is not None:
            raw = bytes.fromhex(m.group(1).decode("ascii"))
            outline.append(raw[2:].decode("utf-16-be", "replace") if raw.startswith(b"\xfe\xff")
                           else raw.decode("latin-1"))
        else:
            outline.append(re.sub(rb"\\(.)", rb"\1", m.group(2)).decode("latin-1"))
    return {"starts_as_pdf": data.startswith(b"%PDF"), "pages": pages, "fonts": fonts, "outline": outline}


def build_pdf(root: str | Path | None = None, *, strict: bool = True, output: str | Path | None = None,
              chromium: str | None = None) -> Path:
    """Print the whole book, as already executed, to one PDF; returns its path.

    ``root`` is the book's folder (default: the project's); ``output`` the PDF (default
    ``<root>/_build/pdf/serbook.pdf``); ``strict`` turns Sphinx warnings into errors (``-W -n``), as
    ``serbook book`` does. ``chromium`` is the browser binary (default: the first of
    :data:`BROWSERS` on ``PATH``).
    """
    root = Path(root) if root is not None else project_root()
    binary = chromium or find_chromium()
    if binary is None:
        raise PdfError(f"cannot print the book to PDF: {INSTALL_HINT}")
    toc = _toc(root)
    missing = _unexecuted(root, toc)
    if missing:
        raise PdfError(f"not executed yet: {', '.join(missing)} (no .ipynb in {root / 'book' / 'chapters'}); "
                       "the PDF renders the executed chapters and runs none: run `make book` (or "
                       "`serbook book --profile smoke` for the quick build) first")
    out = Path(output) if output is not None else root / "_build" / "pdf" / PDF_NAME

    # 1. the whole book as one HTML page
    cmd = _jupyter_book() + ["build", str(root), "--builder", "singlehtml"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    log.info("building the single-page book: %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=root, check=False)
    if proc.returncode != 0:
        raise PdfError(f"jupyter-book build --builder singlehtml failed (exit {proc.returncode}); "
                       "see the messages above")
    single = root / "_build" / "singlehtml"
    page = single / f"{toc['root']}.html"
    if not page.exists():
        raise PdfError(f"the single-page build wrote no {page}")
    # Sphinx writes the page under the root document's name (book/intro.html) but its links to
    # _static/ and _images/ as seen from the top of the build: the top is where it is read from.
    html = page.read_text(encoding="utf-8")
    (single / "index.html").write_text(html, encoding="utf-8")

    # 2. printed by headless Chromium
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    partial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="serbook-chromium-") as profile:
        args = [binary, "--headless", "--disable-gpu", "--no-sandbox", "--disable-extensions",
                "--no-first-run", f"--user-data-dir={profile}", "--no-pdf-header-footer",
                "--generate-pdf-document-outline", "--run-all-compositor-stages-before-draw",
                f"--virtual-time-budget={VIRTUAL_TIME_MS}", f"--print-to-pdf={partial}",
                (single / "index.html").resolve().as_uri()]
        log.info("printing with %s", binary)
        try:
            run = subprocess.run(args, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            partial.unlink(missing_ok=True)
            raise PdfError(f"{binary} did not finish printing within {CHROMIUM_TIMEOUT_S} s") from exc
    if run.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
        raise PdfError(f"{binary} did not print the book (exit {run.returncode}):\n{tail}")

    # 3. checked before it replaces an earlier PDF
    facts = pdf_facts(partial)
    has_maths = 'class="math' in html
    problem = ("it is not a PDF" if not facts["starts_as_pdf"] else
               "it has no page" if not facts["pages"] else
               "the book has maths but the PDF embeds no MathJax font: MathJax had not typeset the page "
               f"when it was printed (is {single / '_static' / 'mathjax'} there?)"
               if has_maths and "MathJax" not in " ".join(facts["fonts"]) else "")
    if problem:
        bad = partial.with_name(out.stem + ".failed.pdf")
        partial.replace(bad)
        raise PdfError(f"the printed book is not usable: {problem}; kept as {bad}")
    partial.replace(out)
    log.info("%s: %d pages", out, facts["pages"])

    # 4. into the built site, where the pages link it
    site = root / "_build" / "html"
    if (site / "index.html").exists():
        shutil.copy2(out, site / PDF_NAME)
        log.info("copied to %s", site / PDF_NAME)
    return out
