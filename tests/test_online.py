"""The book online: the whole book builds strictly (``-W -n``, every chapter executed in the smoke
profile: the session's ``strict_book`` fixture, built once and shared with the browser test); on its
pages every repository, edit, source and launch link points to a file the repository has (or the
built site, for downloads); the address derivations; and a real-corpus run recorded with
`serbook results add` appears, with provenance, in the next build's chapter page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import yaml

from serlib.config import project_root
from serlib.run import toc_notebooks

ROOT = project_root()
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import serbook_sphinx  # noqa: E402 - importable only once book/_ext is on the path

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
BINDER = CONFIG["launch_buttons"]["binderhub_url"].rstrip("/")


def repository_files() -> set[str]:
    """The files a fresh clone has: git's tracked files, else (no git) every file of the tree."""
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if proc.returncode == 0 and proc.stdout:
        tracked = {p for p in proc.stdout.decode().split("\0") if p}
        untracked = subprocess.run(["git", "ls-files", "-z", "--others", "--exclude-standard"], cwd=ROOT,
                                   capture_output=True, check=False).stdout.decode().split("\0")
        return tracked | {p for p in untracked if p}  # a new file of this checkout, not committed yet
    return {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file()}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        if tag == "a" and d.get("href"):
            self.links.append(str(d["href"]))


def page_links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(errors="replace"))
    return parser.links


def check_link(url: str, page: Path, html: Path, files: set[str]) -> str:
    """Empty when ``url`` (found on ``page``) is a repository/launch/download link that resolves, or is not
    one of those; else the problem."""
    if url.startswith(REPO):
        rest = url[len(REPO):]
        path = urlparse(rest).path.strip("/")
        if path in ("", "issues", "issues/new"):
            return ""
        m = re.fullmatch(rf"(?:edit|blob)/{re.escape(BRANCH)}/(.+)", path)
        if m:
            return "" if unquote(m.group(1)) in files else f"{url}: the repository has no {m.group(1)}"
        m = re.fullmatch(r"actions/workflows/([\w.-]+)", path)
        if m:
            wf = f".github/workflows/{m.group(1)}"
            return "" if wf in files else f"{url}: the repository has no {wf}"
        return f"{url}: not a repository address this check knows"
    if url.startswith(BINDER):
        parsed = urlparse(url)
        if parsed.path.rstrip("/") != urlparse(f"{BINDER}/v2/gh/{REPO.split('github.com/')[1]}/{BRANCH}").path:
            return f"{url}: Binder is not pointed at {REPO} ({BRANCH})"
        urlpath = parse_qs(parsed.query).get("urlpath", [""])[0]
        m = re.fullmatch(r"(?:lab/tree|tree)/(.+)", urlpath)
        if not m or m.group(1) not in files:
            return f"{url}: Binder would open {urlpath!r}, which the repository does not have"
        return ""
    parsed = urlparse(url)
    if parsed.scheme or url.startswith(("#", "mailto:")):
        return ""
    target = (page.parent / unquote(parsed.path)).resolve()
    if parsed.path and not target.exists():
        if target == html.resolve() / serbook_sphinx.BOOK_PDF:
            return ""  # `make pdf` writes it into the site after the HTML build (tests/test_pdf.py follows it then)
        return f"{url}: the built site has no {target.relative_to(html.resolve()) if target.is_relative_to(html.resolve()) else target}"
    return ""


def link_problems(html: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(problems per page, the repository/launch links found per page)."""
    files = repository_files()
    problems: dict[str, list[str]] = {}
    found: dict[str, list[str]] = {}
    for page in sorted(html.rglob("*.html")):
        rel = page.relative_to(html).as_posix()
        if rel.split("/")[0].startswith("_"):
            continue
        links = page_links(page)
        found[rel] = [u for u in links if u.startswith((REPO, BINDER))]
        bad = [p for p in (check_link(u, page, html, files) for u in links) if p]
        if bad:
            problems[rel] = bad
    return problems, found


# ---------------------------------------------------------------------------------------------
# fast checks
# ---------------------------------------------------------------------------------------------
def test_one_repository_url_and_derived_addresses():
    assert REPO == "https://github.com/serbook/serbook"
    assert serbook_sphinx.pages_url(REPO) == "https://serbook.github.io/serbook/"
    assert serbook_sphinx.pages_url("https://github.com/Some-One/some-one.github.io") == "https://some-one.github.io/"
    assert serbook_sphinx.pages_url("https://gitlab.com/a/b") == ""
    html = CONFIG["html"]
    assert html["use_repository_button"] and html["use_issues_button"] and html["use_edit_page_button"]
    assert "baseurl" not in html, "the base URL is derived from repository.url, not written twice"
    text = (ROOT / "_config.yml").read_text()
    assert text.count("github.com/") == 1, "the repository's address appears once in _config.yml"


def test_edit_and_launch_paths_point_at_the_jupytext_sources():
    assert serbook_sphinx.source_path(ROOT, "book/chapters/04_leow_speaker_adversarial") == \
        "notebooks/04_leow_speaker_adversarial.py"
    assert serbook_sphinx.source_path(ROOT, "book/teaching") is None
    assert serbook_sphinx.source_path(ROOT, "book/chapters/99_nothing") is None
    buttons = [{"type": "group", "buttons": [
        {"url": f"{REPO}/edit/main/book/chapters/04_leow_speaker_adversarial.ipynb"},
        {"url": f"{BINDER}/v2/gh/serbook/serbook/main?urlpath=lab/tree/book/chapters/04_leow_speaker_adversarial.ipynb"},
        {"url": "../../_sources/book/chapters/04_leow_speaker_adversarial.ipynb"}]}]

    class App:
        srcdir = ROOT

    serbook_sphinx.link_sources(App, "book/chapters/04_leow_speaker_adversarial", "page.html",
                                {"header_buttons": buttons}, None)
    urls = [b["url"] for b in buttons[0]["buttons"]]
    assert urls[0] == f"{REPO}/edit/main/notebooks/04_leow_speaker_adversarial.py"
    assert urls[1].endswith("urlpath=lab/tree/notebooks/04_leow_speaker_adversarial.py")
    assert urls[2] == "../../_sources/book/chapters/04_leow_speaker_adversarial.ipynb"  # the executed download


def test_binder_environment_comes_from_the_repository():
    binder = ROOT / ".binder"
    reqs = [line.strip() for line in (binder / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert "-e ..[book]" in reqs, "Binder installs serlib (the repository, one folder up) and the book's pins"
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    post = binder / "postBuild"
    assert post.stat().st_mode & 0o111 and "jupytext-config set-default-viewer" in post.read_text()


def test_check_link_reports_missing_files(tmp_path):
    files = {"notebooks/04_leow_speaker_adversarial.py", ".github/workflows/book.yml"}
    page = tmp_path / "book" / "x.html"
    page.parent.mkdir()
    page.write_text("")
    assert check_link(f"{REPO}/edit/main/notebooks/04_leow_speaker_adversarial.py", page, tmp_path, files) == ""
    assert "no book/chapters/04.ipynb" in check_link(f"{REPO}/edit/main/book/chapters/04.ipynb", page, tmp_path, files)
    assert "does not have" in check_link(f"{BINDER}/v2/gh/serbook/serbook/main?urlpath=lab/tree/book/chapters/04.ipynb",
                                         page, tmp_path, files)
    assert "no book/missing.ipynb" in check_link("missing.ipynb", page, tmp_path, files)
    assert check_link(f"{REPO}/actions/workflows/book.yml", page, tmp_path, files) == ""


# ---------------------------------------------------------------------------------------------
# built pages
# ---------------------------------------------------------------------------------------------
def chapter_stems(toc) -> list[str]:
    """The executed chapters (``book/chapters/<stem>``) of a toc, in reading order."""
    from tests._book import toc_files

    return [Path(f).stem for f in toc_files(toc) if Path(f).parent == Path("book/chapters")]


@pytest.mark.slow
def test_a_stamped_strict_build_is_reused_only_for_the_same_sources(tmp_path, monkeypatch):
    """The browser pass of ``make test`` reuses the suite's strict build only while the tree that
    built it is unchanged: a source edit (not an executed chapter or bytecode) refuses the stamp."""
    from tests import _book

    src = tmp_path / "repo"
    for name in ("book/intro.md", "book/chapters/01.ipynb", "serlib/a.py", "serlib/__pycache__/a.pyc"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(name)
    key = _book.sources_key(src)
    (src / "book/chapters/01.ipynb").write_text("executed again")
    (src / "serlib/__pycache__/a.pyc").write_text("recompiled")
    assert _book.sources_key(src) == key
    (src / "serlib/a.py").write_text("edited")
    assert _book.sources_key(src) != key

    folder = tmp_path / "test-book"
    (folder / "_build" / "html").mkdir(parents=True)
    (folder / "_toc.yml").write_text("root: intro\n")
    monkeypatch.setenv(_book.SHARED_BOOK, str(folder))
    monkeypatch.setenv(_book.REUSE_BOOK, "1")
    assert _book.reusable_book() is None  # nothing stamped yet
    _book.stamp_book(_book.BuiltBook(folder / "_build" / "html", {"root": "intro"}, 12.5))
    book = _book.reusable_book()
    assert book is not None and book.seconds == 12.5
    monkeypatch.setenv(_book.REUSE_BOOK, "0")
    assert _book.reusable_book() is None  # asked not to reuse
    monkeypatch.setenv(_book.REUSE_BOOK, "1")
    monkeypatch.setattr(_book, "sources_key", lambda root=None: "another tree")
    assert _book.reusable_book() is None  # the tree changed since the stamp


@pytest.mark.xdist_group("strict-book")  # one worker builds the book; no other waits for it
def test_strict_build_executes_every_chapter_and_builds_every_page(strict_book):
    """The whole book, every chapter executed in the smoke profile, builds with ``-W -n`` (the
    ``strict_book`` fixture fails on any Sphinx warning or unresolved reference) and has a page for
    every toc entry, each chapter page showing its executed cells' outputs."""
    from tests._book import book_pages, toc_pages

    built = set(book_pages(strict_book.html))
    missing = [page for page in toc_pages(strict_book.toc) if page not in built]
    assert not missing, f"listed in _toc.yml but not built: {missing}"
    stems = chapter_stems(strict_book.toc)
    assert stems == [p.stem for p in toc_notebooks(ROOT / "_toc.yml")], "the copy's toc is the book's"
    for stem in stems:
        page = (strict_book.html / "book" / "chapters" / f"{stem}.html").read_text()
        assert page.count('class="cell_output') >= 1, f"{stem}.html shows no executed output"
        assert "Traceback (most recent call last)" not in page, f"{stem}.html shows a traceback"


@pytest.mark.slow
@pytest.mark.xdist_group("strict-book")  # one worker builds the book; no other waits for it
def test_strict_build_passes_the_page_check(strict_book):
    """No chapter page of the smoke build shows what a reader should not see: an object's repr, a
    log line, a machine path, an empty output, the injected parameters, a NaN/None/.../empty cell,
    text cut short, a code-name header or a figure without caption, and no other page's table does
    (serlib.pagecheck, which `serbook book` runs too)."""
    from serlib.pagecheck import check_pages, format_problems

    problems = check_pages(strict_book.html)
    assert not problems, format_problems(problems)


@pytest.mark.slow
@pytest.mark.xdist_group("strict-book")  # one worker builds the book; no other waits for it
def test_built_pages_links_resolve(strict_book):
    problems, found = link_problems(strict_book.html)
    assert not problems, json.dumps(problems, indent=1)
    for stem in chapter_stems(strict_book.toc):
        chapter = found[f"book/chapters/{stem}.html"]
        assert f"{REPO}/edit/{BRANCH}/notebooks/{stem}.py" in chapter, stem
        assert any(u.startswith(f"{BINDER}/v2/gh/") and u.endswith(f"lab/tree/notebooks/{stem}.py")
                   for u in chapter), stem
        assert REPO in chapter and any(u.startswith(f"{REPO}/issues/new") for u in chapter), stem
    assert f"{REPO}/edit/{BRANCH}/book/teaching.md" in found["book/teaching.html"]
    assert f"{REPO}/actions/workflows/book.yml" in found["book/teaching.html"]  # where the editions are


@pytest.mark.slow
@pytest.mark.xdist_group("strict-book")  # one worker builds the book; no other waits for it
def test_built_pages_have_sitemap_previews_and_collapsed_parameters(strict_book):
    from tests._book import toc_pages

    base = serbook_sphinx.pages_url(REPO)
    html = strict_book.html
    sitemap = (html / "sitemap.xml").read_text()
    for page in toc_pages(strict_book.toc):
        assert f"<loc>{base}{page}</loc>" in sitemap
    text = (html / "book" / "teaching.html").read_text()
    assert f'<meta property="og:url" content="{base}book/teaching.html" />' in text
    assert re.search(r'<meta name="description" content="The book is written to be worked through', text)
    assert "og:image" not in text  # a preview never makes a reader's browser load anything
    css = (html / "_static" / "serbook.css").read_text()
    assert "overflow-x: auto" in css and "serbook.css" in text


# ---------------------------------------------------------------------------------------------
# a recorded real-corpus run, end to end
# ---------------------------------------------------------------------------------------------
LEOW = "04_leow_speaker_adversarial"
SMOKE_ON_FIXTURE = {"profile": "smoke", "corpus": "emodb", "threads": 1, "workers": 1}


@pytest.fixture(scope="session")  # not module: a worker may run other modules' tests between the two
def fixture_run(tmp_path_factory, kernel_session) -> tuple[Path, Path]:
    """Chapter 4 in the smoke profile on the Emo-DB fixture tree, run once for both recorded-run
    tests (each records its own copy of the run): (the fixture tree, the run's ``.results``)."""
    from serlib.data.fixtures import make_fixture
    from serlib.run import execute

    tmp = tmp_path_factory.mktemp("fixture_run")
    root = make_fixture("emodb", tmp / "data")
    out = tmp / "runs"
    execute(ROOT / "notebooks" / f"{LEOW}.py", {**SMOKE_ON_FIXTURE, "data_root": str(root)}, output_dir=out,
            progress=False, session=kernel_session)
    return root, out / f"{LEOW}.results"


def _record_and_build(tmp_path: Path, monkeypatch, fixture_run: tuple[Path, Path], add_provenance: bool,
                      session) -> Path:
    """A copy of ``fixture_run`` (chapter 4 in the smoke profile on the Emo-DB fixture tree), `serbook
    results add`, then a book whose chapter 4 page shows the record. ``add_provenance`` writes the
    run's corpus provenance into run.json by hand, as `serbook run` does once it records it."""
    import shutil

    from serlib.cli import main
    from tests._book import build_book_copy

    root, run_results = fixture_run
    results = tmp_path / "runs" / f"{LEOW}.results"
    shutil.copytree(run_results, results)
    if add_provenance:
        run = json.loads((results / "run.json").read_text())
        files = sorted(p for p in root.rglob("*") if p.is_file())
        run.update(corpora=[{"name": "emodb", "role": "main", "root": str(root),
                             "fingerprint": {"files": len(files), "bytes": sum(p.stat().st_size for p in files),
                                             "sha256": "0" * 64},
                             "coverage": {"loaded": len(files), "expected": 535, "complete": False,
                                          "summary": f"{len(files)} of 535 (the fixture tree)"}}],
                   git={"commit": "fixture", "dirty": False}, device="cpu")
        (results / "run.json").write_text(json.dumps(run))
    recorded_root = tmp_path / "recorded"
    monkeypatch.setenv("SERBOOK_RECORDED_DIR", str(recorded_root))
    assert main(["results", "add", str(results)]) == 0, "serbook results add refused the fixture run"
    assert (recorded_root / LEOW / "emodb" / "table1.csv").exists()
    toc = {"format": "jb-book", "root": "book/intro", "chapters": [{"file": f"book/chapters/{LEOW}"}]}
    # the page test asks whether the record is shown, not how well the chapter trains: 3 epochs will do
    return build_book_copy(tmp_path / "book", toc=toc, strict=False, extra={"max_epochs": 3}, session=session)


def _assert_page_shows_record(html: Path) -> None:
    page = (html / "book" / "chapters" / f"{LEOW}.html").read_text()
    assert "On <code class=\"docutils literal notranslate\"><span class=\"pre\">emodb</span></code>" in page
    assert "Provenance" in page and "of 535" in page
    assert "No results on a real corpus are recorded" not in page


@pytest.mark.slow
@pytest.mark.xdist_group("recorded")  # one worker runs fixture_run for both
def test_recorded_fixture_run_appears_in_the_chapter_page(tmp_path, monkeypatch, fixture_run, kernel_session):
    (tmp_path / "book").mkdir()
    html = _record_and_build(tmp_path, monkeypatch, fixture_run, add_provenance=True, session=kernel_session)
    _assert_page_shows_record(html)


@pytest.mark.slow
@pytest.mark.xdist_group("recorded")  # one worker runs fixture_run for both
def test_recorded_fixture_run_end_to_end(tmp_path, monkeypatch, fixture_run, kernel_session):
    (tmp_path / "book").mkdir()
    html = _record_and_build(tmp_path, monkeypatch, fixture_run, add_provenance=False, session=kernel_session)
    _assert_page_shows_record(html)
