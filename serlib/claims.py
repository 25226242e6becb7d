"""Claims and verdicts: how a chapter decides whether a number is ahead, behind or level, and
whether a paper's claim holds in this run.

Every comparison a chapter writes into a sentence goes through these few functions, so the
same rule decides everywhere and a sentence cannot say "ahead" of a number that is level:

* :func:`compare` -- is one number ahead of, behind or level with ("tie") another? Level means
  the difference lies within a stated margin, or the confidence interval of the difference
  holds zero; a missing number (NaN) gives ``"inconclusive"``, never a verdict.
* :func:`measure` and :func:`paired_difference` -- the per-fold values of a measurement as a
  :class:`Measurement`: mean, standard deviation over the folds and the 95 % Student-t interval
  of the mean (:func:`serlib.metrics.mean_interval`).
* :func:`claim_status` and :func:`interval_contains` -- a paper's claim, "held", "not held" or
  "inconclusive", from a measurement's interval.
* :func:`claims_table` -- the claims of a chapter as a table with word headers, for the chapter's
  closing section and the results overview.

The functions return labels and numbers only; the sentences around them are written in the
chapters, where the reader sees them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .metrics import mean_interval

__all__ = [
    "AHEAD",
    "BEHIND",
    "CLAIMS_COLUMNS",
    "CLAIM_HEADER",
    "HELD",
    "INCONCLUSIVE",
    "MISSING",
    "NOT_HELD",
    "TIE",
    "Claim",
    "Measurement",
    "claim_status",
    "claims_table",
    "compare",
    "interval_contains",
    "measure",
    "paired_difference",
]

AHEAD, BEHIND, TIE, INCONCLUSIVE = "ahead", "behind", "tie", "inconclusive"
"""The verdicts of :func:`compare`."""

HELD, NOT_HELD = "held", "not held"
"""With :data:`INCONCLUSIVE`, the statuses of a claim (:func:`claim_status`)."""

CLAIM_HEADER = "What the paper claims"
PAPER_HEADER = "Paper"
RUN_HEADER = "This run (mean ± std, 95 % interval)"
VERDICT_HEADER = "Verdict"
CLAIMS_COLUMNS: tuple[str, ...] = (PAPER_HEADER, RUN_HEADER, VERDICT_HEADER)
"""The columns of :func:`claims_table` (its index is the claim, headed "What the paper claims")."""

MISSING = "—"
"""How a table of claims shows a number that is not there."""


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def compare(ours: float, theirs: float, *, margin: float | None = None,
            ci: tuple[float, float] | None = None) -> str:
    """Whether ``ours`` is ``"ahead"`` of, ``"behind"`` or level with (``"tie"``) ``theirs``.

    A tie is a difference no larger than ``margin`` (in the numbers' own unit, points for
    percentages; a chapter that uses one names it and gives its value to the reader), or, with
    ``ci`` the confidence interval (low, high) of the difference ``ours - theirs``, an interval
    that holds zero. Without either, only an exactly equal pair is a tie: equal is never "ahead".
    A missing number (NaN, None) gives ``"inconclusive"``.

    Raises
    ------
    ValueError
        ``margin`` is negative, or ``ci`` has its low end above its high end.
    """
    if margin is not None and not margin >= 0:
        raise ValueError(f"compare: the margin must be zero or more points, not {margin}")
    if not (_finite(ours) and _finite(theirs)):
        return INCONCLUSIVE
    d = float(ours) - float(theirs)
    m = 0.0 if margin is None else float(margin)
    if ci is not None and _finite(ci[0]) and _finite(ci[1]):
        low, high = float(ci[0]), float(ci[1])
        if low > high:
            raise ValueError(f"compare: the interval of the difference runs from {low} to {high}: low above high")
        if low <= 0.0 <= high:
            return TIE
    if d > m:
        return AHEAD
    if d < -m:
        return BEHIND
    return TIE


@dataclass(frozen=True)
class Measurement:
    """One measured quantity over the folds (or folds x seeds) of a run: ``values`` (one per
    fold), their mean, standard deviation (over the folds, as the chapters' tables give it) and
    the 95 % Student-t interval of the mean (NaN with fewer than two values)."""

    values: tuple[float, ...]
    mean: float
    std: float
    low: float
    high: float
    per: str = "folds"

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def interval(self) -> tuple[float, float]:
        return self.low, self.high

    def text(self, decimals: int = 1, unit: str = "") -> str:
        """``"62.5 ± 3.1 (58.0 to 67.0), 8 folds"`` (``per`` names what was counted); one value
        gives ``"62.5 (one value, no interval)"`` and no value the table's dash."""
        if self.n == 0 or not _finite(self.mean):
            return MISSING
        f = f"{{:.{decimals}f}}"
        if self.n == 1:
            return f"{f.format(self.mean)}{unit} (one value, no interval)"
        return (f"{f.format(self.mean)}{unit} ± {f.format(self.std)} "
                f"({f.format(self.low)} to {f.format(self.high)}), {self.n} {self.per}")


def measure(values: Iterable[float], scale: float = 1.0, per: str = "folds") -> Measurement:
    """The :class:`Measurement` of ``values`` (one per fold, or per fold x seed: ``per`` says
    which, for the reader) times ``scale`` (100 for a fraction shown in percent). Missing values
    (NaN) are dropped: a fold that has no number counts as no fold."""
    v = np.asarray([float(x) for x in values], dtype=float) * scale
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return Measurement((), float("nan"), float("nan"), float("nan"), float("nan"), per)
    low, high = mean_interval(v)
    return Measurement(tuple(float(x) for x in v), float(v.mean()), float(v.std(ddof=0)), low, high, per)


def paired_difference(ours: Sequence[float] | pd.Series, theirs: Sequence[float] | pd.Series, scale: float = 1.0,
                      per: str = "folds") -> Measurement:
    """The :class:`Measurement` of ``ours - theirs`` fold by fold: pairing removes what the
    folds share, so the interval is the one of the difference itself. Two :class:`pandas.Series`
    are paired on their index (a fold, or a (fold, seed) pair), keeping the folds both sides
    have a number for; plain sequences are paired by position.

    Raises
    ------
    ValueError
        Two sequences of different lengths (they were not measured on the same folds).
    """
    if isinstance(ours, pd.Series) and isinstance(theirs, pd.Series):
        both = pd.concat([ours.rename("ours"), theirs.rename("theirs")], axis=1, join="inner").dropna()
        return measure(both["ours"] - both["theirs"], scale=scale, per=per)
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired_difference needs one value per fold on both sides; got {len(a)} and {len(b)}")
    return measure(a - b, scale=scale, per=per)


def claim_status(measured: Measurement, *, at_least: float | None = None, at_most: float | None = None) -> str:
    """Whether this run holds a claim that the measured quantity lies in the range from
    ``at_least`` to ``at_most`` (either end may be open: "beats the baseline" is a difference
    of ``at_least=0``; "adds 3 to 6 points" is ``at_least=3, at_most=6``).

    Read from the 95 % interval of the mean: ``"held"`` when the whole interval lies in the
    claimed range (the run shows it), ``"not held"`` when the whole interval lies outside it
    (the run contradicts it), ``"inconclusive"`` when the interval straddles an end of the range,
    or there is no interval (a single fold, a missing number): the run cannot tell.

    Raises
    ------
    ValueError
        Neither end is given, or ``at_least`` is above ``at_most``.
    """
    if at_least is None and at_most is None:
        raise ValueError("claim_status needs the claimed range: at_least, at_most or both")
    if at_least is not None and at_most is not None and at_least > at_most:
        raise ValueError(f"claim_status: the claimed range runs from {at_least} to {at_most}: low above high")
    low, high = measured.interval
    if not (_finite(low) and _finite(high)):
        return INCONCLUSIVE
    lo = -math.inf if at_least is None else float(at_least)
    hi = math.inf if at_most is None else float(at_most)
    if lo <= low and high <= hi:
        return HELD
    if high < lo or low > hi:
        return NOT_HELD
    return INCONCLUSIVE


def interval_contains(measured: Measurement, value: float) -> str:
    """Whether the paper's ``value`` lies in this run's 95 % interval: ``"held"`` (it does),
    ``"not held"`` (it lies outside) or ``"inconclusive"`` (no interval, or no value)."""
    low, high = measured.interval
    if not (_finite(low) and _finite(high) and _finite(value)):
        return INCONCLUSIVE
    return HELD if low <= float(value) <= high else NOT_HELD


@dataclass(frozen=True)
class Claim:
    """One row of a claims table: the ``claim`` in words, the ``paper``'s number (a number, a
    short text, or None when the paper gives none), this run's measurement (a
    :class:`Measurement`, or a short text) and the ``verdict`` (:func:`claim_status`'s label)."""

    claim: str
    paper: float | str | None
    measured: Measurement | str | None
    verdict: str


def _cell(x: Any, decimals: int) -> str:
    if x is None:
        return MISSING
    if isinstance(x, Measurement):
        return x.text(decimals)
    if isinstance(x, str):
        return x.strip() or MISSING
    return f"{float(x):.{decimals}f}" if _finite(x) else MISSING


def claims_table(rows: Iterable[Claim], decimals: int = 1) -> pd.DataFrame:
    """The claims as a table: indexed by "What the paper claims", with the columns "Paper",
    "This run (mean ± std, 95 % interval)" and "Verdict"; every cell is text, a missing number
    is shown as "—".

    Raises
    ------
    ValueError
        A verdict is not one of "held", "not held", "inconclusive".
    """
    rows = list(rows)
    for r in rows:
        if r.verdict not in (HELD, NOT_HELD, INCONCLUSIVE):
            raise ValueError(f"claims_table: the verdict of {r.claim!r} is {r.verdict!r}; "
                             f"use claim_status or interval_contains, which say {HELD!r}, {NOT_HELD!r} or {INCONCLUSIVE!r}")
    table = pd.DataFrame(
        {PAPER_HEADER: [_cell(r.paper, decimals) for r in rows],
         RUN_HEADER: [_cell(r.measured, decimals) for r in rows],
         VERDICT_HEADER: [r.verdict for r in rows]},
        index=pd.Index([r.claim for r in rows], name=CLAIM_HEADER),
    )
    return table
