"""MSP-Podcast: emotional speech from podcasts (UT Dallas MSP lab).

Layout read (``root`` is the corpus folder or a parent holding ``MSP-Podcast/``)::

    Labels/labels_consensus.csv     (labels_concensus.csv, as some releases spell it, is accepted)
    Audios/MSP-PODCAST_0001_0008.wav
    Transcripts/MSP-PODCAST_0001_0008.txt   (optional; read only when transcripts are asked for)

The consensus CSV has the columns ``FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,
Split_Set``, e.g. ``MSP-PODCAST_0001_0008.wav,N,2.2,4.0,2.6,30,Male,Test1``. EmoAct/EmoVal/
EmoDom are the mean arousal, valence and dominance (1-7); Split_Set is Train, Development,
Test1, Test2 (and Test3 in release 2.0). Audio: 16 kHz mono.

Label sets (option ``label_set``): ``"4class"`` (default) N -> neutral, A -> angry, S -> sad,
H -> happy; ``"8class"`` adds U -> surprise, F -> fear, D -> disgust, C -> contempt. O
(other) and X (no agreement) are always left out and counted in ``meta["excluded"]``.

Speakers: ``SpkrID`` as given; ``"Unknown"`` speakers are kept under that name (their gender
is usually Unknown too, stored as ``"U"``). The corpus has no sessions, so ``session`` is the
speaker (as for every corpus without sessions); ``podcast`` (the first number of the file
name) groups the segments of one episode. ``split`` is ``Split_Set`` in lower case.

Extra columns: ``raw_emotion``, ``arousal``, ``valence``, ``dominance``, ``split``,
``podcast``.

Options: ``label_set`` ("4class"), ``splits`` (None = all; e.g. ``("train", "development")``,
case-insensitive), ``keep_unknown_speakers`` (True), ``transcripts``, ``release`` (None = detected:
2.x when the label file has a Test3 split, else 1.x; or the version you have, e.g. "1.11",
recorded in the coverage).

Transcripts (option ``transcripts``): ``False`` (default) reads no text, since reading one text
file per segment is slow on the full corpus. ``True`` reads the release's ``Transcripts/``
folder, which must then exist; a segment without its text file keeps an empty transcript.
A path reads a transcript table, a CSV ``id,text`` of the reader's (e.g. from an ASR system;
see :mod:`serlib.data.transcripts`): its ids are checked against every segment of the label
file, all classes and splits, so a table made for the whole release fits any ``label_set`` or
``splits``. The ``Transcripts/`` folder is then not needed: where it exists, it gives the text of
the segments the table does not list, and the table's text wins for those it lists (an empty
text in the table leaves that segment without text). ``meta["transcripts"]`` counts the
segments whose text came from the table, from the folder, and those without text.

Coverage: the label file of a release lists all its segments, so a copy is complete when every
listed segment (of the label set and splits loaded) has readable audio; a wav that the label
file does not list is a warning ("audio file not in the label file").

:func:`partition` turns ``split`` into one fold: Train -> train, Development -> validation,
the chosen Test set -> test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import ParameterError, check_choice, get_logger
from ._common import (
    Scan,
    check_options,
    finish,
    gender_from_word,
    locate,
    parse_float,
    read_csv_table,
    read_lines,
    validate_scan,
)
from .corpus import Corpus, LayoutProblem
from .registry import CorpusSpec

SPEC = CorpusSpec(
    name="msp_podcast",
    title="MSP-Podcast",
    default_subdir="msp_podcast",
    licence="UT Dallas MSP academic licence (no redistribution)",
    url_hint="https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Podcast.html",
    description="Hundreds of hours of podcast speech segments with crowd-sourced categorical "
    "and dimensional labels, a speaker-independent train/development/test partition.",
)

LABEL_SETS: dict[str, dict[str, str]] = {
    "4class": {"N": "neutral", "A": "angry", "S": "sad", "H": "happy"},
    "8class": {"N": "neutral", "A": "angry", "S": "sad", "H": "happy",
               "U": "surprise", "F": "fear", "D": "disgust", "C": "contempt"},
}
SAMPLE_RATES = (16000,)
LABEL_FILES = ("labels_consensus.csv", "labels_concensus.csv")
COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")
DEFAULTS: dict[str, Any] = {"label_set": "4class", "splits": None, "keep_unknown_speakers": True,
                            "transcripts": False, "release": None}
FULL_RELEASE = None
"""No fixed counts: MSP-Podcast grows from release to release, and the release's own label file
lists every segment of it. :func:`full_release` therefore takes the label file's rows (for the
label set and splits loaded) as the full release, so coverage counts the listed segments whose
audio is missing or unreadable; the release version is given (option ``release``) or detected."""

_log = get_logger("serlib.data.msp_podcast")
_FIX = "restore Labels/labels_consensus.csv from the MSP-Podcast release"


def _label_file(path: Path) -> Path | None:
    for name in LABEL_FILES:
        if (path / "Labels" / name).is_file():
            return path / "Labels" / name
    return None


def _detect_release(splits_present: list[str], given: str | None) -> str:
    """The release version: ``given`` if set, else 2.x when a Test3 split is present, else 1.x."""
    if given:
        return str(given)
    return "2.x (Test3 present)" if "test3" in splits_present else "1.x (no Test3)"


def _scan(root: Path, label_set: str = "4class", splits: tuple[str, ...] | None = None,
          keep_unknown: bool = True, transcripts: bool | str = False, release: str | None = None) -> Scan:
    """Read the layout; ``transcripts`` is False, True (the ``Transcripts/`` folder) or a table's path."""
    base = locate(root, lambda p: (p / "Labels").is_dir() or (p / "Audios").is_dir(),
                  ("MSP-Podcast", "MSP-PODCAST", "MSP_Podcast"))
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, "neither Labels/ nor Audios/ here",
                   "pass the MSP-Podcast folder that holds Labels/ and Audios/")
        return scan
    scan = Scan(base)
    label_file = _label_file(base)
    if label_file is None:
        scan.error(base / "Labels" / LABEL_FILES[0], "label file missing", _FIX)
        return scan
    audio = next((base / d for d in ("Audios", "Audio") if (base / d).is_dir()), None)
    if audio is None:
        scan.error(base / "Audios", "audio folder missing", "unpack the release's Audios/ next to Labels/")
        return scan
    folder = base / "Transcripts"
    if transcripts is True and not folder.is_dir():
        scan.error(folder, "transcript folder missing (the text of every segment is needed here)",
                   "unpack the release's Transcripts/ (one <segment>.txt per segment) next to Labels/ and Audios/, "
                   "or pass transcripts=<CSV id,text> with the text of the segments")
        return scan
    read_folder = transcripts is True or (bool(transcripts) and folder.is_dir())
    df = read_csv_table(label_file, COLUMNS, scan, _FIX)
    if df is None:
        return scan
    scan.notes["label_file"] = str(label_file)
    scan.notes["splits_present"] = sorted({v.strip().lower() for v in df["Split_Set"]})
    mapping = LABEL_SETS[label_set]
    wanted = {s.lower() for s in splits} if splits else None
    listed = {n.strip()[:-4] if n.strip().lower().endswith(".wav") else n.strip() for n in df["FileName"]}
    table: dict[str, str] = {}
    if isinstance(transcripts, str):
        from .transcripts import read_transcript_table

        table = read_transcript_table(transcripts, listed)  # every segment of the release, whatever is loaded
    unlisted = [p for p in sorted(audio.glob("*.wav")) if not p.name.startswith(".") and p.stem not in listed]
    for path in unlisted:
        scan.warn(path, "audio file not in the label file",
                  f"{label_file.name} has no row for it; use the label file of the same release, or remove "
                  "the stray file")
    scan.notes["unlisted_audio"] = len(unlisted)
    scan.notes["release"] = _detect_release(scan.notes["splits_present"], release)
    source = {"from_table": 0, "from_folder": 0, "without_text": 0}
    for rec in df.itertuples(index=False):
        name = rec.FileName.strip()
        code = rec.EmoClass.strip().upper()
        label = mapping.get(code)
        if label is None:
            scan.excluded[code or "(blank)"] += 1
            continue
        split = rec.Split_Set.strip().lower()
        if wanted is not None and split not in wanted:
            scan.excluded[f"(split {split})"] += 1
            continue
        speaker = rec.SpkrID.strip() or "Unknown"
        if not keep_unknown and speaker.lower() == "unknown":
            scan.excluded["(unknown speaker)"] += 1
            continue
        stem = name[:-4] if name.lower().endswith(".wav") else name
        text = ""
        if stem in table:
            text = table[stem]
            source["from_table"] += 1
        elif read_folder:
            tfile = folder / f"{stem}.txt"
            text = " ".join(read_lines(tfile)).strip() if tfile.is_file() else ""
            source["from_folder"] += bool(text)
        source["without_text"] += not text
        parts = stem.split("_")
        scan.rows.append({
            "utt_id": stem,
            "path": str(audio / (name if name.lower().endswith(".wav") else f"{name}.wav")),
            "speaker": speaker,
            "gender": gender_from_word(rec.Gender),
            "session": speaker,
            "emotion": label,
            "transcript": text,
            "raw_emotion": code,
            "arousal": parse_float(rec.EmoAct),
            "valence": parse_float(rec.EmoVal),
            "dominance": parse_float(rec.EmoDom),
            "split": split,
            "podcast": parts[1] if len(parts) > 2 else "",
        })
    if transcripts:
        scan.notes["transcripts"] = {"table": transcripts if isinstance(transcripts, str) else None,
                                     "folder": str(folder) if read_folder else None, **source}
    return scan


TEST_SETS: tuple[str, ...] = ("test1", "test2", "test3")
"""The release's test sets (``Split_Set`` in lower case); Test3 exists from release 2.0 on."""

SPLIT_ROLES: dict[str, str] = {"train": "train", "development": "validation", "test1": "test", "test2": "test",
                               "test3": "test"}
"""What each ``Split_Set`` is for: Train trains, Development validates, a Test set tests."""


def partition(corpus: Corpus, test_set: str = "test1") -> Any:
    """The release's partition as one :class:`~serlib.splits.Fold`: Train trains, Development
    validates (``fold.val``), and ``test_set`` (one of :data:`TEST_SETS`) tests.

    Raises
    ------
    ParameterError
        ``test_set`` is not a test set of this release (the message lists the ones present).
    """
    from ..splits import predefined

    check_choice("test_set", test_set, TEST_SETS)
    present = sorted(set(corpus.table["split"].astype(str)))
    if test_set not in present:
        have = [s for s in present if s in TEST_SETS]
        raise ParameterError(f"msp_podcast: test_set={test_set!r} is not in this release's Split_Set (its test sets: "
                             f"{have}); pass test_set={have[0] if have else 'test1'!r}")
    for needed in ("train", "development"):
        if needed not in present:
            raise ParameterError(f"msp_podcast: no {needed.capitalize()} rows in Split_Set (found {present}); the "
                                 "predefined partition needs Train, Development and a test set")
    return predefined(corpus, "split", train=("train",), test=(test_set,), val=("development",))[0]


def full_release(corpus: Corpus) -> tuple[str, dict[str, Any]]:
    """The release as its label file lists it: the loaded rows plus those skipped on loading."""
    skipped = len(corpus.meta.get("skipped", ()))
    name = f"release {corpus.meta.get('release', 'unknown')}, as {Path(corpus.meta.get('label_file', 'the label file')).name} lists it"
    return name, {"utterances": len(corpus) + skipped, "per_emotion": None, "per_speaker": None}


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings for the default label set, without reading any audio samples."""
    return validate_scan(_scan(Path(root)), SAMPLE_RATES)


def load(root: Path, **options: Any) -> Corpus:
    """Load MSP-Podcast (see the module docstring for the layout, label sets and options)."""
    opts = check_options("msp_podcast", options, DEFAULTS)
    check_choice("label_set", opts["label_set"], LABEL_SETS)
    splits = opts["splits"]
    if splits is not None:
        splits = (splits,) if isinstance(splits, str) else tuple(splits)
        if not splits:
            raise ParameterError("msp_podcast: splits=() selects nothing; pass None for all splits.")
    transcripts = opts["transcripts"]
    if isinstance(transcripts, os.PathLike):
        transcripts = opts["transcripts"] = os.fspath(transcripts)
    if not isinstance(transcripts, (bool, str)) and transcripts is not None:
        raise ParameterError(f"msp_podcast: transcripts={transcripts!r}; pass False, True (the release's "
                             "Transcripts/ folder) or the path of a CSV id,text")
    scan = _scan(Path(root), opts["label_set"], splits, bool(opts["keep_unknown_speakers"]),
                 transcripts or False, opts["release"])
    present = scan.notes.get("splits_present")
    if splits and present is not None:
        absent = [s for s in splits if s.lower() not in present]
        if absent:
            raise ParameterError(f"msp_podcast: splits {absent} are not in {scan.notes['label_file']}; "
                                 f"it has {present}.")
    labels = tuple(dict.fromkeys(LABEL_SETS[opts["label_set"]].values()))
    return finish(scan, SPEC, labels, options=opts, expected_rates=SAMPLE_RATES, logger=_log,
                  label_map=LABEL_SETS[opts["label_set"]])
