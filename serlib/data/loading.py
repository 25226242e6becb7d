"""Load a corpus by name: :func:`load_corpus`, the way every chapter obtains its data.

Loading is reading (:func:`serlib.data.registry.read_corpus`: the corpus's own loader, after a
check of its folder) plus two notes that make a result traceable: how much of the full release
the copy holds (:mod:`serlib.data.coverage`), and, inside ``serbook run``, a record of the
corpus in the run's ``run.json`` (:mod:`serlib.data.provenance`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .corpus import Corpus
from .coverage import coverage
from .provenance import record_corpus
from .registry import read_corpus

__all__ = ["load_corpus"]


def load_corpus(name: str, root: str | Path | None = None, *, role: str = "main", **options: Any) -> Corpus:
    """Load corpus ``name`` from ``root`` (or its default place) as a :class:`Corpus`.

    ``load_corpus("embedded", size="tiny")`` generates (once, cached) the embedded corpus.
    For a real corpus a missing or malformed folder raises :class:`CorpusError` naming what is
    wrong and how to fix it (the same findings ``serbook data check`` prints).

    ``corpus.meta["coverage"]`` holds the copy's coverage against the full release
    (:func:`serlib.data.coverage.coverage`). Inside ``serbook run`` the corpus is recorded,
    under ``role`` ("main", "pretrain", "cross" ...), for the run's ``run.json``
    (:mod:`serlib.data.provenance`).
    """
    corpus = read_corpus(name, root, **options)
    corpus.meta["coverage"] = coverage(corpus).as_dict()
    record_corpus(corpus, role, options)
    return corpus
