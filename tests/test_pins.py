"""The pin checker itself: what it lets through (one flipped prediction in a model number) and
what it catches (a moved kernel-free number, a mean that moved, a lost row, an empty cell)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests._pins import MODEL_TOL, compare_table


def _scores(acc, n=None, method=None):
    k = len(acc)
    return pd.DataFrame({"method": method or ["net"] * k, "fold": [f"f{i}" for i in range(k)],
                         "n": n or [16] * k, "accuracy": acc, "summary": [f"{a:.2f}" for a in acc]})


PIN = _scores([0.5, 0.625, 0.75, 0.5625, 0.6875])


def check(ours, exact=("n",), model_text=("summary",)):
    return compare_table("scores.csv", ours, PIN, set(exact), set(model_text))


def test_a_flipped_prediction_in_one_model_number_passes():
    assert check(_scores([0.5625, 0.625, 0.6875, 0.5625, 0.6875])) == []


def test_a_model_number_whose_mean_moved_is_caught():
    chance = _scores([0.25] * 5)
    [problem] = check(chance)
    assert "accuracy" in problem and "mean" in problem
    # just inside / just outside the tolerance
    shift = MODEL_TOL * 0.75
    assert check(_scores(list(np.array(PIN["accuracy"]) - 0.99 * shift))) == []
    assert check(_scores(list(np.array(PIN["accuracy"]) - 1.01 * shift)))


def test_a_moved_kernel_free_number_is_caught():
    [problem] = check(_scores(list(PIN["accuracy"]), n=[16, 16, 15, 16, 16]))
    assert "n" in problem and "kernel-free" in problem
    # the same column as a model number would pass
    assert check(_scores(list(PIN["accuracy"]), n=[16, 16, 15, 16, 16]), exact=()) == []


def test_structure_is_pinned_exactly():
    assert check(_scores(list(PIN["accuracy"]), method=["net"] * 4 + ["other"]))  # text
    assert check(_scores(list(PIN["accuracy"])[:4]))  # a lost row
    assert check(_scores([0.5, np.nan, 0.75, 0.5625, 0.6875]))  # an empty cell
    assert check(_scores(list(PIN["accuracy"])).rename(columns={"fold": "folds"}))  # a column


def test_model_text_is_compared_for_empty_cells_only():
    ours = _scores(list(PIN["accuracy"]))
    ours["summary"] = ["x"] * 5
    assert check(ours) == []
    ours.loc[0, "summary"] = np.nan
    assert check(ours)


def test_short_model_columns_are_not_compared_by_value_but_must_be_finite():
    pin, ours = _scores([0.5, 0.75]), _scores([0.25, 0.25])
    assert compare_table("t.csv", ours, pin, {"n"}, {"summary"}) == []
    ours.loc[0, "accuracy"] = np.inf
    assert compare_table("t.csv", ours, pin, {"n"}, {"summary"})


def test_a_spec_naming_a_missing_column_is_refused():
    [problem] = check(_scores(list(PIN["accuracy"])), exact=("n", "uar"))
    assert "does not have" in problem
