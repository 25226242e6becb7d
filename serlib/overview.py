"""The book's back matter, computed from saved results: the results overview and the parameters
reference.

Nothing here retypes a number. :data:`CHAPTERS` names, for every chapter, the one or two tables
that set our results beside the paper's (the tables built with :func:`serlib.papers.beside` and
saved with :func:`serlib.results.save_table`); :func:`load_all` reads them from
``book/chapters/<stem>.results/`` together with ``run.json`` (profile, seconds, versions, and the
provenance: which corpus, at what coverage of its full release, each chapter's numbers come
from; :func:`provenance_table`), and
:func:`headline_sentence` says, from the table alone, which side is ahead. A missing file is an
error that names the file and the ``serbook run`` command that writes it.

:func:`parameters_reference` joins a chapter's ``Config`` declarations
(:meth:`serlib.params.ChapterConfig.reference`) with the notebook's ``parameters`` cell: every
parameter, its default in each profile, its meaning, the paper's value, and whether ``-p`` can
set it.
"""

from __future__ import annotations

import ast
import importlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import claims
from .config import PROFILES, check_choice, project_root
from .results import load_table

__all__ = [
    "CHAPTERS",
    "ChapterEntry",
    "ChapterResults",
    "Comparison",
    "Headline",
    "ResultsMissing",
    "CLAIMS_TABLE",
    "chapter",
    "claims_across_book",
    "compare",
    "corpus_text",
    "headline_sentence",
    "load_all",
    "load_chapter",
    "load_headline",
    "load_run",
    "notebook_parameters",
    "parameters_reference",
    "provenance_table",
    "results_folder",
    "run_command",
    "timing_table",
]


class ResultsMissing(FileNotFoundError):
    """A chapter's saved results are not where the book expects them; the message says how to make them."""


@dataclass(frozen=True)
class Headline:
    """One saved table that puts our numbers beside the paper's.

    ``paper_columns`` and ``ours_column`` are regular expressions matched (``re.search``) against
    the table's column names: each matching paper column is compared, row by row, with the first
    matching column of ours. ``pairs`` adds comparisons between differently named rows, as
    ``(label, (paper row, paper column), (ours row, ours column))`` with regular expressions
    throughout. ``unit`` is ``"%"`` (differences in percentage points) or ``""`` (a score such as
    CCC). ``key_row`` names the row the paper's claim rests on. ``optional`` says when the
    chapter skips the table (empty: the chapter always saves it).
    """

    name: str
    title: str
    paper_corpus: str
    paper_columns: tuple[str, ...] = ()
    ours_column: str | None = None
    pairs: tuple[tuple[str, tuple[str, str], tuple[str, str]], ...] = ()
    key_row: str | None = None
    skip_rows: tuple[str, ...] = ()
    unit: str = "%"
    corpus_keys: tuple[str, ...] = ("corpus",)
    optional: str = ""


@dataclass(frozen=True)
class ChapterEntry:
    """A chapter: its notebook stem, title, experiment module and headline tables."""

    stem: str
    title: str
    module: str
    headlines: tuple[Headline, ...]

    @property
    def config(self) -> Any:
        """The chapter's ``Config`` class (imports the experiment module)."""
        return importlib.import_module(self.module).Config


CHAPTERS: tuple[ChapterEntry, ...] = (
    ChapterEntry("00_corpora", "The embedded corpus and the yardstick", "serlib.experiments.corpora", (
        Headline("baseline_summary", "The yardstick (functionals + RBF-SVM), plain and speaker-adaptive (UAR %)",
                 paper_corpus="", ours_column=r"^uar$"),
    )),
    ChapterEntry("01_sahu2018_gan", "Sahu et al. 2018: GAN and conditional GAN features", "serlib.experiments.sahu2018", (
        Headline("table1", "Table 1, synthetic samples in the training set (UAR %)", "IEMOCAP",
                 paper_columns=(r"^paper ",), ours_column=r"^ours mean$",
                 key_row="Real openSMILE + improved-conditional", skip_rows=("Chance accuracy",)),
        Headline("table3", "Table 3, across corpora (UAR %)", "IEMOCAP -> MSP-IMPROV",
                 paper_columns=(r"^paper ",), ours_column=r"^ours mean$",
                 key_row="Real openSMILE + improved-conditional", corpus_keys=("corpus", "cross_corpus"),
                 optional="saved only when the cross-corpus part ran (`cross_corpus` not empty)"),
    )),
    ChapterEntry("02_latif2020_mixup_gan", "Latif et al. 2020: the mixup GAN", "serlib.experiments.latif2020", (
        Headline("table3", "Table 3, within IEMOCAP (UAR %)", "IEMOCAP",
                 paper_columns=(r"^paper ",), ours_column=r"^ours mean$", key_row="Latif et al. 2020: Real+Syn."),
        Headline("table4", "Table 4, across corpora (UAR %)", "IEMOCAP -> MSP-IMPROV",
                 paper_columns=(r"^paper ",), ours_column=r"^ours mean$", key_row="Latif et al. 2020: Real+Syn.",
                 corpus_keys=("corpus", "cross_corpus"),
                 optional="saved only when the cross-corpus part ran (`cross_corpus` not empty)"),
    )),
    ChapterEntry("03_ahn_infogan", "Ahn et al.: InfoGAN with mutual information", "serlib.experiments.ahn", (
        Headline("table_ii", "Table II, without vs with augmentation (UAR %)", "IEMOCAP",
                 paper_columns=(r"^paper ",), ours_column=r"^mean$", key_row="Ours — with augmentation"),
        Headline("table_iii", "Table III, the ablation (UAR %)", "IEMOCAP",
                 paper_columns=(r"^paper ",), ours_column=r"^mean$", key_row="Full model"),
    )),
    ChapterEntry("04_leow_speaker_adversarial", "Leow et al.: speaker-invariant SER with adversarial learning",
                 "serlib.experiments.leow", (
        Headline("table1", "Table 1, CNN depth x gamma, 2D CNN biGRU (accuracy %)", "Emo-DB, RAVDESS",
                 paper_columns=(r"^paper accuracy, Emo-DB", r"^paper accuracy, RAVDESS"),
                 ours_column=r"^ours accuracy \(%\)$", key_row="1 / 2.50"),
        Headline("table2", "Table 2, three encoders with adversarial learning (accuracy %)", "Emo-DB, RAVDESS",
                 paper_columns=(r"^paper accuracy, Emo-DB", r"^paper accuracy, RAVDESS"),
                 ours_column=r"^ours accuracy \(%\)$", key_row="2D CNN biGRU (MFCC)"),
        Headline("real_speech", "On real speech: the 2D CNN biGRU without AL, one change at a time (accuracy %)",
                 paper_corpus="", ours_column=r"^without AL: accuracy \(%\)$",
                 optional="saved only when the ablation ran (`ablation` true and the 2D CNN biGRU among `encoders`)"),
    )),
    ChapterEntry("05_pereira2018_began", "Pereira et al. 2018: BEGAN pretraining on unlabelled speech",
                 "serlib.experiments.pereira2018", (
        Headline("table1_speaker_dependent", "Table 1, speaker-dependent protocol (accuracy %)", "SAVEE",
                 paper_columns=(r"^paper: Pereira",), ours_column=r"^ours \(.*\): BEGAN encoder",
                 key_row="mean over speakers",
                 optional="saved only when the speaker-dependent protocol ran (`protocols`; in the paper "
                          "profile, `savee_root` given)"),
        Headline("table3_loso", "Table 3, leave-one-speaker-out (accuracy %)", "Emo-DB",
                 pairs=(("BEGAN encoder + supervised module",
                         (r"^Pereira et al\. \(BEGAN", r"^paper: accuracy"),
                         (r"^BEGAN encoder \(pretrained", r"^ours \(.*\) accuracy")),),
                 optional="saved only when the leave-one-speaker-out protocol ran (`protocols`; in the paper "
                          "profile, `emodb_root` given)"),
    )),
)
"""Every chapter of the book, in order, with the tables the results overview shows."""


def chapter(stem: str) -> ChapterEntry:
    """The registry entry of notebook ``stem`` (e.g. ``"04_leow_speaker_adversarial"``)."""
    for entry in CHAPTERS:
        if entry.stem == stem:
            return entry
    raise KeyError(f"no chapter {stem!r} in serlib.overview.CHAPTERS; known: {[c.stem for c in CHAPTERS]}")


# ---------------------------------------------------------------------------------------------
# Loading saved results
# ---------------------------------------------------------------------------------------------
def _chapters_dir(chapters_dir: str | Path | None) -> Path:
    return Path(chapters_dir) if chapters_dir is not None else project_root() / "book" / "chapters"


def results_folder(stem: str, chapters_dir: str | Path | None = None) -> Path:
    """``<chapters_dir>/<stem>.results`` (default ``book/chapters``, where ``serbook run`` writes)."""
    return _chapters_dir(chapters_dir) / f"{stem}.results"


def run_command(stem: str, profile: str = "book") -> str:
    """The command that executes chapter ``stem`` and writes its results."""
    return f"serbook run notebooks/{stem}.py -p profile={profile}"


def _missing(path: Path, stem: str, profile: str, what: str) -> ResultsMissing:
    return ResultsMissing(f"{path} not found ({what}); produce it with `{run_command(stem, profile)}`")


def load_run(stem: str, chapters_dir: str | Path | None = None, profile: str = "book") -> dict[str, Any]:
    """The ``run.json`` that ``serbook run`` wrote for chapter ``stem``, with ``profile`` filled in.

    ``profile`` only shapes the command suggested when the file is missing.
    """
    path = results_folder(stem, chapters_dir) / "run.json"
    if not path.exists():
        raise _missing(path, stem, profile, f"chapter {stem} has not been executed")
    try:
        run = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ResultsMissing(f"{path} is not valid JSON ({exc}); run `{run_command(stem, profile)}` again") from None
    params = dict(run.get("parameters") or {})
    run["profile"] = params.get("profile", "book")  # the notebooks' own default
    return run


def load_headline(stem: str, name: str, chapters_dir: str | Path | None = None,
                  profile: str = "book") -> tuple[pd.DataFrame, dict[str, Any]]:
    """A saved table ``<name>.csv`` of chapter ``stem`` and the metadata of its ``<name>.json``."""
    folder = results_folder(stem, chapters_dir)
    csv = folder / f"{name}.csv"
    if not csv.exists():
        raise _missing(csv, stem, profile, f"table {name!r} of chapter {stem}")
    meta_path = folder / f"{name}.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    table = load_table(csv)
    table.index = table.index.map(str)
    return table, meta


@dataclass
class ChapterResults:
    """What one chapter saved: ``run`` (run.json), the headline ``tables`` with their ``meta``,
    and ``absent``: optional headline tables this run did not produce, with the reason."""

    entry: ChapterEntry
    run: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    absent: dict[str, str] = field(default_factory=dict)

    @property
    def profile(self) -> str:
        return str(self.run["profile"])

    @property
    def seconds(self) -> float:
        return float(self.run.get("seconds", math.nan))


STALE_SLACK_S = 60.0
"""A table older than its run's start (run.json's time minus the run's seconds) by more than this
was written by an earlier run."""


def _stale(csv: Path, run_json: Path, run: dict[str, Any]) -> bool:
    start = run_json.stat().st_mtime - float(run.get("seconds") or 0.0)
    return csv.stat().st_mtime < start - STALE_SLACK_S


def load_chapter(entry: ChapterEntry | str, chapters_dir: str | Path | None = None,
                 profile: str = "book") -> ChapterResults:
    """run.json and the headline tables of one chapter.

    A required table that is missing, or older than the run that run.json records (left by an
    earlier run), is an error. An optional table the run did not write is listed in ``absent``
    with the reason; one left by an earlier run is listed there too, not shown as this run's.
    """
    entry = chapter(entry) if isinstance(entry, str) else entry
    out = ChapterResults(entry, load_run(entry.stem, chapters_dir, profile))
    folder = results_folder(entry.stem, chapters_dir)
    for h in entry.headlines:
        csv = folder / f"{h.name}.csv"
        if h.optional and not csv.exists():
            out.absent[h.name] = h.optional
            continue
        if csv.exists() and _stale(csv, folder / "run.json", out.run):
            if h.optional:
                out.absent[h.name] = f"{h.optional}; {csv.name} is left from an earlier run and was not read"
                continue
            raise ResultsMissing(f"{csv} is older than the run recorded in {folder / 'run.json'}: it is left from "
                                 f"an earlier run; produce it with `{run_command(entry.stem, profile)}`")
        out.tables[h.name], out.meta[h.name] = load_headline(entry.stem, h.name, chapters_dir, profile)
    return out


def load_all(chapters_dir: str | Path | None = None, profile: str = "book",
             stems: Sequence[str] | None = None) -> list[ChapterResults]:
    """Every chapter's results (or those of ``stems``), in book order.

    Raises one :class:`ResultsMissing` that lists every missing file and its command.
    """
    check_choice("profile", profile, PROFILES)
    entries = [chapter(s) for s in stems] if stems is not None else list(CHAPTERS)
    out, problems = [], []
    for entry in entries:
        try:
            out.append(load_chapter(entry, chapters_dir, profile))
        except ResultsMissing as exc:
            problems.append(str(exc))
    if problems:
        raise ResultsMissing("the results overview needs every chapter's saved results:\n  "
                             + "\n  ".join(problems))
    return out


# ---------------------------------------------------------------------------------------------
# Comparing ours with the paper's
# ---------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)")


def _value(cell: Any) -> float:
    """A table cell as a number: numbers as they are, ``"52.50 ± 8.48"`` -> 52.5, blanks -> NaN."""
    if cell is None:
        return math.nan
    if isinstance(cell, (int, float)):
        return float(cell)
    m = _NUMBER.match(str(cell))
    return float(m.group(1)) if m else math.nan


def _columns(table: pd.DataFrame, pattern: str) -> list[str]:
    return [c for c in table.columns if re.search(pattern, str(c))]


def _one(items: list[str], what: str, pattern: str, name: str, choices: Sequence[str]) -> str:
    if not items:
        raise KeyError(f"table {name!r}: no {what} matches {pattern!r}; it has {list(choices)}. "
                       "The chapter's table changed: update serlib.overview.CHAPTERS")
    return items[0]


@dataclass(frozen=True)
class Comparison:
    """One of our numbers beside the paper's."""

    row: str
    paper_column: str
    paper: float
    ours: float

    @property
    def difference(self) -> float:
        return self.ours - self.paper


def compare(table: pd.DataFrame, headline: Headline) -> list[Comparison]:
    """Every (row, paper column) where both the paper's number and ours are present.

    A pattern of ``headline`` that matches no column (or row) is a :class:`KeyError` naming the
    table: the registry no longer fits what the chapter saves.
    """
    out: list[Comparison] = []
    if headline.paper_columns:
        ours_col = _one(_columns(table, headline.ours_column or "$^"), "column of ours", str(headline.ours_column),
                        headline.name, table.columns)
        paper_cols = [c for p in headline.paper_columns for c in _columns(table, p)]
        _one(paper_cols, "paper column", " | ".join(headline.paper_columns), headline.name, table.columns)
        for pc in paper_cols:
            for row in table.index:
                if str(row) in headline.skip_rows:
                    continue
                p, o = _value(table.at[row, pc]), _value(table.at[row, ours_col])
                if not (math.isnan(p) or math.isnan(o)):
                    out.append(Comparison(str(row), pc, p, o))
    for label, (prow, pcol), (orow, ocol) in headline.pairs:
        pc = _one(_columns(table, pcol), "paper column", pcol, headline.name, table.columns)
        oc = _one(_columns(table, ocol), "column of ours", ocol, headline.name, table.columns)
        rows = [str(r) for r in table.index]
        pr = _one([r for r in rows if re.search(prow, r)], "paper row", prow, headline.name, rows)
        ours_rows = [r for r in rows if re.search(orow, r)]
        if not ours_rows:  # the method did not run in this configuration: nothing to compare
            continue
        p, o = _value(table.at[pr, pc]), _value(table.at[ours_rows[0], oc])
        if not (math.isnan(p) or math.isnan(o)):
            out.append(Comparison(label, pc, p, o))
    return out


def _fmt(v: float, unit: str) -> str:
    return f"{v:.1f}" if unit == "%" else f"{v:.2f}"


def _diff(v: float, unit: str) -> str:
    return f"{v:+.1f} points" if unit == "%" else f"{v:+.2f}"


def _setting(res: ChapterResults, meta: dict[str, Any], key: str) -> str:
    """A configuration value of the run: from the table's metadata, else run.json, else the profile's default."""
    for source in (meta, meta.get("config"), res.run.get("parameters")):
        if isinstance(source, dict) and source.get(key) not in (None, ""):
            return str(source[key])
    return str(res.entry.config.defaults(res.profile).get(key) or "")


LEVEL = {"%": 0.05, "": 0.005}
"""Differences no larger than this (half the last digit shown) count as level."""


def headline_sentence(res: ChapterResults, name: str) -> str:
    """A sentence, computed from the saved table, saying which side is ahead (markdown)."""
    h = next(x for x in res.entry.headlines if x.name == name)
    if name in res.absent:
        return f"**{h.title}**: not produced by this run ({res.absent[name]})."
    table = res.tables[name]
    if not h.paper_columns and not h.pairs:  # a table of ours only
        col = _one(_columns(table, h.ours_column or "$^"), "column of ours", str(h.ours_column), name, table.columns)
        parts = [f"{row} {_fmt(_value(v), h.unit)}" for row, v in table[col].items() if not math.isnan(_value(v))]
        return f"**{h.title}**: " + "; ".join(parts) + "."
    comps = compare(table, h)
    meta = res.meta.get(name, {})
    corpus = " -> ".join(f"`{v}`" for v in (_setting(res, meta, k) for k in h.corpus_keys) if v)
    where = f" Ours come from {corpus or 'this run'} (profile `{res.profile}`), the paper's from {h.paper_corpus}."
    if not comps:
        return f"**{h.title}**: no row has both the paper's number and ours in this run.{where}"
    tol = LEVEL.get(h.unit, 0.0)

    def way(d: float) -> str:
        return claims.compare(d, 0.0, margin=tol)

    def side(d: float) -> str:
        return {claims.AHEAD: "ahead of the paper", claims.BEHIND: "behind the paper",
                claims.TIE: "level with the paper", claims.INCONCLUSIVE: "not comparable with the paper"}[way(d)]

    text = []
    for pc in dict.fromkeys(c.paper_column for c in comps):
        cs = [c for c in comps if c.paper_column == pc]
        against = f" (paper column `{pc}`)" if len({c.paper_column for c in comps}) > 1 else ""
        if len(cs) == 1:
            c = cs[0]
            text.append(f"on *{c.row}*{against} this run is {side(c.difference)}: {_fmt(c.ours, h.unit)} against "
                        f"{_fmt(c.paper, h.unit)} ({_diff(c.difference, h.unit)})")
            continue
        ahead = sum(way(c.difference) == claims.AHEAD for c in cs)
        behind = sum(way(c.difference) == claims.BEHIND for c in cs)
        level = len(cs) - ahead - behind
        mean = sum(c.difference for c in cs) / len(cs)
        s = (f"over the {len(cs)} rows with both numbers{against} this run is {side(mean)} on average "
             f"({_diff(mean, h.unit)}; higher on {ahead}, lower on {behind}" + (f", level on {level}" if level else "")
             + ")")
        key = next((c for c in cs if h.key_row and c.row == h.key_row), None)
        if key is not None:
            s += (f"; on the headline row *{key.row}*, {_fmt(key.ours, h.unit)} here against "
                  f"{_fmt(key.paper, h.unit)} ({_diff(key.difference, h.unit)})")
        text.append(s)
    return f"**{h.title}**: " + "; ".join(text) + "." + where


CLAIMS_TABLE = "claims"
"""The table every chapter saves at the end of its results: the paper's claims beside this run's
measurements, with a verdict (:func:`serlib.claims.claims_table`)."""


def claims_across_book(chapters_dir: str | Path | None = None, records: Mapping[str, Sequence[Any]] | None = None,
                       stems: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every chapter's claims table in one: from the book's own run (``chapters_dir``) and from
    each run recorded on a real corpus, in book order. ``records`` maps a chapter's stem to its
    recorded runs (:func:`serlib.recorded.load_recorded`, which reads
    ``book/results/<chapter>/<corpus>/``); a chapter it leaves out has none.

    Returns the table (indexed by "Chapter", then the column "Run" saying which run, then the
    chapter's own columns; every cell text, a missing one "—") and the sentences to show beside
    it: one for each run that has no claims table (a recorded run that predates it, or a
    chapter run before it existed, or a table left from an earlier run), naming what to do.
    """
    entries = [chapter(x) for x in stems] if stems is not None else list(CHAPTERS)
    parts, notes = [], []

    def add(csv: Path, title: str, run: str) -> None:
        # every cell as written: a paper's "+0.87" stays "+0.87", not the number 0.87
        t = pd.read_csv(csv, index_col=0, dtype=str, keep_default_na=False)
        t.index = t.index.map(str).rename(claims.CLAIM_HEADER)
        t = t.reset_index()
        t.insert(0, "Run", run)
        t.insert(0, "Chapter", title)
        parts.append(t)

    for entry in entries:
        folder = results_folder(entry.stem, chapters_dir)
        csv, run_json = folder / f"{CLAIMS_TABLE}.csv", folder / "run.json"
        if not run_json.exists():
            notes.append(f"{entry.title}: not run in this build, so it has no claims to list; "
                         f"`{run_command(entry.stem)}` runs it.")
        elif not csv.exists():
            notes.append(f"{entry.title}: this build's run has no claims table (it predates it); "
                         f"`{run_command(entry.stem)}` writes one.")
        else:
            run = json.loads(run_json.read_text())
            if _stale(csv, run_json, run):
                notes.append(f"{entry.title}: the claims table in {folder} is left from an earlier run and was not "
                             f"read; `{run_command(entry.stem)}` writes this run's.")
            else:
                profile = (run.get("parameters") or {}).get("profile", "book")
                names = ", ".join(dict.fromkeys(str(c.get("name")) for c in run.get("corpora") or []
                                                if c.get("role", "main") == "main"))
                add(csv, entry.title, f"this build ({names or 'corpus not recorded'}, profile {profile})")
        for rec in (records or {}).get(entry.stem, ()):
            if CLAIMS_TABLE in rec.tables:
                add(Path(rec.folder) / f"{CLAIMS_TABLE}.csv", entry.title, f"recorded on {rec.corpus}")
            else:
                notes.append(f"{entry.title}: the run recorded on {rec.corpus} predates the claims table, so its "
                             "claims are not listed here (its tables are in the chapter's section above).")
    columns = ["Chapter", "Run", claims.CLAIM_HEADER, claims.PAPER_HEADER, claims.RUN_HEADER, claims.VERDICT_HEADER]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    table = table.reindex(columns=columns).astype(object)
    table = table.where(table.notna() & (table != ""), claims.MISSING)
    return table.set_index("Chapter"), notes


def headline_table(res: ChapterResults, name: str) -> pd.DataFrame:
    """The saved table as the chapter saved it (a page shows its blank cells as dashes, see
    :func:`serlib.tables.to_html`)."""
    return res.tables[name]


def timing_table(results: Sequence[ChapterResults], profile: str | None = None) -> pd.DataFrame:
    """One row per chapter from its run.json (profile, seconds, minutes, peak memory, the
    parameters set besides the profile) and a ``total`` row; with ``profile``, a column saying
    whether each chapter was run with it."""
    rows = []
    for r in results:
        params = {k: v for k, v in (r.run.get("parameters") or {}).items() if k != "profile"}
        rows.append({"chapter": r.entry.stem, "profile": r.profile, "seconds": r.seconds,
                     "minutes": round(r.seconds / 60, 1),
                     "peak memory (MiB)": _float(r.run.get("peak_rss_mib")),
                     "other parameters": ", ".join(f"{k}={v}" for k, v in params.items()),
                     **({"as the book's profile": "yes" if r.profile == profile else "no"} if profile else {})})
    if rows:
        total = sum(row["seconds"] for row in rows)
        rows.append({"chapter": "total", "profile": "", "seconds": total, "minutes": round(total / 60, 1),
                     "peak memory (MiB)": max((row["peak memory (MiB)"] for row in rows
                                               if not math.isnan(row["peak memory (MiB)"])), default=math.nan),
                     "other parameters": "", **({"as the book's profile": ""} if profile else {})})
    return pd.DataFrame(rows).set_index("chapter") if rows else pd.DataFrame()


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def corpus_text(run: dict[str, Any]) -> str:
    """Where a run's numbers come from, from its ``run.json`` provenance, in one line.

    ``"emodb (main) at /data/emodb: 400 of 535: speakers 13, 16 missing (132 files); allow_partial"``;
    ``"not recorded"`` for a run written before provenance was kept.
    """
    corpora = run.get("corpora")
    if corpora is None:
        return "not recorded (run.json without provenance; run the chapter again)"
    if not corpora:
        return "no corpus loaded"
    parts = []
    for c in corpora:
        cov = c.get("coverage") or {}
        # the corpus's folder is a path of the machine that ran the chapter: not for the page
        parts.append(f"{c.get('name')} ({c.get('role', 'main')}): {cov.get('summary', 'coverage not recorded')}")
    partial = any((c.get("coverage") or {}).get("complete") is False for c in corpora)
    return "; ".join(parts) + ("; allow_partial=true" if partial and run.get("allow_partial") else "")


def provenance_table(results: Sequence[ChapterResults]) -> pd.DataFrame:
    """One row per chapter: the corpora its numbers come from with their coverage, whether all
    are complete, ``allow_partial``, the git commit (``+dirty``) and the device, from ``run.json``."""
    rows = []
    for r in results:
        corpora = r.run.get("corpora")
        complete = None if corpora is None else all(
            (c.get("coverage") or {}).get("complete") is not False for c in corpora)
        git = r.run.get("git") or {}
        commit = (git.get("commit") or "")[:10] + ("+dirty" if git.get("dirty") else "")
        rows.append({"chapter": r.entry.stem, "profile": r.profile, "corpora and coverage": corpus_text(r.run),
                     "complete": {None: "", True: "yes", False: "no"}[complete],
                     "allow_partial": "yes" if r.run.get("allow_partial") else "no",
                     "commit": commit, "device": r.run.get("device") or ""})
    return pd.DataFrame(rows).set_index("chapter") if rows else pd.DataFrame()


# ---------------------------------------------------------------------------------------------
# The parameters reference
# ---------------------------------------------------------------------------------------------
def notebook_parameters(stem: str, notebooks_dir: str | Path | None = None) -> dict[str, str]:
    """Names assigned in the ``parameters`` cell of ``notebooks/<stem>.py`` -> their comment."""
    import jupytext

    path = Path(notebooks_dir or project_root() / "notebooks") / f"{stem}.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the notebook source of chapter {stem}")
    nb = jupytext.read(path)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            lines = cell.source.splitlines()
            out = {}
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                for t in targets:
                    if isinstance(t, ast.Name):
                        line = lines[node.lineno - 1]
                        out[t.id] = line.split("#", 1)[1].strip() if "#" in line else ""
            return out
    raise ValueError(f"{path}: no cell tagged 'parameters'")


def _show(v: Any) -> str | None:
    """A default as the parameters table shows it; None stays missing, which the page shows as a
    dash with a line saying that the chapter's default applies (:mod:`serlib.tables`)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v if v else '""'
    return repr(v)


def parameters_reference(stem: str, notebooks_dir: str | Path | None = None) -> pd.DataFrame:
    """Every parameter of chapter ``stem``: its default per profile, the paper's value, the meaning,
    and whether the notebook's ``parameters`` cell lets ``-p`` set it.

    Built from the chapter's ``Config`` (:meth:`~serlib.params.ChapterConfig.reference` and
    :meth:`~serlib.params.ChapterConfig.defaults`) and the notebook's ``parameters`` cell; a
    name in the cell that ``Config`` does not declare (``profile``) is listed with its comment.
    """
    cfg = chapter(stem).config
    cell = notebook_parameters(stem, notebooks_dir)
    ref = cfg.reference()
    defaults = {p: cfg.defaults(p) for p in PROFILES}
    rows = []
    for name in [n for n in cell if n not in ref.index]:
        rows.append({"parameter": name, "set with -p": "yes", "smoke": "smoke" if name == "profile" else "",
                     "book": "book" if name == "profile" else "", "paper": "paper" if name == "profile" else "",
                     "paper's value": "", "meaning": cell[name]})
    for name in ref.index:
        meaning = str(ref.at[name, "meaning"] or "") or cell.get(name, "")
        rows.append({"parameter": name, "set with -p": "yes" if name in cell else "no",
                     **{p: _show(defaults[p][name]) for p in PROFILES},
                     "paper's value": str(ref.at[name, "paper's value"] or ""), "meaning": meaning})
    return pd.DataFrame(rows).set_index("parameter")

