"""Measure how hard the embedded corpus is: the numbers the generator is tuned to.

    python scripts/tune_embedded.py [--size default] [--jobs 2]

Generates (or reuses) the ``main`` and ``cross`` corpora of the given size, extracts eGeMAPSv02
functionals with openSMILE and reports, leave-one-session-out on ``main``:

* emotion UAR of StandardScaler + RBF-SVM, plain and with per-speaker z-normalisation;
* the same with a bag-of-words text classifier on the transcripts;
and cross-corpus (train on all of ``main``, test on ``cross``), plain and per-speaker.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np


def _features(paths: list[str]) -> np.ndarray:
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    return np.vstack([smile.process_file(p).to_numpy()[0] for p in paths])


def egemaps(paths: list[str], jobs: int, cache: Path) -> np.ndarray:
    """eGeMAPSv02 functionals of every file, cached on the files' names and sizes."""
    h = hashlib.sha1()
    for p in paths:
        h.update(f"{p}:{Path(p).stat().st_size}:{Path(p).stat().st_mtime_ns}".encode())
    target = cache / f"egemaps-{h.hexdigest()[:16]}.npy"
    if target.exists():
        return np.load(target)
    import multiprocessing as mp

    chunks = [paths[i::jobs] for i in range(jobs)]
    with mp.get_context("fork").Pool(jobs) as pool:
        parts = pool.map(_features, chunks)
    x = np.empty((len(paths), parts[0].shape[1]))
    for i in range(jobs):
        x[i::jobs] = parts[i]
    cache.mkdir(parents=True, exist_ok=True)
    np.save(target, x)
    return x


def speaker_norm(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for s in np.unique(speakers):
        m = speakers == s
        mu, sd = x[m].mean(0), x[m].std(0)
        out[m] = (x[m] - mu) / np.where(sd > 1e-9, sd, 1.0)
    return out


def svm_uar(xtr, ytr, xte, yte) -> float:
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    clf = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=1.0, gamma="scale"))
    clf.fit(xtr, ytr)
    return balanced_accuracy_score(yte, clf.predict(xte))


def loso(x, y, sessions, fit=svm_uar) -> tuple[float, list[float]]:
    """Pooled UAR over all folds' predictions is the usual report; we give the fold mean too."""
    from sklearn.metrics import balanced_accuracy_score

    folds = []
    pred = np.empty_like(y)
    for s in np.unique(sessions):
        te = sessions == s
        folds.append(fit(x[~te], y[~te], x[te], y[te]))
        pred[te] = _last_pred[0]
    return balanced_accuracy_score(y, pred), folds


_last_pred: list[np.ndarray] = [np.empty(0)]


def svm_fit_pred(xtr, ytr, xte, yte) -> float:
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    clf = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=1.0, gamma="scale"))
    clf.fit(xtr, ytr)
    _last_pred[0] = clf.predict(xte)
    return balanced_accuracy_score(yte, _last_pred[0])


def text_fit_pred(ttr, ytr, tte, yte) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline

    clf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                        LogisticRegression(max_iter=2000, C=4.0))
    clf.fit(list(ttr), ytr)
    _last_pred[0] = clf.predict(list(tte))
    return balanced_accuracy_score(yte, _last_pred[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="default")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-cross", action="store_true")
    args = ap.parse_args()

    from sklearn.metrics import confusion_matrix

    from serlib.config import cache_dir
    from serlib.data import synthetic

    t0 = time.perf_counter()
    main_c = synthetic.load(size=args.size, variant="main", n_jobs=args.jobs)
    t1 = time.perf_counter()
    print(f"main/{args.size}: {main_c} ({t1 - t0:.1f} s)")
    feats = cache_dir("tune")
    x = egemaps(list(main_c.table["path"]), args.jobs, feats)
    y, spk, ses = main_c.y, main_c.speakers, main_c.sessions
    print(f"features {x.shape} ({time.perf_counter() - t1:.1f} s)")

    uar, folds = loso(x, y, ses, svm_fit_pred)
    print(f"eGeMAPS+SVM LOSO UAR (plain):        {uar:.3f}  folds {np.round(folds, 3).tolist()}")
    pred_plain = np.empty_like(y)
    for s in np.unique(ses):
        te = ses == s
        svm_fit_pred(x[~te], y[~te], x[te], y[te])
        pred_plain[te] = _last_pred[0]
    print(confusion_matrix(y, pred_plain))
    xn = speaker_norm(x, spk)
    uar_n, folds_n = loso(xn, y, ses, svm_fit_pred)
    print(f"eGeMAPS+SVM LOSO UAR (per-speaker):  {uar_n:.3f}  folds {np.round(folds_n, 3).tolist()}")
    text = main_c.table["transcript"].to_numpy()
    uar_t, _ = loso(text, y, ses, text_fit_pred)
    print(f"text TF-IDF+LR LOSO UAR:             {uar_t:.3f}")
    t = main_c.table
    expr = t.groupby("speaker")["expressiveness"].first()
    per_spk = {s: float(np.mean(pred_plain[spk == s] == y[spk == s])) for s in np.unique(spk)}
    print("per-speaker accuracy vs expressiveness:")
    for s in sorted(per_spk, key=lambda s: expr[s]):
        print(f"  {s}  expr {expr[s]:.2f}  acc {per_spk[s]:.2f}")

    if not args.no_cross:
        t2 = time.perf_counter()
        cross = synthetic.load(size=args.size, variant="cross", n_jobs=args.jobs)
        print(f"cross/{args.size}: {cross} ({time.perf_counter() - t2:.1f} s)")
        xc = egemaps(list(cross.table["path"]), args.jobs, feats)
        yc = cross.y
        print(f"cross-corpus UAR (plain):        {svm_fit_pred(x, y, xc, yc):.3f}")
        print(confusion_matrix(yc, _last_pred[0]))
        print(f"cross-corpus UAR (per-speaker):  {svm_fit_pred(xn, y, speaker_norm(xc, cross.speakers), yc):.3f}")
        uar_c, _ = loso(xc, yc, cross.sessions, svm_fit_pred)
        print(f"within-cross LOSO UAR (plain):   {uar_c:.3f}")


if __name__ == "__main__":
    main()
