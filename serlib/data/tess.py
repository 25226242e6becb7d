"""TESS: the Toronto Emotional Speech Set (University of Toronto, 2010).

Two actresses, aged 64 (``OAF``, older adult female) and 26 (``YAF``, younger adult female),
say 200 target words of the NU-6 word list in the carrier phrase "Say the word ...", each in
seven emotions: 2800 recordings. Audio: 24414 Hz, 16-bit mono WAV.

Layouts read (``root`` may also be a wrapper folder holding one of them):

* the official Borealis Dataverse release (doi:10.5683/SP2/E8H2MF), whose bulk download is
  a flat folder of ``OAF_back_angry.wav`` ... (plus ``MANIFEST.TXT``);
* the emotion folders of the earlier TSpace copy and its mirrors, with the release's own
  capitalisation: ``OAF_angry``, ``OAF_disgust``, ``OAF_Fear``, ``OAF_happy``,
  ``OAF_neutral``, ``OAF_Pleasant_surprise``, ``OAF_Sad``, ``YAF_angry``, ``YAF_disgust``,
  ``YAF_fear``, ``YAF_happy``, ``YAF_neutral``, ``YAF_pleasant_surprised``, ``YAF_sad``.

There is no label file: ``OAF_back_angry.wav`` reads speaker ``OAF``, word ``back``, emotion
``angry``; pleasant surprise is ``ps`` in the file names. A file inside an emotion folder
that names another emotion is skipped with a warning. File names are matched without regard
to letter case. A file found twice (some mirrors ship a nested second copy) is read once.

Label map (7 classes, in this order, which is also the integer coding)::

    angry -> angry      disgust -> disgust    fear -> fear       happy -> happy
    ps    -> pleasant_surprise                sad  -> sad        neutral -> neutral

Full release: 2800 utterances, 400 per emotion, 1400 per speaker (``FULL_RELEASE``), which
``expect_full=True`` checks. Speakers: ``OAF`` and ``YAF``, both female (``session`` =
speaker). Transcript: "Say the word <word>". Extra columns: ``raw_emotion``, ``word``, ``age``.

Options: ``expect_full`` (False).

References
----------
Dupuis, K., & Pichora-Fuller, M. K. (2010). Toronto emotional speech set (TESS). University of
Toronto, Psychology Department. Borealis, https://doi.org/10.5683/SP2/E8H2MF
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..config import get_logger
from ._common import Scan, check_options, finish, locate, validate_scan, visible
from .corpus import Corpus, LayoutProblem
from .registry import CorpusSpec

__all__ = ["FULL_RELEASE", "LABELS", "LABEL_MAP", "SPEAKERS", "SPEC", "load", "validate"]

SPEC = CorpusSpec(
    name="tess",
    title="TESS (Toronto Emotional Speech Set)",
    default_subdir="tess",
    licence="CC BY-NC-ND 4.0",
    url_hint="https://doi.org/10.5683/SP2/E8H2MF",
    description="2800 English recordings: 2 actresses (aged 26 and 64), 200 words in the carrier phrase "
    "'Say the word ...', 7 acted emotions.",
)

LABEL_MAP: dict[str, str] = {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy",
                             "ps": "pleasant_surprise", "sad": "sad", "neutral": "neutral"}
LABELS: tuple[str, ...] = tuple(LABEL_MAP.values())
SPEAKERS: dict[str, dict[str, Any]] = {"OAF": {"gender": "F", "age": 64}, "YAF": {"gender": "F", "age": 26}}
FULL_RELEASE: dict[str, Any] = {
    "utterances": 2800,
    "per_emotion": {lab: 400 for lab in LABELS},
    "per_speaker": {"OAF": 1400, "YAF": 1400},
}
SAMPLE_RATES = (24414,)
WRAPPERS = ("TESS Toronto emotional speech set data", "TESS_Toronto_emotional_speech_set_data", "TESS", "tess",
            "dataverse_files")
DEFAULTS: dict[str, Any] = {"expect_full": False}

_log = get_logger("serlib.data.tess")
_NAME = re.compile(r"^(?P<spk>OAF|YAF)_(?P<word>.+)_(?P<emo>angry|disgust|fear|happy|neutral|ps|sad)\.wav$",
                   re.IGNORECASE)
_FOLDER = re.compile(r"^(?P<spk>OAF|YAF)_(?P<emo>.+)$", re.IGNORECASE)
# emotion folder suffix (lower case) -> file-name code; the release spells some differently
_FOLDER_EMOTION = {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "neutral": "neutral",
                   "sad": "sad", "pleasant_surprise": "ps", "pleasant_surprised": "ps", "ps": "ps"}


def _wav_files(path: Path) -> list[Path]:
    """The ``.wav`` files of ``path`` and of its visible sub-folders (one level)."""
    out = [p for p in visible(path.glob("*")) if p.suffix.lower() == ".wav" and p.is_file()]
    for sub in (p for p in visible(path.iterdir()) if p.is_dir()):
        out.extend(p for p in visible(sub.glob("*")) if p.suffix.lower() == ".wav" and p.is_file())
    return out


def _looks_right(path: Path) -> bool:
    return any(_NAME.match(p.name) for p in _wav_files(path))


def _scan(root: Path) -> Scan:
    base = locate(root, _looks_right, WRAPPERS)
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, "no TESS recordings (like OAF_back_angry.wav) here or in its emotion folders",
                   "pass the folder the TESS download was unpacked into (flat, or OAF_angry/ ... YAF_sad/)")
        return scan
    scan = Scan(base)
    seen: set[str] = set()
    duplicates = 0
    for path in _wav_files(base):
        m = _NAME.match(path.name)
        if m is None:
            scan.skip(path, "file name not in the TESS form OAF_back_angry.wav", "rename or remove the file")
            continue
        spk, emo = m["spk"].upper(), m["emo"].lower()
        folder = _FOLDER.match(path.parent.name) if path.parent != base else None
        if folder is not None:
            f_emo = _FOLDER_EMOTION.get(folder["emo"].lower())
            if f_emo is not None and (f_emo != emo or folder["spk"].upper() != spk):
                scan.skip(path, f"file name says {spk}/{emo} but its folder {path.parent.name} says otherwise",
                          "move the file to the folder of its speaker and emotion, or rename it")
                continue
        utt = f"{spk}_{m['word'].lower()}_{emo}"
        if utt in seen:
            duplicates += 1
            continue
        seen.add(utt)
        scan.rows.append({
            "utt_id": utt,
            "path": str(path),
            "speaker": spk,
            "gender": SPEAKERS[spk]["gender"],
            "session": spk,
            "emotion": LABEL_MAP[emo],
            "transcript": f"Say the word {m['word'].lower()}",
            "raw_emotion": emo,
            "word": m["word"].lower(),
            "age": SPEAKERS[spk]["age"],
        })
    scan.notes["duplicate_copies_ignored"] = duplicates
    return scan


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings, without reading any audio samples."""
    return validate_scan(_scan(Path(root)), SAMPLE_RATES)


def load(root: Path, **options: Any) -> Corpus:
    """Load TESS (see the module docstring for the layouts, label map and options)."""
    opts = check_options("tess", options, DEFAULTS)
    return finish(_scan(Path(root)), SPEC, LABELS, options=opts, expected_rates=SAMPLE_RATES, logger=_log,
                  label_map=LABEL_MAP, expected_counts=FULL_RELEASE["per_emotion"] if opts["expect_full"] else None)
