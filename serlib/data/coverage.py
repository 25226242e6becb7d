"""How much of a corpus's full release a loaded copy holds, and what a run does about the rest.

Each loader module of a corpus with a fixed release defines ``FULL_RELEASE``::

    FULL_RELEASE = {"utterances": 535, "per_emotion": {...} | None, "per_speaker": {...} | None}

or, for a corpus with several releases or subsets, a dict of such dicts keyed by the release or
subset name (RAVDESS ``speech``/``song``, IEMOCAP's label sets, LibriSpeech's subsets). A module
whose release depends on the load options also defines ``full_release(corpus)`` returning
``(release name, counts)``, or ``(reason, None)`` when the options select a deliberate part of
the release (then there is nothing to compare with).

:func:`coverage` compares a loaded :class:`~serlib.data.corpus.Corpus` with its release:
``"400 of 535: speakers 13, 16 missing (132 files); anger 100 of 127"``. Files skipped on
loading (missing, unreadable) count as missing. :func:`enforce` is what a chapter does with
that: the ``paper`` profile refuses a partial corpus unless ``allow_partial`` is true, the other
profiles print a warning in the notebook output.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import ParameterError, get_logger
from .corpus import Corpus, CorpusError
from .registry import CORPORA

__all__ = ["Coverage", "check_allow_partial", "compare", "coverage", "enforce"]

_log = get_logger("serlib.data.coverage")


@dataclass(frozen=True)
class Coverage:
    """A loaded corpus measured against its full release.

    ``complete`` is ``None`` when there is no fixed release to compare with (the embedded
    corpus, a deliberate selection such as ``improvised_only=True``); ``missing`` lists the
    shortfalls in words, ``extra`` what the copy holds beyond the release.
    """

    loaded: int
    expected: int | None
    complete: bool | None
    summary: str
    release: str | None = None
    missing: tuple[str, ...] = field(default_factory=tuple)
    extra: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """The ``coverage`` entry of ``run.json``: loaded, expected, complete, summary (+ release)."""
        out: dict[str, Any] = {"loaded": self.loaded, "expected": self.expected, "complete": self.complete,
                               "summary": self.summary}
        if self.release:
            out["release"] = self.release
        return out


def _names(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def compare(table: Any, release: Mapping[str, Any], *, available: int | None = None,
            release_name: str | None = None, notes: tuple[str, ...] = ()) -> Coverage:
    """Compare a corpus table with ``release`` (``utterances``, ``per_emotion``, ``per_speaker``,
    optionally ``speakers``: the number of speakers).

    ``available`` replaces ``len(table)`` as the utterance count (LibriSpeech's
    ``max_utterances`` selects from what is there); ``notes`` are further disagreements found
    by the loader (audio files absent from the label file) that make the copy incomplete.
    """
    loaded = len(table) if available is None else int(available)
    expected = int(release["utterances"])
    missing: list[str] = []
    extra: list[str] = []
    per_speaker = release.get("per_speaker")
    if per_speaker:
        have = table["speaker"].astype(str).value_counts().to_dict()
        absent = [s for s in per_speaker if have.get(s, 0) == 0]
        if absent:
            n = sum(per_speaker[s] for s in absent)
            word = "speaker" if len(absent) == 1 else "speakers"
            missing.append(f"{word} {_names(absent)} missing ({n} files)")
        short = [f"{s} {have[s]} of {per_speaker[s]}" for s in per_speaker if 0 < have.get(s, 0) < per_speaker[s]]
        if short:
            missing.append("speaker " + _names(short))
        unknown = sorted(set(have) - set(per_speaker))
        if unknown:
            extra.append(f"speakers not in the release: {_names(unknown)}")
    elif release.get("speakers"):
        n_spk = int(table["speaker"].nunique())
        if n_spk < int(release["speakers"]):
            missing.append(f"{n_spk} of {release['speakers']} speakers")
    per_emotion = release.get("per_emotion")
    if per_emotion:
        have = table["emotion"].value_counts().to_dict()
        short = [f"{e} {have.get(e, 0)} of {n}" for e, n in per_emotion.items() if have.get(e, 0) < n]
        if short:
            missing.append(_names(short))
        over = [f"{e} {have[e]} (release: {n})" for e, n in per_emotion.items() if have.get(e, 0) > n]
        if over:
            extra.append("more than the release: " + _names(over))
    if loaded < expected and not missing:
        missing.append(f"{expected - loaded} files")
    if loaded > expected and not extra:
        extra.append(f"{loaded - expected} utterances more than the release")
    missing.extend(notes)
    complete = loaded == expected and not missing and not extra
    head = f"{loaded} of {expected}" + (f" ({release_name})" if release_name else "")
    if complete:
        summary = f"{head}: complete"
    else:
        summary = f"{head}: " + "; ".join(missing + extra)
    return Coverage(loaded, expected, complete, summary, release_name, tuple(missing), tuple(extra))


def _release_of(corpus: Corpus) -> tuple[str | None, Mapping[str, Any] | None]:
    module_name = CORPORA.get(corpus.name)
    if module_name is None:
        return "not a registered corpus", None
    mod = importlib.import_module(module_name)
    if hasattr(mod, "full_release"):
        return mod.full_release(corpus)
    release = getattr(mod, "FULL_RELEASE", None)
    if release is None:
        return "this corpus has no fixed release to compare with", None
    return None, release


def coverage(corpus: Corpus) -> Coverage:
    """``corpus`` against its full release (see the module docstring)."""
    loaded = len(corpus)
    if corpus.name == "embedded":
        return Coverage(loaded, loaded, True, f"{loaded} of {loaded}: the generated corpus, complete by construction")
    name, release = _release_of(corpus)
    notes: tuple[str, ...] = ()
    unlisted = int(corpus.meta.get("unlisted_audio", 0) or 0)
    if unlisted:
        notes = (f"{unlisted} audio file(s) not in the label file",)
    if release is None:
        extra = f"; {notes[0]}" if notes else ""
        return Coverage(loaded, None, False if notes else None, f"{loaded} loaded; {name}{extra}", None, notes)
    available = loaded + int(corpus.meta.get("not_selected", 0) or 0)
    return compare(corpus.table, release, available=available, release_name=name, notes=notes)


def check_allow_partial(value: Any) -> bool:
    """``allow_partial`` as a bool; anything else (``"yes"``, ``1``) is a ParameterError."""
    if isinstance(value, bool):
        return value
    raise ParameterError(f"allow_partial={value!r} must be true or false (a YAML boolean: "
                         f"-p allow_partial=true), not a {type(value).__name__}.")


def enforce(corpus: Corpus, *, profile: str, allow_partial: bool, role: str = "main") -> Coverage:
    """Apply the completeness rule of a chapter run to a loaded corpus; return its coverage.

    ``paper`` profile: a partial corpus raises :class:`CorpusError` naming what is missing and
    ``-p allow_partial=true``. Other profiles, and ``paper`` with ``allow_partial=True``: a
    warning printed into the notebook output (above the tables that follow).
    """
    allow_partial = check_allow_partial(allow_partial)
    cov = coverage(corpus)
    corpus.meta["coverage"] = cov.as_dict()
    if cov.complete is not False:
        return cov
    where = f"{corpus.meta.get('title', corpus.name)} at {corpus.root}"
    what = f"the {role} corpus" if role != "main" else "the corpus"
    if profile == "paper" and not allow_partial:
        raise CorpusError(
            f"{where} is not the full release ({cov.summary}). The paper profile compares with the "
            f"paper's full-corpus numbers and refuses a partial copy. Restore the missing files "
            f"(`serbook data check {corpus.name} {corpus.root}` lists them), or pass -p allow_partial=true "
            f"to run on this copy anyway; run.json then records allow_partial and the coverage.")
    message = (f"WARNING: {what} is partial: {where}: {cov.summary}. The numbers below come from this "
               f"copy, not the full release" + (" (allow_partial=true)." if allow_partial else "."))
    print(message, flush=True)
    _log.warning(message)
    return cov
