"""Evaluation splits: who is trained on and who is tested on.

Every function returns a list of :class:`Fold` (integer row positions into the corpus table).
Speaker-independent protocols never put one speaker on both sides; :func:`check_fold` refuses
a fold whose training part lacks a class, naming the fold and the class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import ParameterError, check_range, get_logger
from .data.corpus import Corpus

__all__ = [
    "Fold",
    "FoldError",
    "check_fold",
    "cross_corpus",
    "holdout_speakers",
    "leave_one_group_out",
    "leave_one_session_out",
    "leave_one_speaker_out",
    "leave_two_speakers_out",
    "per_speaker_holdout",
    "predefined",
]

log = get_logger("splits")


class FoldError(ValueError):
    """A fold cannot be used as asked (e.g. a class has no training examples)."""


@dataclass(frozen=True)
class Fold:
    """One train/(validation)/test partition.

    ``train``, ``val`` and ``test`` are integer positions into the corpus table (for a
    cross-corpus fold, ``test`` indexes the *target* corpus). ``test_groups`` names the held-out
    sessions or speakers.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    test_groups: tuple[str, ...] = ()
    val_groups: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (f"Fold({self.name!r}, train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, "
                f"test_groups={list(self.test_groups)})")


def _labelled_positions(corpus: Corpus) -> np.ndarray:
    return np.flatnonzero(corpus.table["emotion"].notna().to_numpy())


def leave_one_group_out(corpus: Corpus, column: str) -> list[Fold]:
    """One fold per distinct value of ``column``; unlabelled rows are left out of every fold."""
    if column not in corpus.table.columns:
        raise ParameterError(f"corpus {corpus.name!r} has no column {column!r}")
    rows = _labelled_positions(corpus)
    groups = corpus.table[column].astype(str).to_numpy()
    folds = []
    for g in sorted(set(groups[rows])):
        test = rows[groups[rows] == g]
        train = rows[groups[rows] != g]
        folds.append(Fold(f"{column}={g}", train, test, test_groups=(g,)))
    if len(folds) < 2:
        raise FoldError(f"leave-one-{column}-out needs at least 2 groups; corpus {corpus.name!r} has {len(folds)}")
    return folds


def leave_one_session_out(corpus: Corpus) -> list[Fold]:
    """Leave-one-session-out (IEMOCAP's 5-fold protocol: each session is one speaker pair)."""
    return leave_one_group_out(corpus, "session")


def leave_one_speaker_out(corpus: Corpus) -> list[Fold]:
    """Leave-one-speaker-out (LOSO)."""
    return leave_one_group_out(corpus, "speaker")


def leave_two_speakers_out(corpus: Corpus, *, seed: int = 0, validation: bool = True) -> list[Fold]:
    """Leave-two-speakers-out with a validation pair, gender-balanced (Leow et al.).

    Speakers are split by gender and shuffled with ``seed``; the i-th male and i-th female
    form test pair i, so every speaker is tested exactly once. With ``validation`` the next
    pair (cyclically) is the validation pair and the rest train: Emo-DB's 10 speakers give 5
    folds of 6/2/2, RAVDESS's 24 give 12 folds of 20/2/2. Needs as many male as female
    speakers (as both corpora have); otherwise a :class:`FoldError` says so.
    """
    rows = _labelled_positions(corpus)
    t = corpus.table.iloc[rows]
    genders = t.groupby("speaker")["gender"].agg(lambda s: s.iloc[0])
    males = sorted(genders[genders == "M"].index.astype(str))
    females = sorted(genders[genders == "F"].index.astype(str))
    if len(males) != len(females) or len(males) < (3 if validation else 2):
        raise FoldError(
            f"leave-two-speakers-out needs equally many male and female speakers (>= {3 if validation else 2} each); "
            f"corpus {corpus.name!r} has {len(males)} male and {len(females)} female"
        )
    rng = np.random.default_rng(seed)
    males = list(rng.permutation(males))
    females = list(rng.permutation(females))
    pairs = list(zip(males, females))
    spk = corpus.table["speaker"].astype(str).to_numpy()
    folds = []
    for i, pair in enumerate(pairs):
        vpair = pairs[(i + 1) % len(pairs)] if validation else ()
        test = rows[np.isin(spk[rows], pair)]
        val = rows[np.isin(spk[rows], vpair)] if validation else np.zeros(0, dtype=int)
        train = rows[~np.isin(spk[rows], list(pair) + list(vpair))]
        folds.append(Fold(f"test={pair[0]}+{pair[1]}", train, test, val, tuple(pair), tuple(vpair)))
    return folds


def holdout_speakers(corpus: Corpus, rows: np.ndarray, share: float, *,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` (a fold's training part) by whole speakers: ``(fitting rows, held-out rows)``.

    The validation part of a speaker-independent protocol: the held-out speakers are unseen by
    whatever trains on the fitting rows, as the test speakers are. About ``share`` of the
    speakers of ``rows`` are held out (at least one, and at least one is left to fit on), chosen
    the way :func:`leave_two_speakers_out` chooses its validation pair: the speakers of each
    gender are shuffled with ``seed`` and taken in turn from the genders (female, male, female,
    ...), so the held-out speakers are gender-balanced as far as their number allows. Where that
    choice would leave a class of ``rows`` without a fitting example, the next speakers in the
    same order are taken instead.

    Raises
    ------
    FoldError
        ``rows`` hold fewer than two speakers, or every choice leaves a class without fitting rows.
    """
    check_range("share", share, 0, 1, low_inclusive=False, high_inclusive=False)
    rows = np.asarray(rows)
    spk = corpus.table["speaker"].astype(str).to_numpy()[rows]
    speakers = sorted(set(spk))
    if len(speakers) < 2:
        raise FoldError(f"corpus {corpus.name!r}: cannot hold out whole speakers from {len(rows)} rows of "
                        f"{len(speakers)} speaker(s); at least two are needed")
    gender = (corpus.table["gender"].astype(str).to_numpy()[rows] if "gender" in corpus.table.columns
              else np.full(len(rows), "U"))
    first = {s: g for s, g in zip(spk, gender)}
    rng = np.random.default_rng(seed)
    by_gender = [list(rng.permutation([s for s in speakers if first[s] == g])) for g in sorted(set(first.values()))]
    order = [group[i] for i in range(max(len(g) for g in by_gender)) for group in by_gender if i < len(group)]
    n_held = min(max(1, int(round(share * len(speakers)))), len(speakers) - 1)
    y = corpus.y[rows]
    for start in range(len(order)):
        held_spk = [order[(start + i) % len(order)] for i in range(n_held)]
        held = np.isin(spk, held_spk)
        if set(np.unique(y[~held])) == set(np.unique(y)):
            return np.sort(rows[~held]), np.sort(rows[held])
    raise FoldError(f"corpus {corpus.name!r}: every choice of {n_held} held-out speaker(s) among {len(speakers)} "
                    "leaves a class without fitting examples; lower the held-out share or merge classes")


def predefined(corpus: Corpus, column: str = "split", *, train: Sequence[str] = ("train",),
               test: Sequence[str] = ("test",), val: Sequence[str] = ()) -> list[Fold]:
    """The corpus's own split (e.g. OMG-Emotion's train/validation/test) as one fold."""
    if column not in corpus.table.columns:
        raise ParameterError(f"corpus {corpus.name!r} has no predefined split column {column!r}")
    rows = _labelled_positions(corpus)
    s = corpus.table[column].astype(str).to_numpy()[rows]
    fold = Fold(f"{column}:{'+'.join(test)}", rows[np.isin(s, list(train))], rows[np.isin(s, list(test))],
                rows[np.isin(s, list(val))], tuple(test), tuple(val))
    if len(fold.train) == 0 or len(fold.test) == 0:
        raise FoldError(f"predefined split {column!r} of {corpus.name!r} gives an empty train or test part: {fold}")
    return [fold]


def per_speaker_holdout(corpus: Corpus, train_fraction: float = 0.6, *, seed: int = 0) -> list[Fold]:
    """Speaker-dependent protocol (SAVEE in Pereira et al.): per speaker, a stratified random
    ``train_fraction`` of their utterances trains and the rest tests; one fold per speaker."""
    check_range("train_fraction", train_fraction, 0, 1, low_inclusive=False, high_inclusive=False)
    from sklearn.model_selection import train_test_split

    rows = _labelled_positions(corpus)
    spk = corpus.table["speaker"].astype(str).to_numpy()
    y = corpus.y
    folds = []
    for s in sorted(set(spk[rows])):
        r = rows[spk[rows] == s]
        strat = y[r] if np.bincount(y[r]).min(initial=2) >= 2 else None
        tr, te = train_test_split(r, train_size=train_fraction, random_state=seed, stratify=strat)
        folds.append(Fold(f"speaker={s}", np.sort(tr), np.sort(te), test_groups=(s,)))
    return folds


def cross_corpus(source: Corpus, target: Corpus) -> list[Fold]:
    """Train on all labelled ``source`` rows, test on all labelled ``target`` rows.

    The two label sets must match (same names, same order), else a :class:`FoldError`.
    """
    if tuple(source.labels) != tuple(target.labels):
        raise FoldError(f"cross-corpus {source.name}->{target.name}: label sets differ "
                        f"({source.labels} vs {target.labels}); map them to a common set first")
    return [Fold(f"{source.name}->{target.name}", _labelled_positions(source), _labelled_positions(target),
                 test_groups=(target.name,))]


def check_fold(fold: Fold, y: np.ndarray, labels: Sequence[str], *, where: str = "") -> None:
    """Refuse a fold whose training part has no example of some class; warn for the test part."""
    y = np.asarray(y)
    for k, lab in enumerate(labels):
        if not np.any(y[fold.train] == k):
            raise FoldError(
                f"{where}fold {fold.name}: class {lab!r} has no training examples; "
                "use a larger corpus size, merge classes, or choose another split"
            )
        if len(fold.test) and not np.any(y[fold.test] == k):
            log.warning("%sfold %s: class %r absent from the test part (UAR averages the classes present)",
                        where, fold.name, lab)
