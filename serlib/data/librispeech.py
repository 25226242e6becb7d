"""LibriSpeech: read English audiobooks (OpenSLR 12), an unlabelled pool for pretraining.

Layout read (``root`` is the ``LibriSpeech`` folder or its parent)::

    LibriSpeech/SPEAKERS.TXT
    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-0000.flac
    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt

``SPEAKERS.TXT`` has ``;`` comment lines and records ``ID | SEX | SUBSET | MINUTES | NAME``;
a transcript line is ``<speaker>-<chapter>-<nnnn> TEXT IN CAPITALS``. Subsets: dev-clean,
dev-other, test-clean, test-other, train-clean-100, train-clean-360, train-other-500, as
many as were unpacked. Audio: 16 kHz FLAC.

No emotion labels: ``emotion`` is None and the label set is empty. ``session`` = speaker.
Extra columns: ``subset``, ``chapter``.

Full release (``FULL_RELEASE``): utterances and speakers of each subset (dev-clean 2703 / 40,
dev-other 2864 / 33, test-clean 2620 / 40, test-other 2939 / 33, train-clean-100 28539 / 251,
train-clean-360 104014 / 921, train-other-500 148688 / 1166); coverage compares the subsets
loaded (before ``max_utterances`` selects from them).

Options: ``subsets`` (None = every subset present; one name or a list), ``max_utterances``
(None = all; else that many, taken round-robin over the speakers in sorted order so the pool
stays speaker-diverse, and chosen *before* any audio header is read).

``validate`` checks that each listed file exists and is not empty but does not open the
headers (hundreds of thousands of files); ``load`` reads the headers of what it keeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import ParameterError, check_positive, get_logger
from ._common import Scan, check_options, finish, locate, read_lines, select_many, validate_scan, visible
from .corpus import Corpus, LayoutProblem
from .registry import CorpusSpec

SPEC = CorpusSpec(
    name="librispeech",
    title="LibriSpeech",
    default_subdir="librispeech",
    licence="CC BY 4.0",
    url_hint="https://www.openslr.org/12",
    description="About 1000 h of read English audiobook speech by 2484 speakers, no emotion labels.",
)

SUBSETS: tuple[str, ...] = ("dev-clean", "dev-other", "test-clean", "test-other",
                            "train-clean-100", "train-clean-360", "train-other-500")
FULL_RELEASE: dict[str, dict[str, Any]] = {
    "dev-clean": {"utterances": 2703, "speakers": 40, "per_emotion": None, "per_speaker": None},
    "dev-other": {"utterances": 2864, "speakers": 33, "per_emotion": None, "per_speaker": None},
    "test-clean": {"utterances": 2620, "speakers": 40, "per_emotion": None, "per_speaker": None},
    "test-other": {"utterances": 2939, "speakers": 33, "per_emotion": None, "per_speaker": None},
    "train-clean-100": {"utterances": 28539, "speakers": 251, "per_emotion": None, "per_speaker": None},
    "train-clean-360": {"utterances": 104014, "speakers": 921, "per_emotion": None, "per_speaker": None},
    "train-other-500": {"utterances": 148688, "speakers": 1166, "per_emotion": None, "per_speaker": None},
}
"""Utterances and speakers of each official subset (the corpus README and Panayotov et al. 2015;
the utterance counts also in the openslr/librispeech_asr dataset card). 2484 speakers in all."""
SAMPLE_RATES = (16000,)
DEFAULTS: dict[str, Any] = {"subsets": None, "max_utterances": None}

_log = get_logger("serlib.data.librispeech")
_FIX = "restore it from the LibriSpeech tarball of this subset (openslr.org/12)"


def _has_subsets(path: Path) -> bool:
    return any((path / s).is_dir() for s in SUBSETS)


def _speakers(path: Path, scan: Scan) -> dict[str, str]:
    if not path.is_file():
        scan.error(path, "speaker list missing", f"{_FIX}; every tarball carries LibriSpeech/SPEAKERS.TXT")
        return {}
    out = {}
    for line in read_lines(path):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|", 4)]
        if len(fields) >= 2:
            out[fields[0]] = fields[1].upper()
    return out


def _scan(root: Path, subsets: tuple[str, ...] | None = None) -> Scan:
    base = locate(root, _has_subsets, ("LibriSpeech",))
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, f"no LibriSpeech subset folders ({', '.join(SUBSETS[:2])} ...) here or in LibriSpeech/",
                   "pass the LibriSpeech folder unpacked from the openslr tarballs, or its parent")
        return scan
    scan = Scan(base)
    genders = _speakers(base / "SPEAKERS.TXT", scan)
    present = [s for s in SUBSETS if (base / s).is_dir()]
    for subset in subsets or present:
        sdir = base / subset
        if not sdir.is_dir():
            scan.error(sdir, "subset folder missing", f"unpack {subset}.tar.gz here or leave it out of subsets")
            continue
        unknown: set[str] = set()
        for spk_dir in (p for p in visible(sdir.iterdir()) if p.is_dir()):
            speaker = spk_dir.name
            gender = genders.get(speaker, "U") if genders else "U"
            if gender not in ("F", "M"):
                gender = "U"
                unknown.add(speaker)
            for chap_dir in (p for p in visible(spk_dir.iterdir()) if p.is_dir()):
                trans = chap_dir / f"{speaker}-{chap_dir.name}.trans.txt"
                if not trans.is_file():
                    scan.error(trans, "transcript file missing", _FIX)
                    continue
                for line in read_lines(trans):
                    utt, _, text = line.strip().partition(" ")
                    if not utt:
                        continue
                    scan.rows.append({
                        "utt_id": utt,
                        "path": str(chap_dir / f"{utt}.flac"),
                        "speaker": speaker,
                        "gender": gender,
                        "session": speaker,
                        "emotion": None,
                        "transcript": text.strip(),
                        "subset": subset,
                        "chapter": chap_dir.name,
                    })
        if genders and unknown:
            scan.warn(base / "SPEAKERS.TXT", f"{len(unknown)} speaker(s) of {subset} not listed (gender 'U')",
                      "use the SPEAKERS.TXT of the same LibriSpeech release")
    return scan


def _round_robin(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    by_speaker: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["utt_id"]):
        by_speaker.setdefault(row["speaker"], []).append(row)
    queues = [by_speaker[s] for s in sorted(by_speaker, key=lambda s: (len(s), s))]
    out: list[dict[str, Any]] = []
    depth = 0
    while len(out) < n and any(depth < len(q) for q in queues):
        out.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return out[:n]


def full_release(corpus: Corpus) -> tuple[str, dict[str, Any]]:
    """The summed counts of the subsets loaded (those asked for, else those present)."""
    asked = corpus.meta.get("options", {}).get("subsets")
    names = list(select_many("subsets", asked, SUBSETS) or ()) or sorted(
        set(corpus.table["subset"]), key=SUBSETS.index)
    total = {"utterances": sum(FULL_RELEASE[n]["utterances"] for n in names),
             "speakers": sum(FULL_RELEASE[n]["speakers"] for n in names), "per_emotion": None, "per_speaker": None}
    return ", ".join(names), total


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings for every subset present (files checked for existence and size only)."""
    return validate_scan(_scan(Path(root)), SAMPLE_RATES, header=False)


def load(root: Path, **options: Any) -> Corpus:
    """Load LibriSpeech as an unlabelled pool (see the module docstring for the options)."""
    opts = check_options("librispeech", options, DEFAULTS)
    subsets = select_many("subsets", opts["subsets"], SUBSETS)
    n = opts["max_utterances"]
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise ParameterError(f"max_utterances={n!r} must be a positive integer or None.")
        check_positive("max_utterances", n)
    scan = _scan(Path(root), subsets)
    if n is not None and not scan.errors and len(scan.rows) > n:
        scan.notes["not_selected"] = len(scan.rows) - n
        scan.rows = _round_robin(scan.rows, n)
    return finish(scan, SPEC, (), options=opts, expected_rates=SAMPLE_RATES, logger=_log)
