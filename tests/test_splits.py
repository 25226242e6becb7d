import numpy as np
import pytest

from serlib import splits
from tests.conftest import make_table_corpus


def _speakers(c, idx):
    return set(c.speakers[idx])


def test_leave_one_session_out_disjoint_and_complete(table_corpus):
    folds = splits.leave_one_session_out(table_corpus)
    assert len(folds) == 5
    seen = np.concatenate([f.test for f in folds])
    assert sorted(seen) == list(range(len(table_corpus)))
    for f in folds:
        assert not set(table_corpus.sessions[f.train]) & set(table_corpus.sessions[f.test])


def test_leave_two_speakers_out_gender_balanced_with_validation(table_corpus):
    folds = splits.leave_two_speakers_out(table_corpus, seed=1)
    assert len(folds) == 5
    tested = []
    for f in folds:
        tr, va, te = _speakers(table_corpus, f.train), _speakers(table_corpus, f.val), _speakers(table_corpus, f.test)
        assert len(te) == 2 and len(va) == 2 and len(tr) == 6
        assert not (tr & va) and not (tr & te) and not (va & te)
        g = table_corpus.table.groupby("speaker")["gender"].first()
        assert sorted(g[list(te)]) == ["F", "M"] and sorted(g[list(va)]) == ["F", "M"]
        tested += sorted(te)
    assert sorted(tested) == sorted(set(table_corpus.speakers))  # each speaker tested exactly once


def test_leave_two_speakers_out_ravdess_shape():
    c = make_table_corpus(n_speakers_per_gender=12, per_class=1)
    folds = splits.leave_two_speakers_out(c)
    assert len(folds) == 12
    assert all(len(_speakers(c, f.train)) == 20 for f in folds)


def test_leave_two_speakers_out_refuses_unbalanced_genders():
    c = make_table_corpus(n_speakers_per_gender=3)
    c = c.subset(c.table["speaker"] != "S01F")
    with pytest.raises(splits.FoldError, match="male and female"):
        splits.leave_two_speakers_out(c)


def test_per_speaker_holdout_fraction(table_corpus):
    folds = splits.per_speaker_holdout(table_corpus, 0.6, seed=0)
    assert len(folds) == 10
    for f in folds:
        assert _speakers(table_corpus, f.train) == _speakers(table_corpus, f.test)
        assert len(f.train) / (len(f.train) + len(f.test)) == pytest.approx(0.58, abs=0.05)
        assert not set(f.train) & set(f.test)


def test_check_fold_names_the_empty_class(table_corpus):
    c = table_corpus.subset(~((table_corpus.table["emotion"] == "sad") & (table_corpus.table["session"] != "Ses01")))
    fold = splits.leave_one_session_out(c)[0]  # holds out Ses01: no 'sad' left in training
    with pytest.raises(splits.FoldError, match="'sad' has no training examples"):
        splits.check_fold(fold, c.y, c.labels)


def test_cross_corpus_requires_same_labels(table_corpus):
    other = make_table_corpus(labels=("a", "b"))
    with pytest.raises(splits.FoldError, match="label sets differ"):
        splits.cross_corpus(table_corpus, other)
    (f,) = splits.cross_corpus(table_corpus, make_table_corpus())
    assert len(f.train) == len(table_corpus)
