"""The table of corpora: find a corpus's loader by name, read and check a corpus folder.

:func:`serlib.data.load_corpus` (in :mod:`serlib.data.loading`) is the front door built on this
table: it reads a corpus with :func:`read_corpus`, then notes its coverage and records it for
the run. The table itself imports nothing of what is built on it.

Each corpus module (``serlib/data/<name>.py``) defines three module-level names:

``SPEC``
    a :class:`CorpusSpec` (name, default folder under ``$SERLIB_DATA``, licence, description);
``load(root: Path, **options) -> Corpus``
    reads the corpus's own layout and label files;
``validate(root: Path) -> list[LayoutProblem]``
    checks the layout file by file without loading audio.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ParameterError, data_dir
from .corpus import Corpus, CorpusError, LayoutProblem

__all__ = ["CORPORA", "CorpusSpec", "available_corpora", "read_corpus", "resolve_root", "validate_layout"]

CORPORA: dict[str, str] = {
    "embedded": "serlib.data.synthetic",
    "iemocap": "serlib.data.iemocap",
    "msp_improv": "serlib.data.msp_improv",
    "msp_podcast": "serlib.data.msp_podcast",
    "emodb": "serlib.data.emodb",
    "ravdess": "serlib.data.ravdess",
    "savee": "serlib.data.savee",
    "omg": "serlib.data.omg",
    "librispeech": "serlib.data.librispeech",
    "tess": "serlib.data.tess",
}
"""Registry name -> module. Aliases (``msp-improv``, ``emo-db`` ...) are normalised first."""


@dataclass(frozen=True)
class CorpusSpec:
    """What a reader needs to know to obtain and place a corpus."""

    name: str
    title: str
    default_subdir: str
    licence: str
    url_hint: str
    description: str


def _normalise(name: str) -> str:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"emo_db": "emodb", "mspimprov": "msp_improv", "msppodcast": "msp_podcast",
               "omg_emotion": "omg", "synthetic": "embedded"}
    key = aliases.get(key, key)
    if key not in CORPORA:
        raise ParameterError(f"unknown corpus {name!r}; known corpora: {sorted(CORPORA)}")
    return key


def _module(name: str) -> Any:
    return importlib.import_module(CORPORA[_normalise(name)])


def available_corpora() -> dict[str, CorpusSpec]:
    """Every registered corpus with its spec."""
    return {key: _module(key).SPEC for key in CORPORA}


def resolve_root(name: str, root: str | Path | None = None) -> Path:
    """The corpus folder: ``root`` if given, else ``$SERLIB_DATA/<default_subdir>``."""
    spec = _module(name).SPEC
    if root:
        return Path(root).expanduser()
    return data_dir() / spec.default_subdir


def read_corpus(name: str, root: str | Path | None = None, **options: Any) -> Corpus:
    """Read corpus ``name`` from ``root`` (or its default place) with its loader. A real corpus's
    folder is checked first: a missing or malformed one raises :class:`CorpusError`.

    This is the bare read: :func:`serlib.data.load_corpus`, which the chapters use, also notes
    the copy's coverage of the full release and records the corpus for the run.
    """
    key = _normalise(name)
    mod = _module(key)
    if key == "embedded":
        return mod.load(root, **options)
    path = resolve_root(key, root)
    if not path.is_dir():
        raise CorpusError(
            f"{mod.SPEC.title}: folder {path} does not exist. Put the corpus there, pass "
            f"data_root=/path/to/{mod.SPEC.default_subdir}, or set SERLIB_DATA. "
            f"Obtain it from {mod.SPEC.url_hint} ({mod.SPEC.licence})."
        )
    problems = [p for p in mod.validate(path) if p.severity == "error"]
    if problems:
        listing = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CorpusError(
            f"{mod.SPEC.title} at {path} has {len(problems)} layout problem(s):\n  {listing}{more}\n"
            f"Run `serbook data check {key} {path}` for the full report."
        )
    return mod.load(path, **options)


def validate_layout(name: str, root: str | Path | None = None) -> list[LayoutProblem]:
    """Check a corpus folder file by file; an empty list means it loads."""
    key = _normalise(name)
    mod = _module(key)
    if key == "embedded":
        # the generated corpus lives in the cache, not under $SERLIB_DATA
        return list(mod.validate(root))
    path = resolve_root(key, root)
    if not path.is_dir():
        return [LayoutProblem(str(path), "folder does not exist",
                              f"place {mod.SPEC.title} here or pass its folder")]
    return list(mod.validate(path))
