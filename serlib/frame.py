"""The frame of a chapter: what it teaches, what it needs and how long it takes.

:func:`chapter_frame` writes the box "In this chapter" that opens every chapter: its learning
objectives and prerequisites (given by the chapter), its reading time (counted from the chapter's
prose when the page is built, :func:`reading_words`) and its running time in each profile
(:func:`chapter_times`). Running times are measured, never estimated: the ``smoke`` and ``book``
profiles' come from the table of :data:`SPEED_PAGE`, the times of runs recorded on real corpora
from their ``run.json`` (:mod:`serlib.recorded`); a profile nobody has measured reads "not
measured".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import PROFILES, project_root
from .overview import CHAPTERS, chapter
from .recorded import load_recorded

__all__ = [
    "READING_WORDS_PER_MINUTE",
    "SPEED_PAGE",
    "ChapterTime",
    "chapter_frame",
    "chapter_times",
    "duration_text",
    "reading_words",
]

SPEED_PAGE = "book/using/speed.md"
"""The page that records the measured time of every chapter in the ``smoke`` and ``book`` profiles."""

READING_WORDS_PER_MINUTE = 200
"""The reading speed behind a chapter's reading time: a careful reader of a technical text."""

_SPEED_ROW = re.compile(r"^\|\s*each chapter,\s*`(?P<profile>\w+)` profile(?:\s*\((?P<note>[^)]*)\))?\s*\|")
_CHAPTER_TIME = re.compile(r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>s|min)\b(?:\s*\((?P<note>[^)]*)\))?")


@dataclass(frozen=True)
class ChapterTime:
    """One measured time of a chapter: its ``profile``, ``seconds`` (``None``: not measured),
    the set-up it was measured on (``where``), the file it comes from, a ``note`` and the real
    ``corpus`` it ran on (empty: the embedded corpus)."""

    profile: str
    seconds: float | None
    where: str = ""
    source: str = ""
    note: str = ""
    corpus: str = ""


def _speed_rows(path: Path) -> dict[str, list[ChapterTime]]:
    """Per profile, the chapters' times in the order of :data:`CHAPTERS`, read from the speed page."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = next((ln for ln in lines if ln.startswith("|") and "measured" in ln), "")
    where = re.search(r"measured\s*\(([^)]*)\)", header)
    where_text = where.group(1).strip() if where else "measured"
    out: dict[str, list[ChapterTime]] = {}
    for line in lines:
        m = _SPEED_ROW.match(line)
        if not m:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        times = list(_CHAPTER_TIME.finditer(cells[-1]))
        if len(times) != len(CHAPTERS):
            raise ValueError(f"{path}: the row {line.strip()!r} gives {len(times)} chapter times, expected "
                             f"{len(CHAPTERS)} (one per chapter, in book order, e.g. '12 s (ch. 0), 163 s (1), ...'); "
                             "fix the row")
        row = []
        for t in times:
            seconds = float(t["value"]) * (60 if t["unit"] == "min" else 1)
            note = re.sub(r"^(ch\.\s*)?\d+\s*,?\s*", "", (t["note"] or "").strip())
            row.append(ChapterTime(m["profile"], seconds, where_text, SPEED_PAGE,
                                   "; ".join(x for x in ((m["note"] or "").strip(), note) if x)))
        out[m["profile"]] = row
    return out


def chapter_times(stem: str, root: str | Path | None = None) -> list[ChapterTime]:
    """The measured times of chapter ``stem``: one per profile (``smoke``, ``book``, ``paper``),
    then one per run recorded on a real corpus.

    The profiles' times come from the table of :data:`SPEED_PAGE` (rows "each chapter, `<profile>`
    profile"), the recorded runs' from their ``run.json`` under ``book/results/<stem>/<corpus>/``
    (:mod:`serlib.recorded`). A profile the page does not measure has ``seconds=None``: it is shown
    as "not measured", never estimated. ``root`` is the project folder (default: this project).
    """
    index = [c.stem for c in CHAPTERS].index(chapter(stem).stem)
    base = Path(root) if root is not None else project_root()
    page = base / SPEED_PAGE
    if not page.exists():
        raise FileNotFoundError(f"{page} not found: the page with the measured time of each chapter "
                                "(its rows 'each chapter, `smoke` profile' and 'each chapter, `book` profile')")
    rows = _speed_rows(page)
    out = [rows[p][index] if p in rows else ChapterTime(p, None) for p in PROFILES]
    for rec in load_recorded(stem, base / "book" / "results"):
        seconds = rec.run.get("seconds")
        params = {k: v for k, v in (rec.run.get("parameters") or {}).items()
                  if k not in ("profile", "corpus", "data_root") and v is not None}
        note = ", ".join(f"{k}={v}" for k, v in params.items())
        out.append(ChapterTime(rec.run["profile"], float(seconds) if seconds is not None else None,
                               f"device {rec.run.get('device') or 'unknown'}, "
                               f"{str(rec.run.get('finished', 'date unknown'))[:10]}",
                               (rec.folder / "run.json").relative_to(base).as_posix() if rec.folder.is_relative_to(base)
                               else str(rec.folder / "run.json"), note, rec.corpus))
    return out


def duration_text(seconds: float) -> str:
    """``34 s``, ``2 min 43 s``, ``1 h 37 min``: a duration as a reader says it."""
    s = round(float(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")


def reading_words(stem: str, notebooks_dir: str | Path | None = None) -> int:
    """The words of prose in chapter ``stem``: its markdown cells without code blocks, maths and
    the markup of roles and directives (a word: a run of letters, with inner apostrophes or hyphens).
    Code cells and their outputs are not counted."""
    import jupytext

    path = Path(notebooks_dir or project_root() / "notebooks") / f"{stem}.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the notebook source of chapter {stem}")
    text = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "markdown")
    text = re.sub(r"^(```|~~~).*?^\1", " ", text, flags=re.S | re.M)  # fenced code
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", " ", text, flags=re.S)  # maths
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # roles: {cite}`...`, {doc}`...`
    text = re.sub(r"^\s*:{3,}.*$|^\s*:\w+:.*$", " ", text, flags=re.M)  # directive fences and options
    text = re.sub(r"`[^`]*`", " x ", text)  # inline code reads as one word
    return len(re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", text))


def _time_sentence(t: ChapterTime) -> str:
    if t.seconds is None:
        return f"`{t.profile}` not measured"
    detail = "; ".join(x for x in (t.where, t.note) if x)
    what = f"`{t.profile}` on {t.corpus}" if t.corpus else f"`{t.profile}`"
    return f"{what} {duration_text(t.seconds)}" + (f" ({detail})" if detail else "")


def chapter_frame(stem: str, objectives: Sequence[str], prerequisites: Sequence[str], *,
                  root: str | Path | None = None) -> str:
    """The box "In this chapter" at the top of chapter ``stem`` (MyST markdown): its learning
    ``objectives``, its ``prerequisites``, the time to read it (from :func:`reading_words` at
    :data:`READING_WORDS_PER_MINUTE`, counted when the page is built) and the measured time to
    run it in each profile (:func:`chapter_times`; "not measured" where nothing was measured).

    3 to 5 objectives and at least one prerequisite are required.
    """
    if not 3 <= len(objectives) <= 5:
        raise ValueError(f"chapter {stem}: give 3 to 5 learning objectives, got {len(objectives)}")
    if not prerequisites:
        raise ValueError(f"chapter {stem}: give at least one prerequisite (an earlier chapter, the maths it uses)")
    base = Path(root) if root is not None else project_root()
    words = reading_words(stem, base / "notebooks")
    minutes = max(1, math.ceil(words / READING_WORDS_PER_MINUTE))
    times = chapter_times(stem, base)
    profiles, recorded = times[:len(PROFILES)], times[len(PROFILES):]
    sources = [f"{{doc}}`the speed page <../using/speed>` (`{SPEED_PAGE}`)"] if any(
        t.source == SPEED_PAGE for t in profiles) else []
    sources += sorted({f"`{t.source}`" for t in recorded if t.source})
    lines = [":::{admonition} In this chapter", ":class: note", "",
             "**You will learn to**", ""]
    lines += [f"* {o}" for o in objectives]
    lines += ["", "**Before you start**", ""]
    lines += [f"* {p}" for p in prerequisites]
    lines += ["", "**Time**", "",
              f"* Reading: about {minutes} min ({words:,} words of prose at {READING_WORDS_PER_MINUTE} words a "
              "minute, counted from the chapter's source when this page was built; code and outputs not counted).",
              "* Running, as measured: " + "; ".join(_time_sentence(t) for t in profiles)
              + "."]
    if recorded:
        lines.append("* Running on a real corpus, as recorded: " + "; ".join(_time_sentence(t) for t in recorded) + ".")
    if sources:
        lines.append("* Where the times come from: " + ", ".join(sources)
                     + "; this build's own time is in the table \"Time per chapter\" of {doc}`90_results`.")
    lines.append(":::")
    return "\n".join(lines)
