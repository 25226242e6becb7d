"""Transcript tables a reader provides: a CSV ``id,text`` that fills a corpus's ``transcript``.

Some corpora ship no text for most of their utterances (MSP-IMPROV has none beyond its target
sentences), yet a multimodal chapter needs the words. The reader can supply them, e.g. from an
ASR system they ran, as a UTF-8 CSV with a header line and two columns::

    id,text
    MSP-IMPROV-S01A-F01-R-FM01,"How can I not?"
    MSP-IMPROV-S01A-F01-S-FM02,"..."

``id`` is the corpus's utterance id (the audio file's name without ``.wav``; a trailing
``.wav`` is accepted and removed). Every id must belong to the corpus and appear once. A line
with an empty text (``MSP-IMPROV-S01A-F01-R-FM03,``, or ``""``; e.g. an ASR system that heard
no words) is allowed: that utterance has no text, exactly like an utterance whose corpus ships
none, and the chapter counts it and handles it by its ``missing_text`` parameter. A line that is
malformed (no id, fewer or more fields than the header, e.g. a text with an unquoted comma), an
id given twice or an id the corpus does not have is a :class:`TranscriptError` naming the file,
the first offending lines and the fix, before anything is trained.
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
        Missing file, no ``id``/``text`` header, lines without an id, lines with fewer or more
        fields than the header, duplicated ids, or ids the corpus does not have (the first few
        of each are named, with their line numbers). An empty text is no error: the id maps to
        ``""``, an utterance without text.
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
    dup, malformed, unknown = [], [], []
    known = None if known_ids is None else {str(k) for k in known_ids}
    for line, row in enumerate(reader, start=2):
        if row.get(None):  # DictReader's key for the fields beyond the header
            malformed.append(f"line {line}: {len(fields) + len(row[None])} fields, the header has "
                             f"{len(fields)}")
            continue
        if row.get("text") is None:  # the line ends before the text field
            malformed.append(f"line {line}: no text field")
            continue
        uid = _strip_ext(str(row.get("id") or ""))
        value = " ".join(str(row["text"]).split())
        if not uid:
            malformed.append(f"line {line}: no id")
            continue
        if uid in out:
            dup.append(f"{uid} (lines {first_line[uid]} and {line})")
            continue
        if known is not None and uid not in known:
            unknown.append(f"line {line}: {uid}")
        out[uid] = value
        first_line[uid] = line
    problems = []
    if dup:
        problems.append(f"{len(dup)} duplicated id(s), e.g. {dup[:3]}: keep one line per utterance")
    if malformed:
        problems.append(f"{len(malformed)} malformed line(s), e.g. {malformed[:3]}: write each line as id,text "
                        "with the text in double quotes when it contains a comma (an utterance without text is "
                        "written id, with an empty text; the chapter counts it and handles it by its "
                        "missing_text)")
    if unknown:
        problems.append(f"{len(unknown)} id(s) the corpus does not have, e.g. {unknown[:3]}: ids are the audio "
                        "files' names without .wav; check that the table belongs to this corpus")
    if problems:
        raise TranscriptError(f"transcript table {p}: " + "; ".join(problems))
    if not out:
        raise TranscriptError(f"transcript table {p} has no rows: {fix}")
    return out


def apply_transcripts(corpus: Corpus, texts: Mapping[str, str] | str | os.PathLike[str],
                      known_ids: Collection[str] | None = None) -> Corpus:
    """A copy of ``corpus`` whose ``transcript`` holds the given texts.

    ``texts`` is a mapping id -> text or the path of a transcript CSV, checked with
    :func:`read_transcript_table` against ``known_ids`` (default: the corpus's own ids; pass
    more when the table may also list utterances the loaded corpus left out). An utterance the
    table lists takes the table's text, an empty one included (it then has no text); the
    others keep their own.
    """
    if not isinstance(texts, Mapping):
        source = str(texts)
        ids = set(corpus.table["utt_id"].astype(str)) if known_ids is None else known_ids
        texts = read_transcript_table(texts, ids)
    else:
        source = "(mapping)"
    table = corpus.table.copy()
    current = table["transcript"].fillna("").astype(str) if "transcript" in table else ""
    table["transcript"] = [texts.get(u, c) for u, c in zip(table["utt_id"].astype(str), current)]
    meta = {**corpus.meta, "transcripts": source}
    return Corpus(corpus.name, table, corpus.labels, corpus.root, meta)
