"""MSP-IMPROV: acted dyadic improvisations (UT Dallas MSP lab).

Layout read (``root`` is the corpus folder or a parent holding ``MSP-IMPROV/``)::

    Evalution.txt  (the release's spelling; Evaluation.txt is accepted too)
    session1/S01A/R/MSP-IMPROV-S01A-F01-R-FM01.wav   (an Audio/ level above session1 is accepted)
    ...
    session6/...

The label file holds one block per recording. Its first line is the consensus,
``UTD-IMPROV-S01A-F01-R-FM01.avi; A; A:2.600000; V:2.400000; D:2.800000 ; N:2.000000;``: the
category letter, then the mean **activation (arousal)**, **valence**, **dominance** and
**naturalness** (1-5). The evaluators' lines follow (``<rater>; Angry; <other labels>;
A:...; V:...; D:...; N:...;``) and are not needed here; blocks are separated by blank lines.
The label line names the video (``UTD-IMPROV-...avi``); its audio is
``session<k>/<S01A>/<R>/MSP-IMPROV-....wav`` with the same fields.

Id fields: ``S01A`` = target sentence 01 written for emotion A (``target_emotion``);
``F01`` = the speaking actor (gender F, session 01); the condition letter: ``R`` target
sentence read, ``P`` natural interaction between scenes, ``S``/``T`` the improvised scenes
(target sentence, other turns); the last field numbers the turn.

Label map (4 classes, the only set): A -> angry, H -> happy, S -> sad, N -> neutral; O
(other) and X (no agreement) are left out and counted in ``meta["excluded"]``. The paper's
tables give 7798 such utterances (angry 792, happy 2644, sad 885, neutral 3477): the
``FULL_RELEASE`` that ``serbook data check`` reports coverage against (all conditions) and that
``expect_full=True`` makes an error on loading. A consensus line whose wav is absent is a
counted skip; a wav the label file does not list is a warning.

Speaker = the id's actor field (``F01``: the woman of session 1; twelve speakers), gender
from its letter, session ``session1`` .. ``session6``. Audio: 44.1 or 48 kHz as released
(either is accepted without a warning).

Extra columns: ``raw_emotion``, ``arousal``, ``valence``, ``dominance``, ``naturalness``,
``condition``, ``target_emotion``, ``sentence``.

Transcripts: the release holds no text for most utterances, so ``transcript`` is empty unless
the reader supplies it. ``transcripts=PATH`` reads a CSV ``id,text`` (e.g. from an ASR system;
see :mod:`serlib.data.transcripts`: every id must be an utterance of ``Evalution.txt``, once;
a line with an empty text gives its utterance no text). ``target_sentences=PATH`` reads a CSV
``sentence,text`` with the target sentences of the corpus documentation (``sentence`` = the
number in ``S01A``, 1-20) and fills the utterances that *are* the target sentence: the read
condition ``R`` and the target turn of the scene ``S``. The book ships no copy of those
sentences: we found no public text of them to cite, so the reader copies them from the
documentation of their release. A ``transcripts`` table's text wins over a target sentence for
the same utterance; where the table's text is empty, the target sentence fills it.

Options: ``conditions`` (None = all of R, S, T, P), ``expect_full`` (False), ``transcripts``
(None), ``target_sentences`` (None).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..config import ParameterError, get_logger
from ._common import Scan, check_options, finish, locate, parse_float, read_lines, select_many, validate_scan, visible
from .corpus import Corpus, LayoutProblem
from .registry import CorpusSpec

SPEC = CorpusSpec(
    name="msp_improv",
    title="MSP-IMPROV",
    default_subdir="msp_improv",
    licence="UT Dallas MSP academic licence (no redistribution)",
    url_hint="https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Improv.html",
    description="Improvised dyadic scenes by 12 actors in 6 sessions, built around target "
    "sentences; consensus categories and dimensional ratings.",
)

LABELS: tuple[str, ...] = ("neutral", "angry", "sad", "happy")
LABEL_MAP: dict[str, str] = {"N": "neutral", "A": "angry", "S": "sad", "H": "happy"}
FULL_COUNTS: dict[str, int] = {"neutral": 3477, "angry": 792, "sad": 885, "happy": 2644}
FULL_RELEASE: dict[str, Any] = {"utterances": 7798, "per_emotion": FULL_COUNTS, "per_speaker": None}
"""The 4-class part of the release, every condition, as the paper's tables give it."""
CONDITIONS: tuple[str, ...] = ("R", "S", "T", "P")
SAMPLE_RATES = (44100, 48000)
LABEL_FILES = ("Evalution.txt", "Evaluation.txt")
DEFAULTS: dict[str, Any] = {"conditions": None, "expect_full": False, "transcripts": None,
                            "target_sentences": None}
TARGET_CONDITIONS: tuple[str, ...] = ("R", "S")
"""Conditions whose utterance is the target sentence itself (read, and spoken within the scene)."""

_log = get_logger("serlib.data.msp_improv")
_CONSENSUS = re.compile(
    r"^(?:UTD|MSP)-IMPROV-(?P<id>S(?P<sent>\d\d)(?P<target>[A-Z])-(?P<g>[FM])(?P<ses>\d\d)-(?P<cond>[A-Z])"
    r"-(?P<turn>[A-Z]{1,2}\d{2,3}))\.(?:avi|wav)\s*;\s*(?P<label>[A-Za-z]+)\s*;(?P<rest>.*)$"
)
_ATTR = re.compile(r"\b([AVDN])\s*:\s*([-+]?\d+(?:\.\d+)?|NaN)", re.IGNORECASE)
_FIX = "restore Evalution.txt from the MSP-IMPROV release into the corpus folder"


def _label_file(path: Path) -> Path | None:
    for name in LABEL_FILES:
        if (path / name).is_file():
            return path / name
    return None


def _scan(root: Path, conditions: tuple[str, ...] | None = None) -> Scan:
    base = locate(root, lambda p: _label_file(p) is not None or (p / "session1").is_dir(),
                  ("MSP-IMPROV", "MSP_IMPROV", "MSP-Improv"))
    if base is None:
        scan = Scan(Path(root))
        scan.error(root, "neither Evalution.txt nor session1..session6 folders here",
                   "pass the MSP-IMPROV folder that holds Evalution.txt and session1..session6")
        return scan
    scan = Scan(base)
    label_file = _label_file(base)
    if label_file is None:
        scan.error(base / LABEL_FILES[0], "label file missing", _FIX)
        return scan
    audio = base / "Audio" if (base / "Audio" / "session1").is_dir() else base
    if not any((audio / f"session{k}").is_dir() for k in range(1, 7)):
        scan.error(audio / "session1", "no session1..session6 audio folders",
                   "unpack the audio of the release next to the label file")
        return scan
    scan.notes["label_file"] = str(label_file)
    n_lines = 0
    listed: set[str] = set()
    scan.notes["all_ids"] = listed  # every utterance of the label file (a transcript table is checked against it)
    for i, line in enumerate(read_lines(label_file), start=1):
        line = line.strip()
        if not line.startswith(("UTD-IMPROV", "MSP-IMPROV")):
            continue  # evaluator lines and blanks
        n_lines += 1
        m = _CONSENSUS.match(line)
        if m is None:
            scan.skip(f"{label_file}:{i}", "unreadable consensus line",
                      "expected 'UTD-IMPROV-S01A-F01-R-FM01.avi; A; A:2.6; V:2.4; D:2.8 ; N:2.0;'")
            continue
        listed.add(f"MSP-IMPROV-{m['id']}")
        code = m["label"].upper()
        label = LABEL_MAP.get(code)
        if label is None:
            scan.excluded[code] += 1
            continue
        if conditions is not None and m["cond"] not in conditions:
            scan.excluded[f"(condition {m['cond']})"] += 1
            continue
        attrs = {k.upper(): parse_float(v) for k, v in _ATTR.findall(m["rest"])}
        utt = f"MSP-IMPROV-{m['id']}"
        session = f"session{int(m['ses'])}"
        folder = f"S{m['sent']}{m['target']}"
        scan.rows.append({
            "utt_id": utt,
            "path": str(audio / session / folder / m["cond"] / f"{utt}.wav"),
            "speaker": f"{m['g']}{m['ses']}",
            "gender": m["g"],
            "session": session,
            "emotion": label,
            "transcript": "",
            "raw_emotion": code,
            "arousal": attrs.get("A", float("nan")),
            "valence": attrs.get("V", float("nan")),
            "dominance": attrs.get("D", float("nan")),
            "naturalness": attrs.get("N", float("nan")),
            "condition": m["cond"],
            "target_emotion": LABEL_MAP.get(m["target"], m["target"]),
            "sentence": int(m["sent"]),
        })
    if n_lines == 0:
        scan.error(label_file, "no consensus lines (UTD-IMPROV-...avi; ...)", _FIX)
        return scan
    unlisted = [p for k in range(1, 7) for p in visible((audio / f"session{k}").rglob("MSP-IMPROV-*.wav"))
                if p.stem not in listed]
    for path in unlisted:
        scan.warn(path, "audio file not in the label file",
                  f"{label_file.name} has no consensus line for it; use the label file of the same release, "
                  "or remove the stray file")
    scan.notes["unlisted_audio"] = len(unlisted)
    return scan


def read_target_sentences(path: str | Path) -> dict[int, str]:
    """The target sentences from a CSV ``sentence,text`` (``sentence`` 1-20, each once, non-empty)."""
    import csv
    import io

    from .transcripts import TranscriptError

    p = Path(path).expanduser()
    fix = ("give a UTF-8 CSV with the header 'sentence,text' and one line per target sentence of the MSP-IMPROV "
           "documentation (target_sentences=PATH)")
    if not p.is_file():
        raise TranscriptError(f"target sentence table {p} does not exist: {fix}")
    rows = list(csv.DictReader(io.StringIO(p.read_bytes().decode("utf-8-sig"))))
    if not rows or not {"sentence", "text"} <= {k.strip().lower() for k in rows[0]}:
        raise TranscriptError(f"target sentence table {p} has no 'sentence' and 'text' columns: {fix}")
    out: dict[int, str] = {}
    for line, row in enumerate(rows, start=2):
        row = {k.strip().lower(): (v or "") for k, v in row.items() if k}
        try:
            k = int(row["sentence"].strip().lstrip("Ss"))
        except ValueError:
            raise TranscriptError(f"{p}:{line}: sentence {row['sentence']!r} is not a number 1-20: {fix}") from None
        text = " ".join(row["text"].split())
        if not 1 <= k <= 20 or k in out or not text:
            why = "outside 1-20" if not 1 <= k <= 20 else "given twice" if k in out else "has no text"
            raise TranscriptError(f"{p}:{line}: sentence {k} {why}: {fix}")
        out[k] = text
    return out


def _fill_text(scan: Scan, all_ids: set[str], transcripts: str | None, target_sentences: str | None) -> None:
    from .transcripts import read_transcript_table

    targets = read_target_sentences(target_sentences) if target_sentences else {}
    table = read_transcript_table(transcripts, all_ids) if transcripts else {}
    for row in scan.rows:
        text = table.get(row["utt_id"], "")
        if not text and row["condition"] in TARGET_CONDITIONS:
            text = targets.get(row["sentence"], "")
        row["transcript"] = text
    scan.notes["transcripts"] = {"table": transcripts, "target_sentences": target_sentences,
                                 "with_text": sum(bool(r["transcript"]) for r in scan.rows)}


def full_release(corpus: Corpus) -> tuple[str | None, dict[str, Any] | None]:
    """The release counts, or why there are none (a ``conditions`` selection)."""
    if corpus.meta.get("options", {}).get("conditions") is not None:
        return "a conditions selection is part of the release; nothing to compare with", None
    return None, FULL_RELEASE


def validate(root: Path) -> list[LayoutProblem]:
    """Layout findings (all conditions), without reading any audio samples."""
    scan = _scan(Path(root))
    scan.notes.pop("all_ids", None)
    return validate_scan(scan, SAMPLE_RATES)


def load(root: Path, **options: Any) -> Corpus:
    """Load MSP-IMPROV (see the module docstring for the layout, label map and options)."""
    opts = check_options("msp_improv", options, DEFAULTS)
    conditions = select_many("conditions", opts["conditions"], CONDITIONS)
    if opts["expect_full"] and conditions is not None:
        raise ParameterError("msp_improv: expect_full checks the full release's counts; "
                             "it cannot be combined with a conditions selection.")
    scan = _scan(Path(root), conditions)
    all_ids = scan.notes.pop("all_ids", set())
    if not scan.errors and (opts["transcripts"] or opts["target_sentences"]):
        _fill_text(scan, all_ids, opts["transcripts"], opts["target_sentences"])
    return finish(scan, SPEC, LABELS, options=opts, expected_rates=SAMPLE_RATES, logger=_log,
                  label_map=LABEL_MAP, expected_counts=FULL_COUNTS if opts["expect_full"] else None)
