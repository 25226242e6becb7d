"""Small fixture trees shaped exactly like the real corpora, for tests and ``smoke`` runs.

``make_fixture(name, root)`` writes a few dozen short generated recordings (harmonic tones
with a little noise, 0.3-0.5 s, at the corpus's own sample rate) into the corpus's real
folder layout, with label files in the real formats (same header lines, separators and
evaluator lines), and returns the folder to hand to the loader. Pitch, loudness and
brightness depend on the emotion and on the speaker, so a classifier finds something to
learn and per-speaker normalisation has something to remove.

What each fixture holds (``n_per_class`` multiplies the per-speaker, per-class count; 1 by
default):

============  ==========================================================================
iemocap       5 sessions x 2 dialogs (an ``F`` impro dialog, an ``M`` script dialog), 11
              utterances per session = 55 wavs at 16 kHz; labels neu, ang, sad, hap,
              exc, fru, xxx; every speaker has all four classes (exc -> happy), and
              male utterances sit in the F-prefixed dialog (the speaker pitfall).
              4class: 45 (neutral 10, angry 10, sad 10, happy 15); 4class_noexc: 35.
msp_improv    6 sessions x 2 actors x 4 classes = 48 labelled + 2 left out (O, X) = 50
              wavs at 48 kHz, one Evalution.txt with consensus and evaluator lines (no
              text, as in the release; :func:`msp_improv_transcripts` writes a
              reader's transcript table for it).
msp_podcast   16 wavs at 16 kHz: speakers 127 F, 128 M (Train, 4 classes each), 309 F
              (Development), 1005 M and Unknown (Test1); plus C, O and X rows; one
              Transcripts/<segment>.txt per wav (a generated sentence of its class).
              4class: 13, 8class: 14.
emodb         all 10 speakers x 7 emotions = 70 wavs at 16 kHz (enough for
              leave-two-speakers-out with every class in every fold).
ravdess       6 actors (01-06: 3 male, 3 female) x 8 emotions = 48 speech wavs at 48 kHz,
              plus 2 song files in Actor_01 (excluded by default). Six actors is the
              smallest number that gives three leave-two-speakers-out folds. As in the
              release, every WAV header carries a ``FLLR`` filler chunk (samples start at
              byte 4096) and one speech file (Actor_01, calm) is stereo with equal channels.
savee         AudioData/{DC,JE,JK,KL} x 7 emotions = 28 wavs at 44.1 kHz.
omg           the three challenge CSVs (+ Train/Validation transcripts) and 14 cut
              utterances at 16 kHz: train 8 (two videos, all 7 classes), validation 3,
              test 3.
librispeech   SPEAKERS.TXT, dev-clean (3 speakers x 1 chapter x 3 utterances) and
              train-clean-100 (1 speaker x 2 utterances) = 11 FLAC files at 16 kHz.
              SPEAKERS.TXT has the release's comment preamble, one reader name that holds
              ``|`` and a reader of a subset that is not unpacked, as the real list has.
tess          the emotion folders of the release with its own capitalisation (OAF_Fear,
              OAF_Pleasant_surprise, OAF_Sad, YAF_pleasant_surprised ...): 2 speakers x
              7 emotions x 2 words = 28 wavs at 24414 Hz (pleasant surprise is ``ps`` in
              the file names).
============  ==========================================================================

Everything is deterministic given ``seed``; each tree takes well under a second to write.

Checked against real copies
---------------------------
The RAVDESS and LibriSpeech trees were compared once, file by file, with real data:

* RAVDESS: a copy of the speech release (``audio_speech_actors_01-24``: ``Actor_01`` ..
  ``Actor_24``, 60 files each, 1440 in all). ``serbook data check ravdess`` on it: 0 errors, 0
  warnings, "1440 of 1440 (speech): complete", exit 0, both on the ``Actor_NN`` folders and on
  the folder holding the copy's lower-case wrapper. Same as the fixture: the ``Actor_NN`` folder
  names, the file-name form ``03-01-EE-II-SS-RR-AA.wav`` with the actor of the name equal to the
  folder's, neutral at normal intensity only, 48 kHz 16-bit PCM WAV, no label file. Different,
  and now reproduced by the fixture: 5 of the 1440 files are stereo (both channels equal; the
  others mono), and every file's header has a ``FLLR`` filler chunk between ``fmt`` and ``data``
  (4044 bytes, samples from byte 4096). Different on purpose: the real recordings last 2.9-5.3 s
  (0.3-0.5 s here), and the fixture has 6 actors and one file per actor and emotion (60 per
  actor in the release).
* LibriSpeech: 351 FLAC files of test-other (10 speakers) and train-clean-100 (251 speakers, one
  file each) with the release's SPEAKERS.TXT. That copy keeps no chapter folders and no
  ``.trans.txt`` files, so its folder layout could not be compared; put into the release's
  ``<subset>/<speaker>/<chapter>/`` folders (chapter and speaker taken from the file names, a
  placeholder transcript line per file), ``serbook data check librispeech`` reads it with 0
  errors, 0 warnings, every speaker's sex found in SPEAKERS.TXT (exit 3: partial, as expected
  of a sample). Same as the fixture: ``<speaker>-<chapter>-<nnnn>.flac`` names, 16 kHz mono
  16-bit FLAC, the SPEAKERS.TXT header line and field widths. Different, and now reproduced:
  SPEAKERS.TXT's eleven-line comment preamble, a reader name holding ``|`` characters (the
  loader reads the name as the rest of the line) and readers of every subset, unpacked or not.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["FIXTURES", "make_fixture", "msp_improv_transcripts"]

_F0 = {"F": 210.0, "M": 118.0, "U": 160.0}


class _Writer:
    """Generates and writes the recordings of one fixture tree."""

    def __init__(self, seed: int, sample_rate: int, n_classes: int):
        self.rng = np.random.default_rng(seed)
        self.sr = sample_rate
        self.n_classes = max(n_classes, 1)

    def signal(self, cls: int, gender: str, speaker_index: int) -> np.ndarray:
        rng, sr = self.rng, self.sr
        dur = float(rng.uniform(0.3, 0.5))
        n = int(round(dur * sr))
        t = np.arange(n, dtype=np.float32) / sr
        rel = cls / max(self.n_classes - 1, 1)  # 0..1 across classes
        f0 = _F0.get(gender, 160.0) * (1.0 + 0.06 * (speaker_index % 5)) * (0.85 + 0.45 * rel)
        f0 = f0 * (1.0 + 0.03 * np.sin(2 * np.pi * (3.0 + 2.0 * rel) * t))  # vibrato grows with class
        phase = 2 * np.pi * np.cumsum(f0) / sr
        tilt = 1.2 - 0.7 * rel  # brighter for higher classes
        x = sum(np.sin(k * phase) / k**tilt for k in range(1, 7))
        x = x / np.max(np.abs(x))
        ramp = min(int(0.02 * sr), n // 4)
        env = np.ones(n)
        env[:ramp] = np.linspace(0, 1, ramp)
        env[n - ramp:] = np.linspace(1, 0, ramp)
        level = 0.15 + 0.25 * rel + 0.03 * (speaker_index % 3)
        y = level * env * x + 0.004 * rng.standard_normal(n)
        return np.clip(y, -1, 1).astype(np.float32)

    def write(self, path: Path, cls: int, gender: str, speaker_index: int, fmt: str = "WAV", *,
              channels: int = 1, data_at: int | None = None) -> float:
        """Write one recording; ``channels=2`` repeats it on both channels (as the release's stereo
        files do); ``data_at`` pads a WAV header with a ``FLLR`` chunk so that the samples start at
        that byte (as in the RAVDESS release's files)."""
        import soundfile as sf

        path.parent.mkdir(parents=True, exist_ok=True)
        y = self.signal(cls, gender, speaker_index)
        buf = io.BytesIO()  # encode in memory: writing files directly syncs each one to disk (slow)
        sf.write(buf, np.repeat(y[:, None], channels, axis=1) if channels > 1 else y, self.sr, format=fmt,
                 subtype="PCM_16")
        data = buf.getvalue()
        path.write_bytes(_pad_wav(data, data_at) if data_at else data)
        return len(y) / self.sr


def _pad_wav(wav: bytes, data_at: int) -> bytes:
    """``wav`` with a ``FLLR`` filler chunk before its ``data`` chunk, so that the samples start at
    byte ``data_at`` (the RIFF size updated)."""
    pos = 12
    while wav[pos:pos + 4] != b"data":
        pos += 8 + int.from_bytes(wav[pos + 4:pos + 8], "little")
    size = data_at - pos - 16
    if size < 0:
        raise ValueError(f"a WAV header of {pos + 8} bytes cannot end at byte {data_at}")
    out = wav[:pos] + b"FLLR" + size.to_bytes(4, "little") + bytes(size) + wav[pos:]
    return out[:4] + (len(out) - 8).to_bytes(4, "little") + out[8:]


def _n(n_per_class: int | None) -> int:
    n = 1 if n_per_class is None else int(n_per_class)
    if n < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class!r}")
    return n


# --------------------------------------------------------------------------- IEMOCAP
_IEMO_CODES = ("neu", "ang", "sad", "hap", "exc", "fru", "xxx")
_IEMO_CLASS = {"neu": 0, "ang": 1, "sad": 2, "hap": 3, "exc": 3, "fru": 1, "xxx": 0}
_IEMO_WORD = {"neu": "Neutral", "ang": "Anger", "sad": "Sadness", "hap": "Happiness", "exc": "Excited",
              "fru": "Frustration", "xxx": "Neutral"}
_IEMO_VAD = {"neu": (2.5, 2.5, 2.5), "ang": (1.5, 4.0, 4.0), "sad": (1.5, 2.0, 2.0), "hap": (4.0, 3.0, 3.0),
             "exc": (4.0, 4.0, 3.5), "fru": (2.0, 3.5, 3.5), "xxx": (2.5, 3.0, 3.0)}
# (dialog kind, [(speaker letter, code), ...]); the F-prefixed dialog holds male turns too.
_IEMO_DIALOGS = (
    ("F", "impro", (("F", "neu"), ("M", "ang"), ("F", "sad"), ("M", "exc"), ("F", "xxx"), ("M", "fru"))),
    ("M", "script", (("F", "ang"), ("M", "neu"), ("F", "hap"), ("M", "sad"), ("F", "exc"))),
)
_IEMO_TEXT = {"neu": "I was just going to ask you about that.", "ang": "That is not what you told me yesterday!",
              "sad": "I don't know what I'm going to do now.", "hap": "Oh, that's wonderful news.",
              "exc": "We did it, we actually did it!", "fru": "Why does this keep happening to me?",
              "xxx": "Well, okay then."}


def _iemocap(root: Path, n: int, seed: int) -> Path:
    base = root / "IEMOCAP_full_release"
    w = _Writer(seed, 16000, 4)
    for s in range(1, 6):
        sess = f"Ses{s:02d}"
        sdir = base / f"Session{s}"
        for rep in range(1, n + 1):
            for prefix, kind, turns in _IEMO_DIALOGS:
                dialog = f"{sess}{prefix}_{kind}0{rep}" if kind == "impro" else f"{sess}{prefix}_{kind}0{rep}_1"
                eval_lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
                cat_lines, trans_lines = [], []
                counters = {"F": 0, "M": 0}
                t = 1.0
                for spk, code in turns:
                    utt = f"{dialog}_{spk}{counters[spk]:03d}"  # numbered per speaker, as in the release
                    counters[spk] += 1
                    dur = w.write(sdir / "sentences" / "wav" / dialog / f"{utt}.wav", _IEMO_CLASS[code], spk,
                                  2 * s + (spk == "M"))
                    start, end = t, t + dur
                    t = end + 0.7
                    v, a, d = _IEMO_VAD[code]
                    eval_lines.append(f"[{start:.4f} - {end:.4f}]\t{utt}\t{code}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
                    words = ([_IEMO_WORD[code]] * 3 if code != "xxx" else ["Neutral", "Frustration", "Anger"])
                    for rater, word in zip(("C-E2", "C-E3", "C-F1"), words, strict=True):
                        note = "(curious)" if rater == "C-F1" and code == "neu" else "()"
                        eval_lines.append(f"{rater}:\t{word};\t{note}")
                    eval_lines.append(f"A-E3:\tval {round(v)}; act {round(a)}; dom  {round(d)};\t()")
                    eval_lines.append(f"A-F1:\tval {round(v)}; act {round(a)}; dom  {round(d)};\t()")
                    eval_lines.append("")
                    cat_lines.append(f"{utt} :{words[0]}; ()")
                    trans_lines.append(f"{utt} [{start:08.4f}-{end:08.4f}]: {_IEMO_TEXT[code]}")
                emo = sdir / "dialog" / "EmoEvaluation"
                (emo / "Categorical").mkdir(parents=True, exist_ok=True)
                (emo / f"{dialog}.txt").write_text("\n".join(eval_lines) + "\n")
                (emo / "Categorical" / f"{dialog}_e2_cat.txt").write_text("\n".join(cat_lines) + "\n")
                tr = sdir / "dialog" / "transcriptions"
                tr.mkdir(parents=True, exist_ok=True)
                (tr / f"{dialog}.txt").write_text("\n".join(trans_lines) + "\n")
    return base


# --------------------------------------------------------------------------- MSP-IMPROV
_MSPI = ("N", "A", "S", "H")
_MSPI_WORD = {"N": "Neutral", "A": "Angry", "S": "Sad", "H": "Happy", "O": "Other", "X": "Neutral"}


def _msp_improv(root: Path, n: int, seed: int) -> Path:
    base = root / "MSP-IMPROV"
    w = _Writer(seed, 48000, 4)
    blocks = []
    conds = ("R", "S", "T", "P")
    for ses in range(1, 7):
        for gi, g in enumerate(("F", "M")):
            items = [code for code in _MSPI for _ in range(n)]
            if ses == 1 and g == "F":
                items += ["O", "X"]
            for j, code in enumerate(items):
                target = code if code in _MSPI else "N"
                sent = 1 + (j % 15)
                cond = conds[(j + ses) % 4]
                turn = f"{'FM' if g == 'F' else 'MF'}{j + 1:02d}"
                fields = f"S{sent:02d}{target}-{g}{ses:02d}-{cond}-{turn}"
                cls = _MSPI.index(code) if code in _MSPI else 0
                w.write(base / f"session{ses}" / f"S{sent:02d}{target}" / cond / f"MSP-IMPROV-{fields}.wav",
                        cls, g, 2 * ses + gi)
                a, v, d = 2.0 + 0.6 * cls, 3.4 - 0.3 * cls, 2.5 + 0.4 * cls
                lines = [f"UTD-IMPROV-{fields}.avi; {code}; A:{a:.6f}; V:{v:.6f}; D:{d:.6f} ; N:{3.0:.6f};"]
                for r in range(3):
                    word = _MSPI_WORD[code] if code != "X" else ("Neutral", "Happy", "Sad")[r]
                    other = "Frustrated" if (code == "A" and r == 0) else ""
                    lines.append(f"S{ses}-p{r + 11:03d}; {word}; {other}; A:{a:.6f}; V:{v:.6f}; D:{d:.6f}; N:3.000000;")
                blocks.append("\n".join(lines))
    (base / "Evalution.txt").write_text("\n\n".join(blocks) + "\n")
    return base


# --------------------------------------------------------------------------- MSP-Podcast
_PODCAST_ROWS = (  # (speaker, gender word, split, EmoClass)
    ("127", "Female", "Train", "N"), ("127", "Female", "Train", "A"), ("127", "Female", "Train", "S"),
    ("127", "Female", "Train", "H"), ("128", "Male", "Train", "N"), ("128", "Male", "Train", "A"),
    ("128", "Male", "Train", "S"), ("128", "Male", "Train", "H"), ("309", "Female", "Development", "N"),
    ("309", "Female", "Development", "H"), ("1005", "Male", "Test1", "A"), ("1005", "Male", "Test1", "S"),
    ("Unknown", "Unknown", "Test1", "N"), ("127", "Female", "Train", "C"), ("Unknown", "Unknown", "Test1", "X"),
    ("309", "Female", "Development", "O"),
)
_PODCAST_CLASS = {"N": 0, "A": 1, "S": 2, "H": 3, "C": 1, "X": 0, "O": 2}


def _msp_podcast(root: Path, n: int, seed: int) -> Path:
    base = root / "MSP-Podcast"
    w = _Writer(seed, 16000, 4)
    (base / "Labels").mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"])
    speakers = sorted({r[0] for r in _PODCAST_ROWS})
    seg = 0
    for rep in range(n):
        for k, (spk, gword, split, code) in enumerate(_PODCAST_ROWS):
            if rep and code in ("C", "X", "O"):
                continue
            seg += 1
            name = f"MSP-PODCAST_{1 + k // 4:04d}_{seg:04d}.wav"
            cls = _PODCAST_CLASS[code]
            w.write(base / "Audios" / name, cls, gword[0] if gword != "Unknown" else "U", speakers.index(spk))
            act, val, dom = 2.2 + 1.1 * cls, 4.0 - 0.4 * cls, 2.6 + 0.8 * cls
            writer.writerow([name, code, f"{act:.6f}", f"{val:.6f}", f"{dom:.6f}", spk, gword, split])
            (base / "Transcripts").mkdir(exist_ok=True)
            (base / "Transcripts" / f"{name[:-4]}.txt").write_text(_TEXT[_PODCAST_CLASS[code]][seg % 3] + "\n")
    (base / "Labels" / "labels_consensus.csv").write_text(out.getvalue())
    return base


# generated sentences per class (neutral, angry, sad, happy), for the corpora that carry text
_TEXT = (("I will send you the report tomorrow.", "The meeting starts at nine.", "We took the usual road home."),
         ("That is not what you promised me!", "Stop wasting my time with this!", "You never listen to anything!"),
         ("I miss the way things used to be.", "Nobody called me back after that.", "It all went wrong again."),
         ("This is the best news all year!", "I love how this turned out!", "We finally made it, hooray!"))


def msp_improv_transcripts(corpus_dir: Path, out: Path) -> Path:
    """Write a transcript table (CSV ``id,text``) for an MSP-IMPROV fixture tree, as a reader
    would provide one (the release itself has no text for most utterances); return its path.

    Every consensus line of ``Evalution.txt`` gets a generated sentence of its emotion.
    """
    import re

    rows = []
    for line in (Path(corpus_dir) / "Evalution.txt").read_text().splitlines():
        m = re.match(r"UTD-IMPROV-(S\d\d[A-Z]-[FM]\d\d-[A-Z]-[A-Z]+\d+)\.avi;\s*([A-Z])", line)
        if m:
            cls = _MSPI.index(m[2]) if m[2] in _MSPI else 0
            rows.append((f"MSP-IMPROV-{m[1]}", _TEXT[cls][len(rows) % 3]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "text"])
    w.writerows(rows)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(buf.getvalue())
    return out


# --------------------------------------------------------------------------- Emo-DB
_EMODB_SPEAKERS = {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M", "12": "M", "13": "F", "14": "F",
                   "15": "M", "16": "F"}
_EMODB_LETTERS = "WLEAFTN"
_EMODB_TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")


def _emodb(root: Path, n: int, seed: int) -> Path:
    base = root / "emodb"
    w = _Writer(seed, 16000, 7)
    for si, (spk, g) in enumerate(_EMODB_SPEAKERS.items()):
        for ci, letter in enumerate(_EMODB_LETTERS):
            for rep in range(n):
                text = _EMODB_TEXTS[(si + ci + rep) % len(_EMODB_TEXTS)]
                version = "abcdefg"[rep // len(_EMODB_TEXTS)]
                w.write(base / "wav" / f"{spk}{text}{letter}{version}.wav", ci, g, si)
    return base


# --------------------------------------------------------------------------- RAVDESS
_RAVDESS_DATA_AT = 4096  # the release's WAV headers end at byte 4096 (a FLLR filler chunk after fmt)


def _ravdess(root: Path, n: int, seed: int) -> Path:
    base = root / "RAVDESS"
    w = _Writer(seed, 48000, 8)
    combos = [(i, s, r) for r in ("01", "02") for s in ("01", "02") for i in ("01", "02")]
    for actor in range(1, 7):
        g = "M" if actor % 2 else "F"
        for emo in range(1, 9):
            allowed = [c for c in combos if emo != 1 or c[0] == "01"]
            for rep in range(min(n, len(allowed))):
                intensity, statement, repetition = allowed[(actor + rep) % len(allowed)]
                name = f"03-01-{emo:02d}-{intensity}-{statement}-{repetition}-{actor:02d}.wav"
                # a few of the release's speech files are stereo (both channels equal): one here too
                stereo = actor == 1 and emo == 2 and rep == 0
                w.write(base / f"Actor_{actor:02d}" / name, emo - 1, g, actor, channels=2 if stereo else 1,
                        data_at=_RAVDESS_DATA_AT)
    for emo in (1, 3):  # two song files, excluded unless vocal_channel asks for them
        w.write(base / "Actor_01" / f"03-02-{emo:02d}-01-01-01-01.wav", emo - 1, "M", 1, data_at=_RAVDESS_DATA_AT)
    return base


# --------------------------------------------------------------------------- SAVEE
_SAVEE_CODES = ("a", "d", "f", "h", "n", "sa", "su")


def _savee(root: Path, n: int, seed: int) -> Path:
    base = root / "SAVEE"
    w = _Writer(seed, 44100, 7)
    for si, spk in enumerate(("DC", "JE", "JK", "KL")):
        for ci, code in enumerate(_SAVEE_CODES):
            for rep in range(n):
                w.write(base / "AudioData" / spk / f"{code}{rep + 1:02d}.wav", ci, "M", si)
    return base


# --------------------------------------------------------------------------- OMG-Emotion
_OMG_VIDEOS = (  # (split, video id, youtube key, [EmotionMaxVote ...])
    ("train", "5b44393ed", "CROcsl0lIec", (4, 3, 0, 5)),
    ("train", "8c56c5ac5", "Zrx1BfbOysg", (1, 2, 6, 4)),
    ("validation", "243cff084", "dqMwSvDD1eo", (3, 0, 4)),
    ("test", "1f61459b0", "_bg0TrqHcBs", (3, 0, 1)),
)
_OMG_FILES = {"train": "omg_TrainVideos.csv", "validation": "omg_ValidationVideos.csv",
              "test": "omg_TestVideos_WithLabels.csv"}
_OMG_TRANSCRIPTS = {"train": "omg_TrainTranscripts.csv", "validation": "omg_ValidationTranscripts.csv"}


def _omg(root: Path, n: int, seed: int) -> Path:
    base = root / "OMG-Emotion"
    base.mkdir(parents=True, exist_ok=True)
    w = _Writer(seed, 16000, 7)
    tables = {s: [["link", "start", "end", "video", "utterance", "arousal", "valence", "EmotionMaxVote"]]
              for s in _OMG_FILES}
    texts = {s: ['link,video,utterance,transcript'] for s in _OMG_TRANSCRIPTS}
    for vi, (split, video, key, votes) in enumerate(_OMG_VIDEOS):
        link = f"https://www.youtube.com/watch?v={key}"
        t = 0.0
        k = 0
        for _ in range(n):
            for vote in votes:
                k += 1
                utt = f"utterance_{k}.mp4"
                dur = w.write(base / split / video / f"utterance_{k}.wav", vote, "U", vi)
                start, end = t, t + dur + 1.5
                t = end + 0.4
                arousal, valence = 0.2 + 0.08 * vote, -0.5 + 0.15 * vote
                tables[split].append([link, repr(start), repr(end), video, utt, repr(arousal), repr(valence),
                                      str(vote)])
                if split in texts:
                    texts[split].append(f'"{link}",{video},{utt},"utterance number {k} of this video"')
    for split, rows in tables.items():
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        (base / _OMG_FILES[split]).write_text(out.getvalue())
    for split, lines in texts.items():
        (base / _OMG_TRANSCRIPTS[split]).write_text("\n".join(lines) + "\n")
    return base


# --------------------------------------------------------------------------- LibriSpeech
_LIBRI = (  # (subset, speaker, sex, chapter, n utterances)
    ("dev-clean", "1272", "M", "128104", 3),
    ("dev-clean", "1462", "F", "170138", 3),
    ("dev-clean", "174", "F", "50561", 3),
    ("train-clean-100", "103", "F", "1240", 2),
)
_LIBRI_WORDS = ("THE", "OLD", "HOUSE", "STOOD", "BY", "A", "RIVER", "AND", "NOBODY", "KNEW", "WHO", "LIVED", "THERE")


def _librispeech(root: Path, n: int, seed: int) -> Path:
    base = root / "LibriSpeech"
    w = _Writer(seed, 16000, 1)
    base.mkdir(parents=True, exist_ok=True)
    lines = ["; Some pipe(|) separated metadata about the fixture's readers, in the format of LibriSpeech's",
             "; SPEAKERS.TXT.",
             ";",
             "; The meaning of the fields in left-to-right order is as follows:",
             ";",
             "; reader_id: the ID of the reader",
             "; gender: 'F' for female, 'M' for male",
             "; subset: the corpus subset to which the reader's audio is assigned",
             "; duration: total number of minutes of speech by the reader, included in the corpus",
             "; name: the name of the reader",
             ";",
             ";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for si, (subset, spk, sex, chapter, count) in enumerate(_LIBRI):
        # the real list has a reader name that holds pipes: the fifth field is the rest of the line
        name = f"|R{spk}|Reader" if si == 0 else f"Reader {spk}"
        lines.append(f"{spk:<5}| {sex} | {subset:<17}| {25.0 + si:5.2f} | {name}")
        cdir = base / subset / spk / chapter
        trans = []
        for u in range(count * n):
            utt = f"{spk}-{chapter}-{u:04d}"
            w.write(cdir / f"{utt}.flac", 0, sex, si, fmt="FLAC")
            words = [_LIBRI_WORDS[(si + u + j) % len(_LIBRI_WORDS)] for j in range(6)]
            trans.append(f"{utt} {' '.join(words)}")
        (cdir / f"{spk}-{chapter}.trans.txt").write_text("\n".join(trans) + "\n")
    # and it lists every subset's readers, also those of subsets not unpacked
    lines.append(f"{'9999':<5}| F | {'train-clean-360':<17}| {25.10:5.2f} | Reader 9999")
    (base / "SPEAKERS.TXT").write_text("\n".join(lines) + "\n")
    return base


# --------------------------------------------------------------------------- TESS
# (speaker, file-name code) -> folder name, as spelled in the release
_TESS_FOLDERS = {
    ("OAF", "angry"): "OAF_angry", ("OAF", "disgust"): "OAF_disgust", ("OAF", "fear"): "OAF_Fear",
    ("OAF", "happy"): "OAF_happy", ("OAF", "neutral"): "OAF_neutral", ("OAF", "ps"): "OAF_Pleasant_surprise",
    ("OAF", "sad"): "OAF_Sad", ("YAF", "angry"): "YAF_angry", ("YAF", "disgust"): "YAF_disgust",
    ("YAF", "fear"): "YAF_fear", ("YAF", "happy"): "YAF_happy", ("YAF", "neutral"): "YAF_neutral",
    ("YAF", "ps"): "YAF_pleasant_surprised", ("YAF", "sad"): "YAF_sad",
}
_TESS_CODES = ("angry", "disgust", "fear", "happy", "ps", "sad", "neutral")
_TESS_WORDS = ("back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book")


def _tess(root: Path, n: int, seed: int) -> Path:
    base = root / "TESS"
    w = _Writer(seed, 24414, 7)
    for si, spk in enumerate(("OAF", "YAF")):
        for ci, code in enumerate(_TESS_CODES):
            for k in range(2 * n):
                word = _TESS_WORDS[k % len(_TESS_WORDS)] + ("" if k < len(_TESS_WORDS) else str(k))
                w.write(base / _TESS_FOLDERS[(spk, code)] / f"{spk}_{word}_{code}.wav", ci, "F", si)
    return base


FIXTURES: dict[str, Callable[[Path, int, int], Path]] = {
    "iemocap": _iemocap,
    "msp_improv": _msp_improv,
    "msp_podcast": _msp_podcast,
    "emodb": _emodb,
    "ravdess": _ravdess,
    "savee": _savee,
    "omg": _omg,
    "librispeech": _librispeech,
    "tess": _tess,
}
"""Registry name -> builder."""


def make_fixture(name: str, root: Path, *, n_per_class: int | None = None, seed: int = 0) -> Path:
    """Write a small fixture tree of corpus ``name`` under ``root``; return the corpus folder.

    The returned folder is what :func:`serlib.data.load_corpus` takes (the loaders accept its
    parent too, as they do for the real archives).
    """
    key = name.strip().lower().replace("-", "_")
    key = {"emo_db": "emodb", "omg_emotion": "omg"}.get(key, key)
    if key not in FIXTURES:
        raise ValueError(f"no fixture for corpus {name!r}; fixtures exist for {sorted(FIXTURES)}")
    return FIXTURES[key](Path(root), _n(n_per_class), int(seed))
