"""Sphinx fix-ups for the serbook HTML build (loaded through ``_config.yml``'s ``local_extensions``).

Sphinx 7.4 adds the inline scripts that extensions register after the builder started
(sphinx-thebe's and sphinx-togglebutton's configuration) a second time while preparing the
pages, with the filename ``''`` instead of ``None``, so they are not recognised as duplicates.
Every page then declared ``const THEBE_JS_URL`` twice, and the second declaration threw a
SyntaxError in the reader's console. This extension keeps the first copy of each script.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["setup"]


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
    app.connect("html-page-context", dedupe_scripts, priority=900)  # after the handlers that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
