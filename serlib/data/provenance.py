"""Which corpus a run's numbers come from: fingerprints and the per-run record of loaded corpora.

Inside a chapter run (``serbook run`` sets ``SERBOOK_RESULTS_DIR``), every corpus that
:func:`serlib.data.load_corpus` loads is appended as one JSON line to
``$SERBOOK_RESULTS_DIR/corpora.jsonl``; :func:`serlib.run.execute` merges those lines into the
``corpora`` list of ``run.json`` and removes the file. An entry::

    {"name": "emodb", "role": "main", "root": "/data/emodb", "options": {...},
     "fingerprint": {"files": 535, "bytes": 47712846, "sha256": "..."},
     "coverage": {"loaded": 535, "expected": 535, "complete": true, "summary": "535 of 535: complete"}}

The fingerprint hashes the sorted lines ``relative/path<TAB>size`` of every file under the
corpus folder (hidden files left out): it changes when a file is added, removed, renamed or
changes size, and needs no audio read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import plain_values
from .corpus import Corpus
from .coverage import coverage

__all__ = ["RECORD_FILE", "fingerprint_files", "fingerprint_tree", "read_records", "record_corpus"]

RECORD_FILE = "corpora.jsonl"
"""The file in ``$SERBOOK_RESULTS_DIR`` that collects the corpora a kernel loaded."""

_TREE_CACHE: dict[tuple[str, int], dict[str, Any]] = {}


def fingerprint_files(items: Iterable[tuple[str, int]]) -> dict[str, Any]:
    """``{"files", "bytes", "sha256"}`` over ``(relative path, size)`` pairs, sorted by path."""
    pairs = sorted(items)
    h = hashlib.sha256()
    for rel, size in pairs:
        h.update(f"{rel}\t{size}\n".encode())
    return {"files": len(pairs), "bytes": int(sum(size for _, size in pairs)), "sha256": h.hexdigest()}


def fingerprint_tree(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The fingerprint of every non-hidden file under ``root`` (symlinks followed)."""
    root = Path(root)
    try:
        stamp = root.stat().st_mtime_ns
    except OSError:
        stamp = 0
    key = (str(root), stamp)
    if key in _TREE_CACHE:
        return _TREE_CACHE[key]
    items: list[tuple[str, int]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            try:
                size = os.stat(path).st_size
            except OSError:
                continue
            items.append((os.path.relpath(path, root).replace(os.sep, "/"), size))
    out = fingerprint_files(items)
    _TREE_CACHE[key] = out
    return out


def _fingerprint(corpus: Corpus) -> dict[str, Any]:
    if corpus.name != "embedded" and corpus.root is not None and Path(corpus.root).is_dir():
        return fingerprint_tree(corpus.root)
    # the generated corpus: its audio files, relative to their common folder
    paths = [str(p) for p in corpus.table["path"]]
    base = os.path.commonpath(paths) if paths else ""
    items = []
    for p in paths:
        try:
            items.append((os.path.relpath(p, base), os.stat(p).st_size))
        except OSError:
            items.append((os.path.relpath(p, base), -1))
    return fingerprint_files(items)


def record_corpus(corpus: Corpus, role: str = "main", options: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Append ``corpus`` to the run's record when inside ``serbook run``; return the entry.

    Outside a run (no ``SERBOOK_RESULTS_DIR``) nothing is written and ``None`` comes back.
    """
    folder = os.environ.get("SERBOOK_RESULTS_DIR")
    if not folder:
        return None
    cov = corpus.meta.get("coverage") or coverage(corpus).as_dict()
    entry = {"name": corpus.name, "role": role,
             "root": str(corpus.root) if corpus.root is not None and corpus.name != "embedded" else None,
             "options": plain_values(dict(options or {})), "fingerprint": _fingerprint(corpus), "coverage": cov}
    Path(folder).mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, default=str) + "\n"
    fd = os.open(os.path.join(folder, RECORD_FILE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return entry


def read_records(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of ``folder/corpora.jsonl``, one per distinct corpus load (same name, role,
    root, options and fingerprint kept once; a later entry with the same key wins)."""
    path = Path(folder) / RECORD_FILE
    if not path.is_file():
        return []
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed kernel
        key = json.dumps([entry.get("name"), entry.get("role"), entry.get("root"), entry.get("options"),
                          entry.get("fingerprint")], sort_keys=True)
        out.pop(key, None)
        out[key] = entry
    return list(out.values())
