"""Corpora: the common table, the embedded generator and loaders for the real corpora."""

from .corpus import REQUIRED_COLUMNS, Corpus, CorpusError, LayoutProblem
from .registry import CORPORA, CorpusSpec, available_corpora, load_corpus, resolve_root, validate_layout

__all__ = [
    "CORPORA",
    "REQUIRED_COLUMNS",
    "Corpus",
    "CorpusError",
    "CorpusSpec",
    "LayoutProblem",
    "available_corpora",
    "load_corpus",
    "resolve_root",
    "validate_layout",
]
