"""SAVEE: Surrey Audio-Visual Expressed Emotion (University of Surrey).

Layouts read (``root`` is the corpus folder; the first that matches is used):

* the release: ``AudioData/DC/a01.wav`` (one folder per speaker; ``root`` may also be
  ``AudioData`` itself);
* the flat copies in circulation: ``DC_a01.wav`` in ``root`` or in ``root/ALL``.

Speakers DC, JE, JK, KL: four male British English speakers (``session`` = speaker).
Audio: 44.1 kHz mono.

There is no label file: the name's letters give the emotion, its number the sentence.
Label map (7 classes, in this order)::

    a anger   d disgust   f fear   h happiness   n neutral   sa sadness   su surprise

Full release: 480 utterances, 120 per speaker (15 per emotion, 30 neutral), which
``expect_full=True`` checks. Transcripts are not part of the audio release (left blank).

Extra columns: ``raw_emotion``, ``sentence`` (the number in the file name).

Because the labels are the file names, a deleted file cannot be named by ``validate``; the
coverage against ``FULL_RELEASE`` (per speaker and per emotion) shows the shortfall. Options: ``expect_full`` (False).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..config import get_logger
from ._common import Scan, check_options, finish, locate, validate_scan, visible
from .corpus import Corpus, LayoutProblem
from .registry import CorpusSpec

SPEC = CorpusSpec(
    name="savee",
    title="SAVEE",
    default_subdir="savee",
    licence="free for research use on registration (University of Surrey)",
    url_hint="http://kahlan.eps.surrey.ac.uk/savee/",
    description="480 British English utterances by 4 male speakers, 7 emotions.",
)

LABEL_MAP: dict[str, str] = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness",
                             "n": "neutral", "sa": "sadness", "su": "surprise"}
LABELS: tuple[str, ...] = tuple(LABEL_MAP.values())
SPEAKERS: tuple[str, ...] = ("DC", "JE", "JK", "KL")
FULL_COUNTS: dict[str, int] = {lab: (120 if lab == "neutral" else 60) for lab in LABELS}
FULL_RELEASE: dict[str, Any] = {"utterances": 480, "per_emotion": FULL_COUNTS,
                                "per_speaker": {s: 120 for s in SPEAKERS}}
"""The full release: 4 speakers x 120 files (Haq & Jackson 2009; the SAVEE site)."""
SAMPLE_RATES = (44100,)
DEFAULTS: dict[str, Any] = {"expect_full": False}

_log = get_logger("serlib.data.savee")
_IN_SPEAKER_DIR = re.compile(r"^(?P<emo>sa|su|a|d|f|h|n)(?P<num>\d\d)\.wav$")
_FLAT = re.compile(r"^(?P<spk>[A-Z]{2})_(?P<emo>sa|su|a|d|f|h|n)(?P<num>\d\d)\.wav$")


def _speaker_dirs(path: Path) -> list[Path]:
    return [path / s for s in SPEAKERS if (path / s).is_dir()]


def _flat_files(path: Path) -> list[Path]:
    return [p for p in visible(path.glob("*_*.wav")) if _FLAT.match(p.name)]


def _audio_dir(path: Path) -> Path | None:
    for cand in (path, path / "AudioData", path / "ALL"):
        if cand.is_dir() and (_speaker_dirs(cand) or _flat_files(cand)):
            return cand
    return None


def _scan(root: Path) -> Scan:
    base = locate(root, lambda p: _audio_dir(p) is not None, ("SAVEE", "savee"))
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, "no AudioData/DC..KL folders and no flat DC_a01.wav files here",
                   "pass the SAVEE folder that holds AudioData/ (or the flat DC_a01.wav files)")
        return scan
    scan = Scan(base)
    audio = _audio_dir(base)
    assert audio is not None
    found: list[tuple[Path, str | None]] = [(p, d.name) for d in _speaker_dirs(audio) for p in visible(d.glob("*.wav"))]
    if not found:
        found = [(p, None) for p in visible(audio.glob("*.wav"))]
    for path, speaker in found:
        m = _IN_SPEAKER_DIR.match(path.name) if speaker else _FLAT.match(path.name)
        if m is None or (speaker is None and m["spk"] not in SPEAKERS):
            scan.skip(path, "file name not in the SAVEE form a01.wav (or DC_a01.wav)", "rename or remove the file")
            continue
        spk = speaker or m["spk"]
        code = m["emo"]
        scan.rows.append({
            "utt_id": f"{spk}_{code}{m['num']}",
            "path": str(path),
            "speaker": spk,
            "gender": "M",
            "session": spk,
            "emotion": LABEL_MAP[code],
            "transcript": "",
            "raw_emotion": code,
            "sentence": int(m["num"]),
        })
    if not found:
        scan.error(audio, "no .wav files", "unpack the SAVEE audio (AudioData/) here")
    return scan


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings, without reading any audio samples."""
    return validate_scan(_scan(Path(root)), SAMPLE_RATES)


def load(root: Path, **options: Any) -> Corpus:
    """Load SAVEE (see the module docstring for the layouts, label map and options)."""
    opts = check_options("savee", options, DEFAULTS)
    return finish(_scan(Path(root)), SPEC, LABELS, options=opts, expected_rates=SAMPLE_RATES, logger=_log,
                  label_map=LABEL_MAP, expected_counts=FULL_COUNTS if opts["expect_full"] else None)
