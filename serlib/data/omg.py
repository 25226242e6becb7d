"""OMG-Emotion: the One-Minute-Gradual Emotion challenge corpus (Hamburg, 2018).

The corpus is distributed as label files pointing at YouTube videos, not as audio: each
reader downloads the videos and cuts the utterances. This loader reads the challenge's CSV
files and expects the cut audio in this layout (our convention, documented in the book)::

    <root>/omg_TrainVideos.csv
    <root>/omg_ValidationVideos.csv
    <root>/omg_TestVideos_WithLabels.csv      (omg_TestVideos.csv is accepted too)
    <root>/omg_TrainTranscripts.csv           (optional, also Validation/Test)
    <root>/train/<video>/<utterance>.wav      utterance_4.mp4 -> train/5b44393ed/utterance_4.wav
    <root>/validation/<video>/<utterance>.wav
    <root>/test/<video>/<utterance>.wav

(.flac is accepted where no .wav exists.) One way to cut them: download each ``link`` with
yt-dlp, then ``ffmpeg -i video -ss <start> -to <end> -ac 1 -ar 16000
<split>/<video>/<utterance>.wav``. Any sample rate loads; :func:`serlib.audio.load`
resamples.

CSV columns: ``link,start,end,video,utterance,arousal,valence,EmotionMaxVote`` (arousal in
[0, 1], valence in [-1, 1], the gold standards). Transcript CSVs: ``link,video,utterance,
transcript``.

Label map (``EmotionMaxVote``, 7 classes in the challenge's coding)::

    0 anger  1 disgust  2 fear  3 happy  4 neutral  5 sad  6 surprise

Speakers are not annotated. Each video is one YouTube monologue, so the **video id stands in
for the speaker** and the session (a speaker may appear in more than one video, which makes
"speaker-independent" splits on this corpus approximate); gender is ``"U"`` (unknown).
Utterances listed in the CSVs whose audio is not there (videos gone from YouTube) are
counted skips.

Extra columns: ``raw_emotion``, ``arousal``, ``valence``, ``split`` (train, validation, test),
``video``, ``start``, ``end``, ``link``.

Options: ``splits`` (None = all three).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import get_logger
from ._common import Scan, check_options, finish, locate, parse_float, read_csv_table, select_many, validate_scan
from .corpus import Corpus, LayoutProblem
from .registry import CorpusSpec

SPEC = CorpusSpec(
    name="omg",
    title="OMG-Emotion",
    default_subdir="omg",
    licence="research use; videos remain under their YouTube owners' terms",
    url_hint="https://github.com/knowledgetechnologyuhh/OMGEmotionChallenge",
    description="Utterances of YouTube monologues with arousal, valence and a 7-class "
    "majority emotion, in train/validation/test splits.",
)

LABEL_MAP: dict[str, str] = {"0": "anger", "1": "disgust", "2": "fear", "3": "happy", "4": "neutral",
                             "5": "sad", "6": "surprise"}
LABELS: tuple[str, ...] = tuple(LABEL_MAP.values())
SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("omg_TrainVideos.csv",),
    "validation": ("omg_ValidationVideos.csv",),
    "test": ("omg_TestVideos_WithLabels.csv", "omg_TestVideos.csv"),
}
TRANSCRIPTS: dict[str, str] = {"train": "omg_TrainTranscripts.csv", "validation": "omg_ValidationTranscripts.csv",
                               "test": "omg_TestTranscripts.csv"}
COLUMNS = ("link", "start", "end", "video", "utterance", "arousal", "valence", "EmotionMaxVote")
SAMPLE_RATES = None  # cut by each reader; any rate loads
DEFAULTS: dict[str, Any] = {"splits": None}

_log = get_logger("serlib.data.omg")
_FIX = "copy the challenge's CSV files (github.com/knowledgetechnologyuhh/OMGEmotionChallenge) into the corpus folder"


def _has_csv(path: Path) -> bool:
    return any((path / n).is_file() for names in SPLITS.values() for n in names)


def _transcripts(path: Path) -> dict[tuple[str, str], str]:
    if not path.is_file():
        return {}
    scratch = Scan(path.parent)
    df = read_csv_table(path, ("video", "utterance", "transcript"), scratch, "")
    if df is None:
        return {}
    return {(r.video.strip(), r.utterance.strip()): r.transcript.strip() for r in df.itertuples(index=False)}


def _audio_path(base: Path, split: str, video: str, utterance: str) -> Path:
    stem = utterance.rsplit(".", 1)[0] if "." in utterance else utterance
    wav = base / split / video / f"{stem}.wav"
    if not wav.exists():
        flac = wav.with_suffix(".flac")
        if flac.exists():
            return flac
    return wav


def _scan(root: Path, splits: tuple[str, ...] | None = None) -> Scan:
    base = locate(root, _has_csv, ("OMGEmotionChallenge", "omg", "OMG-Emotion"))
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, "no OMG-Emotion CSV files (omg_TrainVideos.csv ...) here", _FIX)
        return scan
    scan = Scan(base)
    if not any((base / s).is_dir() for s in SPLITS):
        scan.error(base / "train", "no audio folders train/, validation/, test/",
                   "cut the utterances into <split>/<video>/<utterance>.wav (see the serlib.data.omg docs)")
    for split in splits or tuple(SPLITS):
        label_file = next((base / n for n in SPLITS[split] if (base / n).is_file()), None)
        if label_file is None:
            scan.error(base / SPLITS[split][0], "label file missing", _FIX)
            continue
        df = read_csv_table(label_file, COLUMNS, scan, _FIX)
        if df is None:
            continue
        texts = _transcripts(base / TRANSCRIPTS[split])
        for i, rec in enumerate(df.itertuples(index=False), start=2):
            video, utterance = rec.video.strip(), rec.utterance.strip()
            code = rec.EmotionMaxVote.strip()
            code = code[:-2] if code.endswith(".0") else code
            if not video or not utterance:
                scan.skip(f"{label_file}:{i}", "row without video or utterance", "restore the CSV from the challenge")
                continue
            label = LABEL_MAP.get(code)
            if label is None:
                scan.skip(f"{label_file}:{i}", f"EmotionMaxVote {code!r} not in 0..6",
                          "restore the CSV from the challenge")
                continue
            stem = utterance.rsplit(".", 1)[0]
            scan.rows.append({
                "utt_id": f"{video}_{stem}",
                "path": str(_audio_path(base, split, video, utterance)),
                "speaker": video,
                "gender": "U",
                "session": video,
                "emotion": label,
                "transcript": texts.get((video, utterance), ""),
                "raw_emotion": code,
                "arousal": parse_float(rec.arousal),
                "valence": parse_float(rec.valence),
                "split": split,
                "video": video,
                "start": parse_float(rec.start),
                "end": parse_float(rec.end),
                "link": rec.link.strip(),
            })
    return scan


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings for all three splits, without reading any audio samples."""
    return validate_scan(_scan(Path(root)), SAMPLE_RATES)


def load(root: Path, **options: Any) -> Corpus:
    """Load OMG-Emotion (see the module docstring for the layout, label map and options)."""
    opts = check_options("omg", options, DEFAULTS)
    splits = select_many("splits", opts["splits"], tuple(SPLITS))
    return finish(_scan(Path(root), splits), SPEC, LABELS, options=opts, expected_rates=SAMPLE_RATES,
                  logger=_log, label_map=LABEL_MAP)
