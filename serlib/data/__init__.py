"""Corpora: the common table, the embedded generator and loaders for the real corpora."""

from .check import check_corpus
from .corpus import REQUIRED_COLUMNS, Corpus, CorpusError, LayoutProblem
from .coverage import Coverage, coverage
from .loading import load_corpus
from .registry import CORPORA, CorpusSpec, available_corpora, resolve_root, validate_layout

__all__ = [
    "CORPORA",
    "REQUIRED_COLUMNS",
    "Corpus",
    "CorpusError",
    "CorpusSpec",
    "Coverage",
    "LayoutProblem",
    "available_corpora",
    "check_corpus",
    "coverage",
    "load_corpus",
    "resolve_root",
    "validate_layout",
]
