"""Sphinx fix-ups for the serbook HTML build (loaded through ``_config.yml``'s ``local_extensions``).

**Links to the sources.** The chapters are rendered from the executed notebooks in
``book/chapters/<stem>.ipynb``, which are generated and not committed; their source is the jupytext
file ``notebooks/<stem>.py``. sphinx-book-theme builds the "edit this page" and launch (Binder)
links from the rendered page's path, so :func:`link_sources` rewrites them to the jupytext source.

**One address.** ``html_baseurl`` (the sitemap's and the link previews' base) is derived from
``repository.url`` in ``_config.yml`` when it is not set: ``https://github.com/<owner>/<name>`` ->
``https://<owner>.github.io/<name>/``; the substitutions ``{{ repository_url }}`` and
``{{ book_runs }}`` (a link to the book workflow's runs) give the prose pages the same address.

**The whole book as a PDF.** ``serbook pdf`` (``make pdf``) prints the book to ``serbook.pdf`` and copies it
to the top of the built site; :func:`link_book_pdf` adds it to every page's download menu, beside
the theme's own ".pdf" (which prints the page being read). The link is written as a plain address,
not a Sphinx reference: the file is made after the HTML build, so a reference would not resolve.

**Scripts written twice.** Sphinx 7.4 adds the inline scripts that extensions register after the builder started
(sphinx-thebe's and sphinx-togglebutton's configuration) a second time while preparing the
pages, with the filename ``''`` instead of ``None``, so they are not recognised as duplicates.
Every page then declared ``const THEBE_JS_URL`` twice, and the second declaration threw a
SyntaxError in the reader's console. This extension keeps the first copy of each script.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = ["BOOK_PDF", "CHAPTERS_DIR", "NOTEBOOKS_DIR", "link_book_pdf", "pages_url", "setup", "source_path"]

CHAPTERS_DIR = "book/chapters"
"""Where the executed chapters are rendered from (relative to the repository root)."""

NOTEBOOKS_DIR = "notebooks"
"""Where their jupytext sources live."""

BOOK_PDF = "serbook.pdf"
"""The whole book's PDF, at the top of the built site (``serlib.pdf.PDF_NAME``)."""


def pages_url(repository_url: str) -> str:
    """The GitHub Pages address of a GitHub repository (empty for another host)."""
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository_url.strip())
    if not m:
        return ""
    owner, name = m.groups()
    if name.lower() == f"{owner.lower()}.github.io":
        return f"https://{name.lower()}/"
    return f"https://{owner.lower()}.github.io/{name}/"


def source_path(srcdir: str | Path, pagename: str) -> str | None:
    """``notebooks/<stem>.py`` for a page rendered from ``book/chapters/<stem>.ipynb`` whose source exists."""
    if not pagename.startswith(CHAPTERS_DIR + "/"):
        return None
    rel = f"{NOTEBOOKS_DIR}/{pagename.rsplit('/', 1)[1]}.py"
    return rel if (Path(srcdir) / rel).exists() else None


def derive_addresses(app: Any, config: Any) -> None:
    """``html_baseurl`` and the pages' substitutions from ``repository.url`` (``repository_url``)."""
    repo = str((config.html_theme_options or {}).get("repository_url", "") or "").rstrip("/")
    if repo and not config.html_baseurl:
        config.html_baseurl = pages_url(repo)
    if "ogp_site_url" in config and not config.ogp_site_url:  # sphinxext-opengraph: absolute og:url
        config.ogp_site_url = config.html_baseurl
    if "ogp_site_name" in config and not config.ogp_site_name:
        config.ogp_site_name = config.html_title or config.project
    if repo:
        subs = dict(config.myst_substitutions or {})
        subs.setdefault("repository_url", repo)
        subs.setdefault("book_runs", f"[the book workflow's runs]({repo}/actions/workflows/book.yml)")
        config.myst_substitutions = subs


def _rewrite(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        url = node.get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):  # not the site's own downloads
            node["url"] = url.replace(old, new)
        for value in node.values():
            if isinstance(value, (dict, list)):
                _rewrite(value, old, new)
    elif isinstance(node, list):
        for value in node:
            _rewrite(value, old, new)


def link_sources(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Point a chapter's edit, source and launch links at ``notebooks/<stem>.py``, not the generated .ipynb."""
    src = source_path(app.srcdir, pagename)
    if src is None:
        return
    _rewrite(context.get("header_buttons"), f"{pagename}.ipynb", src)


def link_book_pdf(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Add "book .pdf", a link to the whole book's PDF, to the page's download menu (when it has one)."""
    for group in context.get("header_buttons") or []:
        if isinstance(group, dict) and group.get("label") == "download-buttons":
            group["buttons"].append({
                "type": "link",
                "url": context["pathto"](BOOK_PDF, 1),
                "text": "book .pdf",
                "tooltip": "Download the whole book as one PDF",
                "icon": "fas fa-book",
                "label": "download-book-pdf-button",
            })


def _script_key(js: Any) -> Any:
    if isinstance(js, str):  # old-style entry: a bare filename
        return js
    filename = os.fspath(js.filename) if js.filename else None
    return filename, js.priority, tuple(sorted(js.attributes.items()))


def dedupe_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Drop repeated entries of the page's ``script_files`` (same file or same inline body)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[Any] = set()
    unique = []
    for js in scripts:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", derive_addresses)
    app.connect("html-page-context", link_sources, priority=900)  # after sphinx-book-theme's buttons (501)
    app.connect("html-page-context", link_book_pdf, priority=900)  # after the theme's download menu (501)
    app.connect("html-page-context", dedupe_scripts, priority=900)  # after the handlers that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
