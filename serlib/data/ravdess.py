"""RAVDESS: the Ryerson Audio-Visual Database of Emotional Speech and Song.

Layout read: the audio-only zips from Zenodo, ``Audio_Speech_Actors_01-24.zip`` (and, for
song, ``Audio_Song_Actors_01-24.zip``), unpack into ``Actor_01`` .. ``Actor_24``. ``root`` may
hold the ``Actor_NN`` folders directly (speech and song files may share them), or the
``Audio_Speech_Actors_01-24`` / ``Audio_Song_Actors_01-24`` folders (any letter case). A
file found twice (some copies ship both) is read once. Audio: 48 kHz, 16-bit.

There is no label file: ``03-01-05-02-01-02-12.wav`` reads modality (03 audio-only),
vocal channel (01 speech, 02 song), emotion, intensity (01 normal, 02 strong; neutral has
only normal), statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the
door"), repetition (01, 02), actor (01-24; odd = male, even = female).

Label map (8 classes, the corpus's own order)::

    01 neutral  02 calm  03 happy  04 sad  05 angry  06 fearful  07 disgust  08 surprised

Speech: 1440 files (60 per actor; neutral 96, each other class 192). Song (23 actors, no
actor 18; neutral, calm, happy, sad, angry, fearful only): 1012 files (``FULL_RELEASE``,
per emotion and per actor). ``serbook data check`` reports a copy's coverage against them;
``expect_full=True`` makes a difference in the emotion counts an error on loading.

Speaker ``Actor_NN`` (``session`` = speaker). Extra columns: ``raw_emotion``,
``vocal_channel``, ``intensity`` ("normal"/"strong"), ``statement``, ``repetition``.

Options: ``vocal_channel`` ("speech" default, "song", "both"), ``expect_full`` (False).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..config import check_choice, get_logger
from ._common import Scan, check_options, finish, locate, validate_scan, visible
from .corpus import Corpus, LayoutProblem
from .registry import CorpusSpec

SPEC = CorpusSpec(
    name="ravdess",
    title="RAVDESS",
    default_subdir="ravdess",
    licence="CC BY-NC-SA 4.0",
    url_hint="https://zenodo.org/record/1188976",
    description="24 North-American actors (12 women, 12 men), two statements, 8 emotions at two "
    "intensities; speech and song.",
)

LABEL_MAP: dict[str, str] = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                             "06": "fearful", "07": "disgust", "08": "surprised"}
LABELS: tuple[str, ...] = tuple(LABEL_MAP.values())
CHANNELS: dict[str, str] = {"01": "speech", "02": "song"}
STATEMENTS: dict[str, str] = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
FULL_COUNTS: dict[str, dict[str, int]] = {
    "speech": {"neutral": 96, **{lab: 192 for lab in LABELS[1:]}},
    "song": {"neutral": 92, **{lab: 184 for lab in LABELS[1:6]}, "disgust": 0, "surprised": 0},
}
FULL_RELEASE: dict[str, dict[str, Any]] = {
    "speech": {"utterances": 1440, "per_emotion": FULL_COUNTS["speech"],
               "per_speaker": {f"Actor_{a:02d}": 60 for a in range(1, 25)}},
    "song": {"utterances": 1012, "per_emotion": {k: v for k, v in FULL_COUNTS["song"].items() if v},
             "per_speaker": {f"Actor_{a:02d}": 44 for a in range(1, 25) if a != 18}},
}
"""The Zenodo release (Livingstone & Russo 2018, record 1188976): speech 24 actors x 60 files,
song 23 actors (no actor 18) x 44 files."""
SAMPLE_RATES = (48000,)
WRAPPERS = ("Audio_Speech_Actors_01-24", "Audio_Song_Actors_01-24",
            "audio_speech_actors_01-24", "audio_song_actors_01-24")
DEFAULTS: dict[str, Any] = {"vocal_channel": "speech", "expect_full": False}

_log = get_logger("serlib.data.ravdess")
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav$")


def _actor_dirs(path: Path) -> list[Path]:
    return [p for p in visible(path.glob("Actor_*")) if p.is_dir()]


def _scan(root: Path, channels: tuple[str, ...] = ("speech",)) -> Scan:
    base = locate(root, lambda p: bool(_actor_dirs(p)) or any((p / w).is_dir() for w in WRAPPERS),
                  ("RAVDESS", "ravdess"))
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, "no Actor_NN folders here or in Audio_Speech_Actors_01-24/",
                   "pass the folder where Audio_Speech_Actors_01-24.zip was unpacked")
        return scan
    scan = Scan(base)
    actor_dirs = _actor_dirs(base) + [d for w in WRAPPERS for d in _actor_dirs(base / w)]
    seen: set[str] = set()
    duplicates = 0
    for actor_dir in actor_dirs:
        for path in visible(actor_dir.glob("*.wav")):
            m = _NAME.match(path.name)
            if m is None:
                scan.skip(path, "file name not in the RAVDESS form 03-01-05-02-01-02-12.wav",
                          "rename or remove the file")
                continue
            modality, channel, emo, intensity, statement, repetition, actor = m.groups()
            if modality != "03" or channel not in CHANNELS or emo not in LABEL_MAP:
                scan.skip(path, "unknown modality, vocal channel or emotion code in the file name",
                          "RAVDESS audio files start 03-01 (speech) or 03-02 (song), emotions 01..08")
                continue
            if path.stem in seen:
                duplicates += 1
                continue
            seen.add(path.stem)
            if CHANNELS[channel] not in channels:
                scan.excluded[f"({CHANNELS[channel]})"] += 1
                continue
            speaker = f"Actor_{actor}"
            scan.rows.append({
                "utt_id": path.stem,
                "path": str(path),
                "speaker": speaker,
                "gender": "M" if int(actor) % 2 else "F",
                "session": speaker,
                "emotion": LABEL_MAP[emo],
                "transcript": STATEMENTS.get(statement, ""),
                "raw_emotion": emo,
                "vocal_channel": CHANNELS[channel],
                "intensity": "strong" if intensity == "02" else "normal",
                "statement": int(statement),
                "repetition": int(repetition),
            })
    if not seen and not scan.skipped:
        scan.error(base, "the Actor_NN folders hold no .wav files", "unpack Audio_Speech_Actors_01-24.zip here")
    scan.notes["duplicate_copies_ignored"] = duplicates
    return scan


def full_release(corpus: Corpus) -> tuple[str, dict[str, Any]]:
    """The release the loaded channel(s) belong to: speech, song, or both summed."""
    channel = corpus.meta.get("options", {}).get("vocal_channel", "speech")
    if channel in FULL_RELEASE:
        return channel, FULL_RELEASE[channel]
    both: dict[str, Any] = {"utterances": 0, "per_emotion": {}, "per_speaker": {}}
    for part in FULL_RELEASE.values():
        both["utterances"] += part["utterances"]
        for key in ("per_emotion", "per_speaker"):
            for k, v in part[key].items():
                both[key][k] = both[key].get(k, 0) + v
    return "speech and song", both


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings for the speech files, without reading any audio samples."""
    return validate_scan(_scan(Path(root)), SAMPLE_RATES)


def load(root: Path, **options: Any) -> Corpus:
    """Load RAVDESS (see the module docstring for the layout, label map and options)."""
    opts = check_options("ravdess", options, DEFAULTS)
    check_choice("vocal_channel", opts["vocal_channel"], ("speech", "song", "both"))
    channels = ("speech", "song") if opts["vocal_channel"] == "both" else (opts["vocal_channel"],)
    expected = None
    if opts["expect_full"]:
        expected = {lab: sum(FULL_COUNTS[c][lab] for c in channels) for lab in LABELS}
    return finish(_scan(Path(root), channels), SPEC, LABELS, options=opts, expected_rates=SAMPLE_RATES,
                  logger=_log, label_map=LABEL_MAP, expected_counts=expected)
