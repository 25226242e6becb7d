"""Transcript tables a reader provides: a CSV ``id,text`` that fills a corpus's ``transcript``.

Some corpora ship no text for most of their utterances (MSP-IMPROV has none beyond its target
sentences), yet a multimodal chapter needs the words. The reader can supply them, e.g. from an
ASR system they ran, as a UTF-8 CSV with a header line and two columns::

    id,text
    MSP-IMPROV-S01A-F01-R-FM01,"How can I not?"
    MSP-IMPROV-S01A-F01-S-FM02,"..."

``id`` is the corpus's utterance id (the audio file's name without ``.wav``; a trailing
``.wav`` is accepted and removed). Every id must belong to the corpus, appear once, and carry
a non-empty text; anything else is a :class:`TranscriptError` naming the file, the first
offending lines and the fix, before anything is trained.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Collection, Mapping
from pathlib import Path

from .corpus import Corpus, CorpusError

__all__ = ["TranscriptError", "apply_transcripts", "read_transcript_table"]


class TranscriptError(CorpusError):
    """A transcript table cannot be used: the message names the file, the lines and the fix."""


def _strip_ext(name: str) -> str:
    name = name.strip()
    return name[:-4] if name.lower().endswith(".wav") else name


def read_transcript_table(path: str | os.PathLike[str], known_ids: Collection[str] | None = None
                          ) -> dict[str, str]:
    """Read a transcript CSV (``id,text``) and check it.

    Parameters
    ----------
    path
        The CSV file.
    known_ids
        The utterance ids the corpus has (all of them, labelled or not); ``None`` skips the
        check for unknown ids.

    Returns
    -------
    id -> text.

    Raises
    ------
    TranscriptError
        Missing file, no ``id``/``text`` header, duplicated ids, empty texts, or ids the corpus
        does not have (the first few of each are named, with their line numbers).
    """
    p = Path(path).expanduser()
    fix = "give a UTF-8 CSV with the header 'id,text' and one line per utterance (transcripts=PATH)"
    if not p.is_file():
        raise TranscriptError(f"transcript table {p} does not exist: {fix}")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"transcript table {p} is not UTF-8 ({exc}): save it as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "id" not in fields or "text" not in fields:
        raise TranscriptError(f"transcript table {p} has the columns {reader.fieldnames}, not 'id' and 'text': {fix}")
    reader.fieldnames = fields
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    dup, empty, unknown = [], [], []
    known = None if known_ids is None else {str(k) for k in known_ids}
    for line, row in enumerate(reader, start=2):
        uid = _strip_ext(str(row.get("id") or ""))
        value = " ".join(str(row.get("text") or "").split())
        if not uid:
            empty.append(f"line {line}: no id")
            continue
        if uid in out:
            dup.append(f"{uid} (lines {first_line[uid]} and {line})")
            continue
        if not value:
            empty.append(f"line {line}: {uid}")
        if known is not None and uid not in known:
            unknown.append(f"line {line}: {uid}")
        out[uid] = value
        first_line[uid] = line
    problems = []
    if dup:
        problems.append(f"{len(dup)} duplicated id(s), e.g. {dup[:3]}: keep one line per utterance")
    if empty:
        problems.append(f"{len(empty)} line(s) without an id or a text, e.g. {empty[:3]}: fill the text or drop "
                        "the line (an utterance without text is counted and handled by the chapter's missing_text)")
    if unknown:
        problems.append(f"{len(unknown)} id(s) the corpus does not have, e.g. {unknown[:3]}: ids are the audio "
                        "files' names without .wav; check that the table belongs to this corpus")
    if problems:
        raise TranscriptError(f"transcript table {p}: " + "; ".join(problems))
    if not out:
        raise TranscriptError(f"transcript table {p} has no rows: {fix}")
    return out


def apply_transcripts(corpus: Corpus, texts: Mapping[str, str] | str | os.PathLike[str]) -> Corpus:
    """A copy of ``corpus`` whose ``transcript`` holds the given texts (others unchanged).

    ``texts`` is a mapping id -> text or the path of a transcript CSV, checked against the
    corpus's ids with :func:`read_transcript_table`.
    """
    if not isinstance(texts, Mapping):
        source = str(texts)
        texts = read_transcript_table(texts, set(corpus.table["utt_id"].astype(str)))
    else:
        source = "(mapping)"
    table = corpus.table.copy()
    current = table["transcript"].fillna("").astype(str) if "transcript" in table else ""
    table["transcript"] = [texts.get(u, c) for u, c in zip(table["utt_id"].astype(str), current)]
    meta = {**corpus.meta, "transcripts": source}
    return Corpus(corpus.name, table, corpus.labels, corpus.root, meta)
