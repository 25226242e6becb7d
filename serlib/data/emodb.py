"""Emo-DB: the Berlin Database of Emotional Speech (TU Berlin).

Layout read: ``root/wav/03a01Fa.wav`` as unpacked from ``download.zip`` (the ``lablaut``,
``labsilb`` and ``silb`` folders beside ``wav`` are not needed). ``root`` may also be the
``wav`` folder itself. Audio: 16 kHz mono.

There is no label file: the name says it all. ``03a01Fa``: speaker ``03``, text ``a01``,
emotion letter ``F`` (German initial), version ``a``.

Label map (7 classes, in this order, which is also the integer coding)::

    W Wut        -> anger       L Langeweile -> boredom     E Ekel   -> disgust
    A Angst      -> fear        F Freude     -> happiness   T Trauer -> sadness
    N neutral    -> neutral

Full release: 535 utterances (anger 127, boredom 81, disgust 46, fear 69, happiness 71,
sadness 62, neutral 79); per speaker 03: 49, 08: 58, 09: 43, 10: 38, 11: 55, 12: 35, 13: 61,
14: 69, 15: 56, 16: 71 (``FULL_RELEASE``: the files of each actor in ``download.zip``, which
sum to the 535 of the corpus documentation, Burkhardt et al. 2005, as do the emotion counts). ``serbook data
check`` reports the coverage of a copy against these counts; ``expect_full=True`` makes any
difference in the emotion counts an error on loading.

Speakers (10 actors; ``session`` = speaker): 03 M, 08 F, 09 F, 10 M, 11 M, 12 M, 13 F, 14 F,
15 M, 16 F. Transcripts: the ten German sentences of the corpus documentation.

Extra columns: ``raw_emotion``, ``text_id``, ``version``.

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
    name="emodb",
    title="Emo-DB (Berlin Database of Emotional Speech)",
    default_subdir="emodb",
    licence="freely downloadable for research (see the corpus site)",
    url_hint="http://emodb.bilderbar.info/",
    description="535 German utterances: 10 actors, 10 sentences, 7 acted emotions.",
)

LABEL_MAP: dict[str, str] = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
                             "F": "happiness", "T": "sadness", "N": "neutral"}
LABELS: tuple[str, ...] = tuple(LABEL_MAP.values())
FULL_COUNTS: dict[str, int] = {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69,
                               "happiness": 71, "sadness": 62, "neutral": 79}
FULL_SPEAKERS: dict[str, int] = {"03": 49, "08": 58, "09": 43, "10": 38, "11": 55, "12": 35, "13": 61,
                                  "14": 69, "15": 56, "16": 71}
FULL_RELEASE: dict[str, Any] = {"utterances": 535, "per_emotion": FULL_COUNTS, "per_speaker": FULL_SPEAKERS}
"""The full release (``download.zip``): 535 files; per emotion and per speaker as above (both sum
to 535). Checked by :func:`serlib.data.coverage.coverage` and ``serbook data check``."""
SPEAKER_GENDER: dict[str, str] = {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M",
                                  "12": "M", "13": "F", "14": "F", "15": "M", "16": "F"}
TEXTS: dict[str, str] = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
SAMPLE_RATES = (16000,)
DEFAULTS: dict[str, Any] = {"expect_full": False}

_log = get_logger("serlib.data.emodb")
_NAME = re.compile(r"^(?P<spk>\d\d)(?P<text>[a-z]\d\d)(?P<emo>[A-Z])(?P<version>[a-z])\.wav$")


def _has_wavs(path: Path) -> bool:
    return any(_NAME.match(p.name) for p in path.glob("*.wav"))


def _scan(root: Path) -> Scan:
    base = locate(root, lambda p: (p / "wav").is_dir() or _has_wavs(p), ("download", "emodb", "EmoDB", "emo-db"))
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, "no wav/ folder with Emo-DB files (like 03a01Fa.wav)",
                   "pass the folder unpacked from download.zip (it holds wav/)")
        return scan
    wav_dir = base / "wav" if (base / "wav").is_dir() else base
    scan = Scan(base)
    files = visible(wav_dir.glob("*.wav"))
    if not files:
        scan.error(wav_dir, "no .wav files", "unpack download.zip so that wav/ holds the 535 recordings")
        return scan
    for path in files:
        m = _NAME.match(path.name)
        if m is None:
            scan.skip(path, "file name not in the Emo-DB form 03a01Fa.wav", "rename or remove the file")
            continue
        label, gender = LABEL_MAP.get(m["emo"]), SPEAKER_GENDER.get(m["spk"])
        if label is None or gender is None:
            what = "emotion letter" if label is None else "speaker"
            scan.skip(path, f"unknown {what} in the file name", "Emo-DB has speakers 03..16 and letters WLEAFTN")
            continue
        scan.rows.append({
            "utt_id": path.stem,
            "path": str(path),
            "speaker": m["spk"],
            "gender": gender,
            "session": m["spk"],
            "emotion": label,
            "transcript": TEXTS.get(m["text"], ""),
            "raw_emotion": m["emo"],
            "text_id": m["text"],
            "version": m["version"],
        })
    return scan


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings, without reading any audio samples."""
    return validate_scan(_scan(Path(root)), SAMPLE_RATES)


def load(root: Path, **options: Any) -> Corpus:
    """Load Emo-DB (see the module docstring for the layout, label map and options)."""
    opts = check_options("emodb", options, DEFAULTS)
    return finish(_scan(Path(root)), SPEC, LABELS, options=opts, expected_rates=SAMPLE_RATES, logger=_log,
                  label_map=LABEL_MAP, expected_counts=FULL_COUNTS if opts["expect_full"] else None)
