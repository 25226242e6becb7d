"""Saving a chapter's results next to its executed notebook, so runs can be diffed.

``serbook run`` sets ``SERBOOK_RESULTS_DIR`` to ``<executed notebook>.results/``; a notebook
run by hand writes under ``results/<chapter>/`` in the project.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .cache import atomic_write_bytes
from .config import project_root

__all__ = ["TableSaver", "load_table", "results_dir", "save_json", "save_table"]


def results_dir(chapter: str = "interactive") -> Path:
    env = os.environ.get("SERBOOK_RESULTS_DIR")
    path = Path(env) if env else project_root() / "results" / chapter
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_table(name: str, table: pd.DataFrame, chapter: str = "interactive", **meta: Any) -> Path:
    """Write ``table`` as ``<name>.csv`` (atomically) plus ``<name>.json`` with ``meta``."""
    d = results_dir(chapter)
    path = d / f"{name}.csv"
    atomic_write_bytes(path, table.to_csv().encode())
    atomic_write_bytes(d / f"{name}.json", json.dumps(meta, indent=2, default=str).encode())
    return path


class TableSaver:
    """A chapter's table saver, set up once per notebook with what every table's metadata shares
    (its configuration, say): ``save = TableSaver(CHAPTER, **meta)``, then
    ``save("table1", t1, metric="accuracy (%)")`` writes ``table1.csv`` and ``table1.json``
    (the shared metadata with the call's own) through :func:`save_table`. It returns nothing,
    so a notebook cell that ends with a save shows no output."""

    def __init__(self, chapter: str, **meta: Any) -> None:
        self.chapter = chapter
        self.meta = meta

    def __call__(self, name: str, table: pd.DataFrame, **meta: Any) -> None:
        save_table(name, table, self.chapter, **{**self.meta, **meta})


def save_json(name: str, obj: Any, chapter: str = "interactive") -> Path:
    path = results_dir(chapter) / f"{name}.json"
    atomic_write_bytes(path, json.dumps(obj, indent=2, default=str).encode())
    return path


def load_table(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col=0)
