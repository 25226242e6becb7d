"""``serbook pdf`` (``make pdf``): the executed book printed to one PDF by headless Chromium.

The fast tests need no browser: the clear errors (no Chromium, chapters not executed), the reading
of a PDF's pages, fonts and outline, and the "book .pdf" entry of the download menu. The slow test
builds a tiny book — the project's configuration, theme, print CSS and MathJax, with three pages of
its own — as HTML, prints it with Chromium, and reads the PDF: every page of the toc starts a new
page, the chapter titles are in its outline, the maths was typeset by MathJax (its fonts are
embedded), and the copy in the built site is where the pages' download menu points. It is skipped
without Chromium, except under CI (``CI=true``), where it fails, as the browser test does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serlib.cli import main
from serlib.config import project_root
from serlib.pdf import PDF_NAME, PdfError, build_pdf, pdf_facts

ROOT = project_root()
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import serbook_sphinx  # noqa: E402 - importable only once book/_ext is on the path


# ---------------------------------------------------------------------------------------------
# fast checks
# ---------------------------------------------------------------------------------------------
def test_without_chromium_the_command_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on it
    with pytest.raises(PdfError, match=r"no Chromium binary found on PATH.*apt-get install chromium"):
        build_pdf(ROOT)
    assert main(["pdf"]) == 1
    err = capsys.readouterr().err
    assert "serbook: error: cannot print the book to PDF" in err and "chromium-browser, google-chrome" in err


def test_unexecuted_chapters_are_named_and_nothing_is_built(tmp_path):
    toc = {"format": "jb-book", "root": "book/intro",
           "chapters": [{"file": "book/chapters/00_done"}, {"file": "book/chapters/01_not_run"}]}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    (tmp_path / "book" / "chapters" / "00_done.ipynb").write_text("{}")
    with pytest.raises(PdfError, match=r"not executed yet: book/chapters/01_not_run \(") as info:
        build_pdf(tmp_path, chromium="/bin/true")
    assert "00_done" not in str(info.value) and "make book" in str(info.value)
    assert not (tmp_path / "_build").exists()


def test_pdf_facts_reads_pages_fonts_and_outline(tmp_path):
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj <</Type /Pages /Kids [2 0 R 3 0 R] /Count 2>> endobj\n"
                    b"2 0 obj <</Type /Page /Parent 1 0 R>> endobj\n3 0 obj <</Type/Page/Parent 1 0 R>> endobj\n"
                    b"4 0 obj <</FontName /AAAAAA+MathJax_Main>> endobj 5 0 obj <</FontName /BAAAAA+DejaVuSans>>\n"
                    b"6 0 obj <</Title <FEFF00430068002E00200031> /Parent 7 0 R>> 8 0 obj <</Title (Two \\(b\\))>>\n")
    facts = pdf_facts(pdf)
    assert facts == {"starts_as_pdf": True, "pages": 2, "fonts": ["DejaVuSans", "MathJax_Main"],
                     "outline": ["Ch. 1", "Two (b)"]}
    pdf.write_bytes(b"<html>not a pdf</html>")
    assert pdf_facts(pdf)["starts_as_pdf"] is False and pdf_facts(pdf)["pages"] == 0


def test_download_menu_links_the_whole_book_pdf():
    page_menu = {"type": "group", "label": "download-buttons", "buttons": [{"label": "download-source-button"}]}
    other = {"type": "link", "label": "fullscreen-button"}
    context = {"header_buttons": [page_menu, other], "pathto": lambda name, resource: f"../../{name}"}
    serbook_sphinx.link_book_pdf(None, "book/using/publishing", "page.html", context, None)
    added = page_menu["buttons"][-1]
    assert added["url"] == "../../serbook.pdf" and added["type"] == "link" and "book" in added["text"]
    assert other == {"type": "link", "label": "fullscreen-button"}
    assert serbook_sphinx.BOOK_PDF == PDF_NAME
    bare = {"header_buttons": [other], "pathto": lambda name, resource: name}
    serbook_sphinx.link_book_pdf(None, "book/intro", "page.html", bare, None)  # no download menu: nothing added
    assert bare["header_buttons"] == [other]


def test_make_pdf_is_a_target_calling_serbook_pdf():
    makefile = (ROOT / "Makefile").read_text()
    assert "\npdf: setup\n" in makefile and "serbook pdf" in makefile.split("\npdf: setup\n", 1)[1].split("\n\n")[0]


# ---------------------------------------------------------------------------------------------
# a tiny book printed by Chromium
# ---------------------------------------------------------------------------------------------
INTRO = """# A tiny book

Its pages are printed to one PDF; the <a href="../serbook.pdf">whole book as one PDF</a>.
"""
CHAPTER_ONE = """# Chapter one: waves

Energy and mass, displayed:

$$
E = m c^2, \\qquad \\sum_{k=1}^{n} \\frac{1}{k^2} < \\frac{\\pi^2}{6}
$$

| a very long column heading | b | c | d | e | f | g | h | i | j | k | l | m | n | o | p | q |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
| 0.123456789 | 1.23456789 | 12.3456789 | 123.456789 | 1234.56789 | 12345.6789 | 123456.789 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 |

```python
result = {"a_rather_long_name": [1, 2, 3], "another_long_name": "a string long enough to run past the right edge of an A4 page"}
```
"""
CHAPTER_TWO = """# Chapter two: noise

A short page: on paper it still starts on a page of its own.
"""


def _tiny_book(dest: Path) -> Path:
    """The project's configuration, extension, styles and MathJax, with three pages of its own."""
    shutil.copy2(ROOT / "_config.yml", dest / "_config.yml")
    book = dest / "book"
    shutil.copytree(ROOT / "book" / "_static", book / "_static")
    shutil.copytree(ROOT / "book" / "_ext", book / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "book" / "references.bib", book / "references.bib")
    (book / "intro.md").write_text(INTRO)
    (book / "one.md").write_text(CHAPTER_ONE)
    (book / "two.md").write_text(CHAPTER_TWO)
    toc = {"format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/one"}, {"file": "book/two"}]}
    (dest / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    return dest


@pytest.mark.browser
def test_a_tiny_book_prints_to_a_pdf_with_its_chapters_and_maths(tmp_path):
    from tests.test_browser import require_chromium

    binary = require_chromium()
    root = _tiny_book(tmp_path)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb)] if jb.exists() else [sys.executable, "-m", "jupyter_book"]
    html_build = subprocess.run(cmd + ["build", str(root), "--builder", "html", "-W", "-n", "--keep-going"],
                                cwd=root, capture_output=True, text=True, check=False)
    assert html_build.returncode == 0, html_build.stdout[-3000:] + html_build.stderr[-3000:]

    pdf = build_pdf(root, chromium=binary)
    assert pdf == root / "_build" / "pdf" / PDF_NAME
    facts = pdf_facts(pdf)
    assert facts["starts_as_pdf"]
    assert facts["pages"] >= 3, f"each of the 3 toc pages starts a new page: {facts['pages']} pages"
    outline = " | ".join(facts["outline"])
    assert "Chapter one: waves" in outline and "Chapter two: noise" in outline, outline
    assert any(f.startswith("MathJax") for f in facts["fonts"]), f"maths not typeset: fonts {facts['fonts']}"

    # the site carries the PDF, where the download menu and the intro page point
    site = root / "_build" / "html"
    assert (site / PDF_NAME).read_bytes() == pdf.read_bytes()
    page = (site / "book" / "one.html").read_text()
    assert 'href="../serbook.pdf"' in page and (site / "book" / "../serbook.pdf").resolve() == (site / PDF_NAME)
    assert 'href="../serbook.pdf"' in (site / "book" / "intro.html").read_text()

    # a printing whose maths MathJax never typeset is refused, and the good PDF stays
    shutil.rmtree(root / "book" / "_static" / "mathjax")
    shutil.rmtree(root / "_build" / "singlehtml" / "_static" / "mathjax")
    good = pdf.read_bytes()
    with pytest.raises(PdfError, match="no MathJax font") as info:
        build_pdf(root, chromium=binary)
    assert "serbook.failed.pdf" in str(info.value) and (pdf.parent / "serbook.failed.pdf").exists()
    assert pdf.read_bytes() == good
