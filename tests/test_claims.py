"""The verdict rules every chapter's sentences use (serlib.claims): ties, margins, missing
numbers, intervals, and the claims table's layout."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from serlib import claims
from serlib.claims import (
    AHEAD,
    BEHIND,
    HELD,
    INCONCLUSIVE,
    NOT_HELD,
    TIE,
    Claim,
    claim_status,
    claims_table,
    compare,
    interval_contains,
    measure,
    paired_difference,
)


def test_exactly_equal_numbers_are_a_tie_never_ahead():
    assert compare(62.5, 62.5) == TIE
    assert compare(0.0, 0.0) == TIE
    assert compare(62.5, 62.5, margin=0.0) == TIE


def test_a_difference_within_the_margin_is_a_tie_and_the_margin_is_inclusive():
    assert compare(62.5, 62.0, margin=1.0) == TIE
    assert compare(62.0, 62.5, margin=1.0) == TIE
    assert compare(63.0, 62.0, margin=1.0) == TIE  # exactly at the margin
    assert compare(61.0, 62.0, margin=1.0) == TIE
    assert compare(63.5, 62.0, margin=1.0) == AHEAD
    assert compare(60.5, 62.0, margin=1.0) == BEHIND


def test_negative_gaps_are_behind_and_positive_ahead():
    assert compare(62.5, 93.7) == BEHIND
    assert compare(93.7, 62.5) == AHEAD
    assert compare(-3.0, 0.0) == BEHIND
    assert compare(1e-9, 0.0) == AHEAD


def test_an_interval_of_the_difference_that_holds_zero_is_a_tie():
    assert compare(65.0, 60.0, ci=(-1.0, 11.0)) == TIE
    assert compare(65.0, 60.0, ci=(0.0, 10.0)) == TIE
    assert compare(65.0, 60.0, ci=(1.0, 9.0)) == AHEAD
    assert compare(55.0, 60.0, ci=(-9.0, -1.0)) == BEHIND
    assert compare(65.0, 60.0, ci=(float("nan"), float("nan"))) == AHEAD  # no interval: the sign decides
    with pytest.raises(ValueError, match="low above high"):
        compare(1.0, 0.0, ci=(2.0, 1.0))


def test_missing_numbers_are_inconclusive_not_ahead():
    nan = float("nan")
    assert compare(nan, 50.0) == INCONCLUSIVE
    assert compare(50.0, nan) == INCONCLUSIVE
    assert compare(None, 50.0) == INCONCLUSIVE
    assert compare(nan, nan, margin=5.0) == INCONCLUSIVE
    with pytest.raises(ValueError, match="margin"):
        compare(1.0, 0.0, margin=-1.0)


def test_measure_gives_mean_population_std_and_students_t_interval():
    m = measure([0.60, 0.70, 0.80], scale=100)
    assert m.n == 3 and m.mean == pytest.approx(70.0)
    assert m.std == pytest.approx(np.std([60, 70, 80]))
    half = 4.302652729911275 * 10.0 / math.sqrt(3)  # t(0.975, 2 df) x sample std / sqrt(n)
    assert m.low == pytest.approx(70 - half) and m.high == pytest.approx(70 + half)
    assert m.text() == f"70.0 ± {np.std([60, 70, 80]):.1f} ({70 - half:.1f} to {70 + half:.1f}), 3 folds"


def test_a_single_fold_has_no_interval_and_decides_no_claim():
    m = measure([0.7], scale=100)
    assert m.n == 1 and m.mean == pytest.approx(70.0) and math.isnan(m.low) and math.isnan(m.high)
    assert m.text() == "70.0 (one value, no interval)"
    assert claim_status(m, at_least=50) == INCONCLUSIVE
    assert interval_contains(m, 70.0) == INCONCLUSIVE


def test_missing_folds_are_dropped_and_no_value_is_a_dash():
    assert measure([1.0, float("nan"), 3.0]).n == 2
    empty = measure([float("nan")])
    assert empty.n == 0 and empty.text() == "—"
    assert claim_status(empty, at_least=0) == INCONCLUSIVE


def test_claim_status_reads_the_whole_interval():
    gain = measure([4.0, 5.0, 4.5, 5.5])  # interval about 3.8 to 5.7
    assert claim_status(gain, at_least=3, at_most=6) == HELD
    assert claim_status(gain, at_least=0) == HELD
    assert claim_status(gain, at_most=0) == NOT_HELD  # "does not help": contradicted
    assert claim_status(gain, at_least=5) == INCONCLUSIVE  # the interval straddles 5
    loss = measure([-4.0, -5.0, -4.5, -5.5])
    assert claim_status(loss, at_least=0) == NOT_HELD
    noisy = measure([-10.0, 10.0, -5.0, 6.0])
    assert claim_status(noisy, at_least=0) == INCONCLUSIVE
    with pytest.raises(ValueError, match="range"):
        claim_status(gain)
    with pytest.raises(ValueError, match="low above high"):
        claim_status(gain, at_least=6, at_most=3)


def test_the_papers_number_inside_or_outside_our_interval():
    m = measure([70.0, 72.0, 74.0, 76.0])
    assert m.low < 73.6 < m.high
    assert interval_contains(m, 73.6) == HELD
    assert interval_contains(m, m.low) == HELD  # the ends belong to the interval
    assert interval_contains(m, 90.0) == NOT_HELD
    assert interval_contains(m, 50.0) == NOT_HELD
    assert interval_contains(m, float("nan")) == INCONCLUSIVE


def test_paired_difference_pairs_fold_by_fold():
    d = paired_difference([0.7, 0.6, 0.8], [0.6, 0.5, 0.7], scale=100)
    assert d.values == pytest.approx((10.0, 10.0, 10.0)) and d.std == pytest.approx(0.0)
    assert compare(d.mean, 0.0, ci=d.interval) == AHEAD
    with pytest.raises(ValueError, match="one value per fold"):
        paired_difference([1.0, 2.0], [1.0])


def test_paired_difference_of_series_pairs_on_the_index_and_skips_unpaired_folds():
    ours = pd.Series({"f1": 0.7, "f2": 0.6, "f3": 0.9, "f4": float("nan")})
    theirs = pd.Series({"f2": 0.5, "f1": 0.5, "f4": 0.4})  # another order, f3 missing
    d = paired_difference(ours, theirs, scale=100, per="sessions")
    assert sorted(d.values) == pytest.approx([10.0, 20.0])
    assert d.text().endswith("2 sessions")


def test_claims_table_has_word_headers_and_no_missing_numbers():
    rows = [Claim("AL beats the same encoder without it", 4.8, measure([1.0, 2.0, 3.0]), HELD),
            Claim("no paper number", None, measure([float("nan")]), INCONCLUSIVE),
            Claim("a text", "3 to 6 points", "not measured in this profile", INCONCLUSIVE),
            Claim("a NaN paper number", float("nan"), measure([5.0]), INCONCLUSIVE)]
    t = claims_table(rows)
    assert t.index.name == "What the paper claims"
    assert list(t.columns) == ["Paper", "This run (mean ± std, 95 % interval)", "Verdict"]
    assert t.loc["AL beats the same encoder without it", "Paper"] == "4.8"
    assert t.loc["no paper number", "Paper"] == "—" and t.loc["no paper number", claims.RUN_HEADER] == "—"
    assert t.loc["a NaN paper number", "Paper"] == "—"
    assert not t.isna().any().any()
    assert list(t["Verdict"]) == [HELD, INCONCLUSIVE, INCONCLUSIVE, INCONCLUSIVE]
    with pytest.raises(ValueError, match="verdict"):
        claims_table([Claim("x", 1.0, measure([1.0, 2.0]), AHEAD)])


def test_claims_table_survives_a_round_trip_through_csv(tmp_path):
    t = claims_table([Claim("beats chance", 25.0, measure([40.0, 45.0, 50.0]), HELD)])
    t.to_csv(tmp_path / "claims.csv")
    back = pd.read_csv(tmp_path / "claims.csv", index_col=0, dtype=str)
    pd.testing.assert_frame_equal(back, t, check_dtype=False)
