"""Results on real corpora, recorded in the repository and shown in the book without the corpora.

A chapter run on a real corpus (``serbook run notebooks/04_leow_speaker_adversarial.py
-p corpus=emodb ...``) writes its result tables and ``run.json`` into
``book/chapters/<stem>.results/``, which is not committed. :func:`add_run` (``serbook results add
RUN_DIR``) copies the tables (``*.csv`` and their ``*.json`` metadata) and the run's provenance
into ``book/results/<stem>/<corpus>/``, to be committed; never audio, features or utterance ids.
It refuses a run whose ``run.json`` does not say which corpus it read (the ``"corpora"`` list),
or that read only the embedded corpus.

:func:`load_recorded` reads them back, and :func:`show` displays, in a chapter or in the results
overview, each recorded corpus's headline tables with a provenance line (corpus, coverage,
commit, device, date, parameters), or one sentence saying how a reader who holds the corpus adds
them.

``SERBOOK_RECORDED_DIR`` moves ``book/results`` elsewhere (the tests use it).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .config import project_root

__all__ = [
    "EMBEDDED",
    "FORBIDDEN_COLUMNS",
    "RecordRefused",
    "RecordedRun",
    "add_run",
    "add_sentence",
    "load_recorded",
    "provenance_line",
    "real_corpora",
    "recorded_dir",
    "show",
]

EMBEDDED = "embedded"
"""The ``name`` of the generated corpus in run.json's ``"corpora"`` list."""

FORBIDDEN_COLUMNS = frozenset({"utt_id", "path", "file", "filename", "wav", "audio"})
"""Columns (or index names) that would publish a corpus's utterances: a table with one is not copied."""

EXAMPLE_CORPUS = {"01_sahu2018_gan": "iemocap", "02_latif2020_mixup_gan": "iemocap", "03_ahn_infogan": "iemocap"}
"""The real corpus the sentence of :func:`add_sentence` names per chapter (default ``emodb``)."""

REQUIRED_KEYS = ("notebook", "parameters", "finished", "corpora")
"""run.json keys without which a run is not recorded."""


class RecordRefused(ValueError):
    """A run that :func:`add_run` will not record; the message says why and what to do."""


def recorded_dir(results_root: str | Path | None = None) -> Path:
    """``results_root``, else ``$SERBOOK_RECORDED_DIR``, else ``book/results`` in the project."""
    if results_root is not None:
        return Path(results_root)
    env = os.environ.get("SERBOOK_RECORDED_DIR")
    return Path(env) if env else project_root() / "book" / "results"


def real_corpora(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries of run.json's ``"corpora"`` that name a real corpus (not the embedded one)."""
    return [c for c in run.get("corpora") or [] if isinstance(c, dict) and c.get("name") not in (None, "", EMBEDDED)]


def _run_folder(run_dir: str | Path) -> Path:
    """``X.results/`` as given, or the ``X.results/`` beside an executed notebook ``X.ipynb``."""
    p = Path(run_dir)
    if p.suffix == ".ipynb":
        p = p.with_suffix(".results")
    if not p.is_dir():
        raise FileNotFoundError(f"{p} is not a folder: give the <chapter>.results/ folder that `serbook run` wrote "
                                "next to the executed notebook, e.g. book/chapters/04_leow_speaker_adversarial.results")
    return p


def _read_run(folder: Path) -> dict[str, Any]:
    path = folder / "run.json"
    if not path.exists():
        raise RecordRefused(f"{path} not found: {folder} holds no record of a `serbook run`, so its provenance is "
                            "unknown; run the chapter with `serbook run` and give its .results folder")
    try:
        run = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RecordRefused(f"{path} is not valid JSON ({exc}); run the chapter again") from None
    missing = [k for k in REQUIRED_KEYS if k not in run]
    if missing:
        raise RecordRefused(
            f"{path} lacks the provenance {missing}"
            + (" (which corpus the run read, with its fingerprint and coverage)" if "corpora" in missing else "")
            + "; run the chapter again with this serlib's `serbook run`, which records it")
    if not isinstance(run["corpora"], list) or not run["corpora"]:
        raise RecordRefused(f"{path}: 'corpora' is empty; the run's corpus is unknown, so it is not recorded")
    if not real_corpora(run):
        names = sorted({str(c.get("name")) for c in run["corpora"] if isinstance(c, dict)})
        raise RecordRefused(f"{path}: this run read only {names}, not a real corpus; the book already shows the "
                            "embedded corpus's numbers. Record a run made with -p corpus=<real corpus>")
    return run


def _chapter_stem(folder: Path, run: dict[str, Any]) -> str:
    from .overview import CHAPTERS

    stem = Path(str(run["notebook"])).stem
    known = [c.stem for c in CHAPTERS]
    if stem not in known:
        raise RecordRefused(f"{folder / 'run.json'}: notebook {run['notebook']!r} is not a chapter whose results the "
                            f"book shows ({known})")
    return stem


def _main_corpus(run: dict[str, Any]) -> str:
    """The corpus a run is recorded under: the one in the role ``main``; else the run's ``corpus``
    parameter; else the first real corpus that is not a pretraining corpus (chapter 5 pretrains on
    LibriSpeech and evaluates on another corpus)."""
    real = real_corpora(run)
    main = next((c for c in real if c.get("role") == "main"), None)
    if main is None:
        named = (run.get("parameters") or {}).get("corpus")
        main = next((c for c in real if c.get("name") == named), None)
    if main is None:
        main = next((c for c in real if c.get("role") != "pretrain"), real[0])
    return str(main["name"])


def _table_allowed(csv: Path) -> str:
    """Empty if ``csv`` may be published, else the reason it may not."""
    try:
        head = pd.read_csv(csv, nrows=5)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return f"not a readable table ({exc})"
    names = {str(c).strip().lower() for c in head.columns}
    bad = sorted(names & FORBIDDEN_COLUMNS)
    return f"has per-utterance column(s) {bad}" if bad else ""


def _local_path(value: str) -> bool:
    """Whether ``value`` names a file or folder on the contributor's machine (an absolute or
    home-relative path), which a published record leaves out."""
    return value.startswith(("/", "~", "\\\\")) or (len(value) > 2 and value[1] == ":" and value[2] in "/\\")


def _without_local_paths(obj: Any) -> Any:
    """``obj`` (JSON-like) with every string that is a local path replaced by ``None``."""
    if isinstance(obj, dict):
        return {k: _without_local_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_without_local_paths(v) for v in obj]
    if isinstance(obj, str) and _local_path(obj):
        return None
    return obj


def _public_run(run: dict[str, Any]) -> dict[str, Any]:
    """run.json as published: the contributor's local folders and files (corpus roots, data
    roots, cache files) left out; everything else as the run wrote it."""
    return _without_local_paths(json.loads(json.dumps(run, default=str)))


def _public_meta(path: Path) -> str:
    """A table's metadata file as published: its local paths left out, like run.json's."""
    return json.dumps(_without_local_paths(json.loads(path.read_text())), indent=2) + "\n"


def add_run(run_dir: str | Path, results_root: str | Path | None = None) -> Path:
    """Record a real-corpus run's result tables and provenance in ``book/results/<stem>/<corpus>/``.

    Parameters
    ----------
    run_dir
        The ``<stem>.results/`` folder ``serbook run`` wrote (or the executed ``<stem>.ipynb``
        beside it).
    results_root
        Where the records go (default :func:`recorded_dir`, ``book/results``).

    Returns
    -------
    Path
        The folder written, ``<results_root>/<stem>/<corpus>/``. An earlier record of the same
        chapter and corpus is replaced as a whole (written beside it, then swapped in).

    Raises
    ------
    RecordRefused
        The run lacks provenance (no ``run.json``, or no ``"corpora"`` in it), read only the
        embedded corpus, is not a chapter of the book, or saved no publishable table.
    """
    folder = _run_folder(run_dir)
    run = _read_run(folder)
    stem = _chapter_stem(folder, run)
    corpus = _main_corpus(run)
    tables, skipped = [], []
    for csv in sorted(folder.glob("*.csv")):
        why = _table_allowed(csv)
        (skipped.append(f"{csv.name}: {why}") if why else tables.append(csv))
    if not tables:
        raise RecordRefused(f"{folder} holds no result table that can be published"
                            + (f" ({'; '.join(skipped)})" if skipped else "") + "; was the run complete?")
    dest = recorded_dir(results_root) / stem / corpus
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{corpus}.", dir=dest.parent))
    try:
        for csv in tables:
            shutil.copy2(csv, tmp / csv.name)
            meta = csv.with_suffix(".json")
            if meta.exists():
                (tmp / meta.name).write_text(_public_meta(meta))
        (tmp / "run.json").write_text(json.dumps(_public_run(run), indent=2) + "\n")
        if skipped:
            (tmp / "SKIPPED.txt").write_text("tables not copied:\n" + "\n".join(skipped) + "\n")
        old = dest.with_name(f".{corpus}.old")
        if dest.exists():
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        tmp.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------------------------------------
# Reading records back
# ---------------------------------------------------------------------------------------------
@dataclass
class RecordedRun:
    """One recorded real-corpus run of a chapter: its ``run.json`` and its tables."""

    stem: str
    corpus: str
    folder: Path
    run: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_recorded(stem: str, results_root: str | Path | None = None) -> list[RecordedRun]:
    """Every recorded corpus of chapter ``stem``, sorted by corpus name (empty if none).

    A record folder without ``run.json`` is an error that names it (a record is never shown
    without its provenance).
    """
    base = recorded_dir(results_root) / stem
    out = []
    for folder in sorted(p for p in base.glob("*") if p.is_dir() and not p.name.startswith(".")):
        path = folder / "run.json"
        if not path.exists():
            raise RecordRefused(f"{folder} has no run.json: a record without provenance is not shown; record the run "
                                f"again with `serbook results add <chapter>.results`, or delete {folder}")
        rec = RecordedRun(stem, folder.name, folder, json.loads(path.read_text()))
        rec.run["profile"] = (rec.run.get("parameters") or {}).get("profile", "book")
        for csv in sorted(folder.glob("*.csv")):
            table = pd.read_csv(csv, index_col=0)
            table.index = table.index.map(str)
            rec.tables[csv.stem] = table
            meta = csv.with_suffix(".json")
            rec.meta[csv.stem] = json.loads(meta.read_text()) if meta.exists() else {}
        out.append(rec)
    return out


def _coverage(entry: dict[str, Any]) -> str:
    cov = entry.get("coverage") or {}
    if cov.get("summary"):
        return str(cov["summary"])
    loaded, expected = cov.get("loaded"), cov.get("expected")
    if loaded is None:
        return "coverage not recorded"
    if expected:
        return f"{loaded} of {expected} files" + ("" if cov.get("complete") else " (partial)")
    return f"{loaded} files"


def provenance_line(rec: RecordedRun) -> str:
    """One line (markdown): corpus and coverage, commit, device, date, profile and parameters."""
    corpora = "; ".join(f"`{c.get('name')}`" + (f" ({c['role']})" if c.get("role") else "") + f": {_coverage(c)}"
                        for c in real_corpora(rec.run))
    git = rec.run.get("git") or {}
    commit = str(git.get("commit") or (rec.run.get("versions") or {}).get("git_commit") or "unknown")[:12]
    dirty = " (with uncommitted changes)" if git.get("dirty") else ""
    params = {k: v for k, v in (rec.run.get("parameters") or {}).items() if k not in ("profile", "data_root")}
    return (f"*Provenance*: {corpora} · commit `{commit}`{dirty} · device `{rec.run.get('device') or 'unknown'}` · "
            f"{rec.run.get('finished', 'date unknown')} · profile `{rec.run['profile']}`"
            + (" · parameters " + ", ".join(f"`{k}={json.dumps(v, default=str)}`" for k, v in params.items())
               if params else ""))


def add_sentence(stem: str) -> str:
    """How a reader who holds a real corpus records its results for chapter ``stem`` (markdown)."""
    corpora = EXAMPLE_CORPUS.get(stem, "emodb")
    return (f"No results on a real corpus are recorded for this chapter yet; a reader who holds one adds them with "
            f"`serbook run notebooks/{stem}.py -p corpus={corpora} -p data_root=/path/to/corpus` followed by "
            f"`serbook results add book/chapters/{stem}.results`, commits `book/results/{stem}/`, and rebuilds "
            "the book.")


def show(stem: str, names: Sequence[str] | None = None, results_root: str | Path | None = None) -> None:
    """Display the recorded real-corpus results of chapter ``stem`` in a notebook.

    For each recorded corpus: a heading, the provenance line, then each headline table of the
    chapter (``names``, default the chapter's :data:`serlib.overview.CHAPTERS` entries) with the
    sentence :func:`serlib.overview.headline_sentence` computes from it. With none recorded,
    the one sentence of :func:`add_sentence`. Returns nothing, so the notebook cell that calls it
    shows only what it displays.
    """
    from IPython.display import Markdown, display

    from .overview import ChapterResults, chapter, headline_sentence

    entry = chapter(stem)
    records = load_recorded(stem, results_root)
    if not records:
        display(Markdown(add_sentence(stem)))
        return
    wanted = list(names) if names is not None else [h.name for h in entry.headlines]
    for rec in records:
        display(Markdown(f"**On `{rec.corpus}`** (recorded run)  \n{provenance_line(rec)}"))
        res = ChapterResults(entry, rec.run, tables={n: t for n, t in rec.tables.items() if n in wanted},
                             meta=rec.meta)
        for h in entry.headlines:
            if h.name not in wanted:
                continue
            if h.name not in rec.tables:
                res.absent[h.name] = h.optional or "this run saved no such table"
            try:
                sentence = headline_sentence(res, h.name)
            except KeyError as exc:  # recorded by another version of the chapter: show the table as it is
                sentence = f"**{h.title}**: no comparison computed ({exc.args[0]})."
            display(Markdown(sentence))
            if h.name in rec.tables:
                display(rec.tables[h.name])  # blank cells shown as dashes (serlib.tables)
