"""IEMOCAP: the Interactive Emotional Dyadic Motion Capture database (USC SAIL).

Layout read (the release as unpacked; ``root`` is ``IEMOCAP_full_release`` or its parent)::

    Session1/ ... Session5/
        dialog/EmoEvaluation/Ses01F_impro01.txt      one label file per dialog
        dialog/transcriptions/Ses01F_impro01.txt     one transcript file per dialog
        sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav

An EmoEvaluation file starts with ``% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]``;
each utterance is a block whose first line is tab-separated,
``[6.2901 - 8.2357]  Ses01F_impro01_F000  neu  [2.5000, 2.5000, 2.5000]``, followed by the
evaluators' lines (``C-E2: Neutral; ()``, ``A-E3: val 3; act 2; dom  2; ()``), which are not
needed here. The bracket holds the evaluators' mean **valence, activation (arousal),
dominance**, in that order, on 1-5 scales. Transcript lines read
``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.``. Audio: 16 kHz mono.

Label sets (option ``label_set``), the usual 4-class protocol:

==================  =====================================================================
``"4class"``        neu -> neutral, ang -> angry, sad -> sad, hap -> happy, **exc -> happy**;
                    full release: 5531 utterances (neutral 1708, angry 1103, sad 1084,
                    happy 1636 = hap 595 + exc 1041)
``"4class_noexc"``  as above without excited: 4490 utterances (happy = hap 595)
==================  =====================================================================

Every other category (fru, sur, fea, dis, oth) and ``xxx`` (no majority) is left out and
counted in ``meta["excluded"]``.

Speakers: the utterance id names the **true speaker** in its last part: in
``Ses01F_impro01_M013`` the speaker is the *male* actor of session 1 (``Ses01M``). The dialog
prefix ``Ses01F`` only says who wore the motion-capture markers, and reading the speaker from
it is a known pitfall that puts half the utterances under the wrong speaker.

Columns beyond the common ones: ``raw_emotion`` (the IEMOCAP code), ``valence``,
``arousal``, ``dominance``, ``dialog``, ``improvised`` (True for ``impro`` dialogs, False for
``script``), ``start``, ``end`` (seconds within the dialog).

Full release (``FULL_RELEASE``): 10039 utterances in all, 5531 in the 4-class set; ``serbook
data check`` reports a copy's coverage against them. A label line whose wav is absent is a
counted skip; a wav that no label file lists is a warning ("audio file not in the label file").

Options: ``label_set`` ("4class"), ``improvised_only`` (False), ``expect_full`` (False: if
True the per-class counts must equal the full release's, else :class:`CorpusError`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..config import ParameterError, check_choice, get_logger
from ._common import Scan, check_options, finish, locate, read_lines, validate_scan, visible
from .corpus import Corpus, LayoutProblem
from .registry import CorpusSpec

SPEC = CorpusSpec(
    name="iemocap",
    title="IEMOCAP",
    default_subdir="iemocap",
    licence="USC SAIL release agreement (research use; no redistribution)",
    url_hint="https://sail.usc.edu/iemocap/",
    description="About 12 h of dyadic improvised and scripted sessions by 10 actors (5 sessions, "
    "one woman and one man each), categorical and dimensional labels.",
)

LABELS: tuple[str, ...] = ("neutral", "angry", "sad", "happy")
LABEL_SETS: dict[str, dict[str, str]] = {
    "4class": {"neu": "neutral", "ang": "angry", "sad": "sad", "hap": "happy", "exc": "happy"},
    "4class_noexc": {"neu": "neutral", "ang": "angry", "sad": "sad", "hap": "happy"},
}
FULL_COUNTS: dict[str, dict[str, int]] = {
    "4class": {"neutral": 1708, "angry": 1103, "sad": 1084, "happy": 1636},
    "4class_noexc": {"neutral": 1708, "angry": 1103, "sad": 1084, "happy": 595},
}
FULL_RELEASE: dict[str, dict[str, Any]] = {
    "4class": {"utterances": 5531, "per_emotion": FULL_COUNTS["4class"], "per_speaker": None},
    "4class_noexc": {"utterances": 4490, "per_emotion": FULL_COUNTS["4class_noexc"], "per_speaker": None},
    "all": {"utterances": 10039, "per_emotion": None, "per_speaker": None},
}
"""The release's counts: 10039 utterance lines in the EmoEvaluation files (every category), of
which the 4-class set keeps 5531 (neutral 1708, angry 1103, sad 1084, happy 595 + excited 1041;
Busso et al. 2008; the category counts as the FlagEval speech-emotion benchmark documentation
lists them for the release)."""
SAMPLE_RATES = (16000,)
DEFAULTS: dict[str, Any] = {"label_set": "4class", "improvised_only": False, "expect_full": False}
SESSIONS = tuple(f"Session{n}" for n in range(1, 6))

_log = get_logger("serlib.data.iemocap")
_EVAL_LINE = re.compile(
    r"^\[\s*(?P<start>\d+(?:\.\d+)?)\s*-\s*(?P<end>\d+(?:\.\d+)?)\s*\]\s+(?P<utt>\S+)\s+(?P<code>\w+)\s+"
    r"\[\s*(?P<v>[-\d.]+)\s*,\s*(?P<a>[-\d.]+)\s*,\s*(?P<d>[-\d.]+)\s*\]\s*$"
)
_UTT = re.compile(r"^(?P<prefix>Ses(?P<ses>\d\d)[FM])_(?P<body>.+)_(?P<spk>[FM])(?P<num>\d{3})$")
_TRANSCRIPT = re.compile(r"^(?P<utt>\S+)\s+\[[^\]]*\]:\s?(?P<text>.*)$")
_RELEASE_FIX = "restore it from the IEMOCAP_full_release archive"


def _has_sessions(path: Path) -> bool:
    return any((path / s).is_dir() for s in SESSIONS)


def _read_transcripts(path: Path, scan: Scan) -> dict[str, str]:
    if not path.is_file():
        scan.warn(path, "transcription file missing", f"{_RELEASE_FIX}; until then the dialog's transcripts are blank")
        return {}
    out = {}
    for line in read_lines(path):
        m = _TRANSCRIPT.match(line.strip())
        if m:
            out[m["utt"]] = m["text"].strip()
    return out


def _scan(root: Path, label_set: str = "4class", improvised_only: bool = False) -> Scan:
    base = locate(root, _has_sessions, ("IEMOCAP_full_release", "IEMOCAP"))
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, "no Session1..Session5 folders here or in IEMOCAP_full_release/",
                   "pass the folder that holds Session1..Session5 (IEMOCAP_full_release) or its parent")
        return scan
    scan = Scan(base)
    mapping = LABEL_SETS[label_set]
    for session in SESSIONS:
        sdir = base / session
        if not sdir.is_dir():
            scan.warn(sdir, "session folder missing", f"{_RELEASE_FIX}; until then this session is absent")
            continue
        emo_dir, wav_dir = sdir / "dialog" / "EmoEvaluation", sdir / "sentences" / "wav"
        if not emo_dir.is_dir():
            scan.error(emo_dir, "label folder missing", _RELEASE_FIX)
            continue
        if not wav_dir.is_dir():
            scan.error(wav_dir, "audio folder missing", _RELEASE_FIX)
            continue
        dialogs = {p.stem for p in visible(emo_dir.glob("*.txt"))}
        dialogs |= {p.name for p in visible(wav_dir.iterdir()) if p.is_dir()}
        for dialog in sorted(dialogs):
            label_file = emo_dir / f"{dialog}.txt"
            if not label_file.is_file():
                scan.error(label_file, "label file missing", f"{_RELEASE_FIX} (dialog/EmoEvaluation of {session}); "
                           "the dialog's audio has no labels without it")
                continue
            _read_dialog(scan, label_file, wav_dir / dialog, sdir / "dialog" / "transcriptions" / f"{dialog}.txt",
                         mapping, improvised_only)
    return scan


def _read_dialog(scan: Scan, label_file: Path, wav_dir: Path, transcript_file: Path,
                 mapping: dict[str, str], improvised_only: bool) -> None:
    entries = []
    for i, line in enumerate(read_lines(label_file), start=1):
        line = line.strip()
        if not line.startswith("["):
            continue  # header, blank and evaluator lines
        m = _EVAL_LINE.match(line)
        if m is None:
            scan.skip(f"{label_file}:{i}", "unreadable utterance line", f"{_RELEASE_FIX}; expected "
                      "'[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]'")
            continue
        entries.append(m)
    if not entries:
        scan.error(label_file, "no utterance lines (is this an EmoEvaluation file?)", _RELEASE_FIX)
        return
    listed = {m["utt"] for m in entries}
    if wav_dir.is_dir():
        unlisted = [p for p in visible(wav_dir.glob("*.wav")) if p.stem not in listed]
        for path in unlisted:
            scan.warn(path, "audio file not in the label file",
                      f"{label_file.name} does not list it; restore the matching EmoEvaluation file from the "
                      "release, or remove the stray file")
        scan.notes["unlisted_audio"] = scan.notes.get("unlisted_audio", 0) + len(unlisted)
    transcripts = _read_transcripts(transcript_file, scan)
    for m in entries:
        utt, code = m["utt"], m["code"]
        u = _UTT.match(utt)
        if u is None:
            scan.skip(label_file, f"utterance id {utt!r} not in the IEMOCAP form Ses01F_impro01_F000", _RELEASE_FIX)
            continue
        dialog = utt.rsplit("_", 1)[0]
        improvised = "_impro" in f"_{u['body']}"
        label = mapping.get(code)
        if label is None:
            scan.excluded[code] += 1
            continue
        if improvised_only and not improvised:
            scan.excluded["(scripted)"] += 1
            continue
        session = f"Ses{u['ses']}"
        scan.rows.append({
            "utt_id": utt,
            "path": str(wav_dir / f"{utt}.wav"),
            "speaker": f"{session}{u['spk']}",  # the true speaker, not the dialog prefix
            "gender": u["spk"],
            "session": session,
            "emotion": label,
            "transcript": transcripts.get(utt, ""),
            "raw_emotion": code,
            "valence": float(m["v"]),
            "arousal": float(m["a"]),
            "dominance": float(m["d"]),
            "dialog": dialog,
            "improvised": improvised,
            "start": float(m["start"]),
            "end": float(m["end"]),
        })


def full_release(corpus: Corpus) -> tuple[str, dict[str, Any] | None]:
    """The label set's release counts, or why there are none (``improvised_only=True``)."""
    opts = corpus.meta.get("options", {})
    if opts.get("improvised_only"):
        return "improvised_only=True selects part of the release; nothing to compare with", None
    label_set = opts.get("label_set", "4class")
    return f"label set {label_set}", FULL_RELEASE[label_set]


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings for the default label set, without reading any audio samples."""
    return validate_scan(_scan(Path(root)), SAMPLE_RATES)


def load(root: Path, **options: Any) -> Corpus:
    """Load IEMOCAP (see the module docstring for the layout, label sets and options)."""
    opts = check_options("iemocap", options, DEFAULTS)
    check_choice("label_set", opts["label_set"], LABEL_SETS)
    if opts["expect_full"] and opts["improvised_only"]:
        raise ParameterError("iemocap: expect_full checks the full release's counts; "
                             "it cannot be combined with improvised_only=True.")
    scan = _scan(Path(root), opts["label_set"], bool(opts["improvised_only"]))
    return finish(scan, SPEC, LABELS, options=opts, expected_rates=SAMPLE_RATES, logger=_log,
                  label_map=LABEL_SETS[opts["label_set"]],
                  expected_counts=FULL_COUNTS[opts["label_set"]] if opts["expect_full"] else None)
