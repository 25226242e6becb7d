"""What every real-corpus loader shares: options, roots, label-file reading, audio headers,
counted skips, the final table, and the ``serbook data check`` report.

A loader works in two steps, and ``validate`` is the first of them plus a header check:

1. ``_scan(root, ...)`` reads the corpus's *own* label files and folder names and returns a
   :class:`Scan`: one candidate row per utterance that the label map keeps, and the
   :class:`~serlib.data.corpus.LayoutProblem` findings met on the way (``"error"`` stops
   loading, ``"warning"`` marks something that will be skipped or left blank).
2. :func:`finish` reads each candidate's audio *header* (never its samples), skips and counts
   what cannot be used (missing, empty, unreadable, zero frames, duplicate ids), warns about
   unexpected sample rates (the row is kept; :func:`serlib.audio.load` resamples), and builds
   the :class:`~serlib.data.corpus.Corpus`.

Every skip is logged and lands in ``corpus.meta["skipped"]`` as ``(path, reason)``;
``corpus.meta["counts"]`` holds the utterances per label after skips.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..audio import AudioError, AudioInfo
from ..audio import info as audio_info
from ..config import ParameterError
from .corpus import REQUIRED_COLUMNS, Corpus, CorpusError, LayoutProblem

__all__ = [
    "DUPLICATE",
    "EMPTY",
    "MISSING",
    "UNREADABLE",
    "ZERO_FRAMES",
    "Probe",
    "Scan",
    "absolute",
    "audio_problems",
    "check_options",
    "finish",
    "format_report",
    "gender_from_word",
    "locate",
    "parse_float",
    "probe",
    "read_csv_table",
    "read_lines",
    "select_many",
    "validate_scan",
    "visible",
]

# Reasons for a counted skip (also the ``problem`` text of the matching warning, so the report
# groups them).
MISSING = "audio file missing"
EMPTY = "audio file is empty (0 bytes)"
UNREADABLE = "audio header unreadable"
ZERO_FRAMES = "zero-length audio (0 frames)"
DUPLICATE = "utterance listed twice"

_SKIP_FIX = {
    MISSING: "restore the file from the corpus archive; until then the utterance is skipped",
    EMPTY: "re-copy the file from the corpus archive; until then the utterance is skipped",
    UNREADABLE: "re-copy or re-convert the file; until then the utterance is skipped",
    ZERO_FRAMES: "replace the file from the corpus archive; until then the utterance is skipped",
    DUPLICATE: "the first entry is used; remove the repeated line if the label file was edited",
}


# --------------------------------------------------------------------------- small helpers
def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute without resolving symlinks (a corpus may be a folder of links)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def visible(paths: Iterable[Path]) -> list[Path]:
    """Sorted ``paths`` without hidden files and macOS resource forks (``._name``)."""
    return sorted(p for p in paths if not p.name.startswith("."))


def parse_float(text: str | None) -> float:
    """A float from label-file text; ``nan`` for blanks, ``NaN`` and anything unreadable."""
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return float("nan")


def gender_from_word(word: str | None) -> str:
    """``"F"``/``"M"`` from Female/Male/F/M (any case); ``"U"`` when the corpus does not say."""
    w = str(word or "").strip().lower()
    if w in ("f", "female", "woman"):
        return "F"
    if w in ("m", "male", "man"):
        return "M"
    return "U"


def read_lines(path: Path) -> list[str]:
    """A label file's lines (UTF-8, with a BOM or without; Latin-1 as the fall-back)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.splitlines()


# --------------------------------------------------------------------------- options
def check_options(corpus: str, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with ``options``; an option the loader does not know is an error."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        known = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "none"
        raise ParameterError(f"{corpus}: unknown option(s) {unknown}; this loader takes: {known}.")
    return {**defaults, **options}


def select_many(name: str, value: Any, choices: Sequence[str], *, casefold: bool = True) -> tuple[str, ...] | None:
    """Normalise a "one or several of ``choices``" option: ``None`` (all), a string, or a list."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ParameterError(f"{name}={value!r} selects nothing; pass None for all of {list(choices)}.")
    lookup = {(c.lower() if casefold else c): c for c in choices}
    out = []
    for item in items:
        key = str(item).lower() if casefold else str(item)
        if key not in lookup:
            raise ParameterError(f"{name}: {item!r} is not one of {list(choices)}.")
        out.append(lookup[key])
    return tuple(dict.fromkeys(out))


# --------------------------------------------------------------------------- roots
def locate(root: Path, looks_right: Callable[[Path], bool], wrappers: Sequence[str] = ()) -> Path | None:
    """The corpus folder: ``root`` itself if ``looks_right``, else the first wrapper folder
    inside it that does (``IEMOCAP_full_release``, ``LibriSpeech`` ...); ``None`` if neither."""
    root = absolute(root)
    if root.is_dir() and looks_right(root):
        return root
    for name in wrappers:
        cand = root / name
        if cand.is_dir() and looks_right(cand):
            return cand
    return None


# --------------------------------------------------------------------------- scan result
@dataclass
class Scan:
    """What a loader read from the label files, before any audio header is opened."""

    root: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[LayoutProblem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    excluded: Counter = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = absolute(self.root)

    def error(self, path: Path | str, problem: str, fix: str) -> None:
        self.problems.append(LayoutProblem(str(path), problem, fix, "error"))

    def warn(self, path: Path | str, problem: str, fix: str) -> None:
        self.problems.append(LayoutProblem(str(path), problem, fix, "warning"))

    def skip(self, path: Path | str, problem: str, fix: str) -> None:
        """A counted skip found while reading labels (a malformed line, an unknown code)."""
        self.warn(path, problem, fix)
        self.skipped.append((str(path), problem))

    @property
    def errors(self) -> list[LayoutProblem]:
        return [p for p in self.problems if p.severity == "error"]


def read_csv_table(path: Path, required: Sequence[str], scan: Scan, fix: str) -> pd.DataFrame | None:
    """A label CSV as strings (blank cells stay ``""``), or ``None`` with an error in ``scan``."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # pandas raises several parser errors
        scan.error(path, f"cannot be read as CSV ({exc})", fix)
        return None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        scan.error(path, f"lacks column(s) {missing}; it has {list(df.columns)}", fix)
        return None
    return df


# --------------------------------------------------------------------------- audio headers
@dataclass(frozen=True)
class Probe:
    """One audio file's header check: ``info`` if usable, else the ``skip`` reason."""

    info: AudioInfo | None
    skip: str | None = None
    rate_note: str | None = None


_HEADERS: dict[str, tuple[tuple[int, int], AudioInfo | str]] = {}
_HEADER_CACHE_MAX = 1_000_000


def probe(path: str, expected_rates: Sequence[int] | None = None, *, header: bool = True) -> Probe:
    """Check one audio file from its header only.

    Missing, empty, unreadable and zero-frame files are skips. A sample rate outside
    ``expected_rates`` is a note (the row is kept). Header reads are cached per process,
    keyed on size and modification time, so ``validate`` followed by ``load`` reads each
    header once. With ``header=False`` only existence and size are checked.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Probe(None, MISSING)
    except OSError:
        return Probe(None, UNREADABLE)
    if st.st_size == 0:
        return Probe(None, EMPTY)
    if not header:
        return Probe(None)
    stamp = (st.st_size, st.st_mtime_ns)
    cached = _HEADERS.get(path)
    if cached is not None and cached[0] == stamp:
        result = cached[1]
    else:
        try:
            result = audio_info(path)
        except AudioError:
            result = UNREADABLE
        if len(_HEADERS) >= _HEADER_CACHE_MAX:
            _HEADERS.clear()
        _HEADERS[path] = (stamp, result)
    if isinstance(result, str):
        return Probe(None, result)
    if result.frames == 0:
        return Probe(None, ZERO_FRAMES)
    note = None
    if expected_rates and result.sample_rate not in expected_rates:
        want = " or ".join(f"{r} Hz" for r in expected_rates)
        note = f"sample rate {result.sample_rate} Hz, expected {want}"
    return Probe(result, None, note)


def validate_scan(scan: Scan, expected_rates: Sequence[int] | None, *, header: bool = True) -> list[LayoutProblem]:
    """``validate``'s answer: the scan's findings plus the header check of every listed file."""
    return list(scan.problems) + audio_problems(scan.rows, expected_rates, header=header)


def audio_problems(
    rows: Iterable[Mapping[str, Any]], expected_rates: Sequence[int] | None, *, header: bool = True
) -> list[LayoutProblem]:
    """Warnings for every listed audio file that would be skipped or has an unexpected rate."""
    out: list[LayoutProblem] = []
    seen: set[str] = set()
    for row in rows:
        if row["utt_id"] in seen:
            out.append(LayoutProblem(row["path"], DUPLICATE, _SKIP_FIX[DUPLICATE], "warning"))
            continue
        seen.add(row["utt_id"])
        p = probe(row["path"], expected_rates, header=header)
        if p.skip:
            out.append(LayoutProblem(row["path"], p.skip, _SKIP_FIX[p.skip], "warning"))
        elif p.rate_note:
            out.append(LayoutProblem(
                row["path"], p.rate_note,
                "it is loaded and resampled on reading; resample the corpus once (sox/ffmpeg) "
                "if this is not what you expect", "warning"))
    return out


# --------------------------------------------------------------------------- the table
def _raise_for_errors(title: str, key: str, scan: Scan) -> None:
    errs = scan.errors
    if not errs:
        return
    listing = "\n  ".join(str(p) for p in errs[:20])
    more = f"\n  ... and {len(errs) - 20} more" if len(errs) > 20 else ""
    raise CorpusError(
        f"{title} at {scan.root} cannot be loaded ({len(errs)} error(s)):\n  {listing}{more}\n"
        f"Run `serbook data check {key} {scan.root}` for the full report."
    )


def finish(
    scan: Scan,
    spec: Any,
    labels: Sequence[str],
    *,
    options: Mapping[str, Any],
    expected_rates: Sequence[int] | None,
    logger: logging.Logger,
    label_map: Mapping[str, Any] | None = None,
    expected_counts: Mapping[str, int] | None = None,
) -> Corpus:
    """Turn a :class:`Scan` into a :class:`Corpus`: header checks, counted skips, metadata.

    ``expected_counts`` (label -> utterances of the full release) makes any difference an
    error, naming the counts and the first skipped files.
    """
    _raise_for_errors(spec.title, spec.name, scan)
    skipped = list(scan.skipped)
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    rates: Counter = Counter()
    for row in scan.rows:
        if row["utt_id"] in seen:
            skipped.append((row["path"], DUPLICATE))
            continue
        seen.add(row["utt_id"])
        p = probe(row["path"], expected_rates)
        if p.skip:
            skipped.append((row["path"], p.skip))
            logger.debug("skipped %s: %s", row["path"], p.skip)
            continue
        assert p.info is not None
        if p.rate_note:
            rates[p.info.sample_rate] += 1
        kept.append({**row, "corpus": spec.name, "duration": p.info.duration, "sample_rate": p.info.sample_rate})

    reasons = Counter(reason for _, reason in skipped)
    if skipped:
        logger.warning(
            "%s: skipped %d utterance(s) (%s); the list is in corpus.meta['skipped'].",
            spec.name, len(skipped), ", ".join(f"{r}: {n}" for r, n in reasons.most_common()),
        )
    if rates:
        logger.warning(
            "%s: %d file(s) at an unexpected sample rate (%s); they are resampled on reading.",
            spec.name, sum(rates.values()), ", ".join(f"{r} Hz: {n}" for r, n in sorted(rates.items())),
        )
    if not kept:
        first = "; ".join(f"{p} ({r})" for p, r in skipped[:5])
        raise CorpusError(
            f"{spec.title} at {scan.root}: no utterance could be loaded with options {dict(options)}"
            + (f"; skipped: {first}" if first else "")
            + f". Run `serbook data check {spec.name} {scan.root}`."
        )

    extras = [c for c in kept[0] if c not in REQUIRED_COLUMNS]
    table = pd.DataFrame(kept, columns=list(REQUIRED_COLUMNS) + extras)
    table["duration"] = table["duration"].astype(float)
    table["sample_rate"] = table["sample_rate"].astype(int)
    if labels:
        counts = {lab: int((table["emotion"] == lab).sum()) for lab in labels}
    else:
        counts = {"(unlabelled)": len(table)}
    meta: dict[str, Any] = {
        "title": spec.title,
        "licence": spec.licence,
        "options": dict(options),
        "label_map": dict(label_map) if label_map is not None else None,
        "counts": counts,
        "n_utterances": len(table),
        "excluded": dict(scan.excluded),
        "skipped": skipped,
        "skip_reasons": dict(reasons),
        "sample_rate_mismatch": dict(rates),
        **scan.notes,
    }
    corpus = Corpus(spec.name, table, tuple(labels), scan.root, meta)
    logger.info("%s: %d utterances from %s (%s).", spec.name, len(table), scan.root,
                ", ".join(f"{k} {v}" for k, v in counts.items()))
    if expected_counts is not None:
        _check_expected(spec, scan.root, counts, expected_counts, skipped)
    return corpus


def _check_expected(
    spec: Any, root: Path, counts: Mapping[str, int], expected: Mapping[str, int], skipped: list[tuple[str, str]]
) -> None:
    diffs = [f"{k} {counts.get(k, 0)} (full release: {v})" for k, v in expected.items() if counts.get(k, 0) != v]
    if not diffs:
        return
    total, want = sum(counts.values()), sum(expected.values())
    first = "".join(f"\n  skipped: {p} ({r})" for p, r in skipped[:10])
    raise CorpusError(
        f"{spec.title} at {root}: expect_full=True, but {total} utterances loaded where the full "
        f"release gives {want}: {', '.join(diffs)}.{first}\n"
        f"Restore the missing files (see `serbook data check {spec.name} {root}`), or pass "
        f"expect_full=False to work with this copy as it is."
    )


# --------------------------------------------------------------------------- the report
def format_report(
    name: str,
    root: str | os.PathLike[str],
    problems: Sequence[LayoutProblem],
    n_utterances: int | None = None,
    *,
    max_per_group: int = 10,
) -> str:
    """A readable report of :func:`serlib.data.validate_layout` findings.

    Findings are grouped by severity and then by kind, with each kind's fix, totals, and a
    last line ``OK: loads N utterances`` or ``NOT LOADABLE: ...``. Without ``n_utterances``
    and with no errors, the corpus is loaded (default options) to count what loads.
    """
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    lines = [f"serbook data check {name} {root}", ""]

    def section(title: str, items: Sequence[LayoutProblem]) -> None:
        if not items:
            return
        lines.append(f"{title} ({len(items)})")
        groups: dict[str, list[LayoutProblem]] = {}
        for p in items:
            groups.setdefault(p.problem, []).append(p)
        for problem, group in groups.items():
            fixes = {p.fix for p in group}
            lines.append(f"  {problem}: {len(group)}")
            if len(fixes) == 1:
                lines.append(f"    fix: {group[0].fix}")
            for p in group[:max_per_group]:
                lines.append(f"    {p.path}" + ("" if len(fixes) == 1 else f"\n      fix: {p.fix}"))
            if len(group) > max_per_group:
                lines.append(f"    ... and {len(group) - max_per_group} more")
        lines.append("")

    section("ERRORS: these stop loading", errors)
    section("WARNINGS: loading goes on; these files are skipped, blank or resampled", warnings)
    lines.append(f"Totals: {len(errors)} error(s), {len(warnings)} warning(s).")
    if errors:
        lines.append(f"NOT LOADABLE: {len(errors)} error(s), first: {errors[0].path}: {errors[0].problem}. "
                     "Fix the errors above and run the check again.")
        return "\n".join(lines)
    skipped = ""
    if n_utterances is None:
        from .loading import load_corpus  # late: the registry imports the loaders

        try:
            corpus = load_corpus(name, root)
        except (CorpusError, ParameterError) as exc:
            lines.append(f"NOT LOADABLE: {exc}")
            return "\n".join(lines)
        n_utterances = len(corpus)
        n_skipped = len(corpus.meta.get("skipped", ()))
        skipped = f" ({n_skipped} skipped, see the warnings)" if n_skipped else ""
    lines.append(f"OK: loads {n_utterances} utterances{skipped}.")
    return "\n".join(lines)

