"""Chapter 4 (Leow et al.): its configuration, corpus, folds and inputs, and the runs: the grid of
Tables 1 and 2 (:func:`run`), the real-speech ablation and the yardstick."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...config import ParameterError, get_device, get_logger, seed_everything
from ...data import Corpus, load_corpus
from ...features import Standardiser, lmfb_energy_pitch, padded_mfcc, padded_mfcc_frames, standardise_by_speaker
from ...metrics import classification_scores
from ...models.sier import (
    ENCODERS,
    PassGradient,
    SIERNet,
    build_encoder,
    embed,
    predict_emotions,
    train_sier,
)
from ...papers.leow import gamma_label
from ...parallel import Unit, default_workers, run_chapter_units, threads_param, workers_param
from ...params import ChapterConfig, param
from ...splits import Fold, check_fold, leave_two_speakers_out
from ..common import svm_yardstick

__all__ = [
    "CHAPTER", "run_key", "run_meta", "Config", "Results", "N_FFT", "HOP_LENGTH", "fit_one", "fold_table",
    "grid_points", "load", "make_folds", "run", "speaker_probe", "yardstick",
    "real_speech_ablation", "padding_share", "model_inputs", "REAL_SPEECH_STEPS",
]

CHAPTER = "04_leow_speaker_adversarial"
N_FFT = 2048
"""MFCC frame (samples), as the paper."""
HOP_LENGTH = 512
"""MFCC hop (samples), as the paper."""
LMFB_N_FFT = 1024
"""Frame of the 1D CNN GRU's log mel filterbank + energy + pitch input (samples)."""
LMFB_HOP = 256
"""Hop of that input (samples)."""

log = get_logger("experiments.leow")


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
@dataclass
class Config(ChapterConfig):
    """Parameters of the Leow et al. chapter.

    Every list-valued knob is a grid: Table 1's rows are ``cnn_layers x gammas``; each row is
    trained at every point of ``kernel_sizes x filters x gru_units x fc_units`` and the point
    with the best validation accuracy is kept, fold by fold.
    """

    size: str = param("default", smoke="tiny", choices=("tiny", "default", "large"),
                      help="embedded corpus size (ignored for real corpora)")
    seeds: list[int] = param([0], smoke=[0], paper=[0],
                             help="random seeds (network initialisation and batch order); results are "
                                  "mean ± std over folds x seeds",
                             paper_value="not stated (one run per fold; ± is over folds)")
    fold_seed: int = param(0, help="seed of the random male/female speaker pairing of the folds",
                           paper_value="not stated")
    encoders: list[str] = param(list(ENCODERS), choices=ENCODERS,
                                help="encoders to train: cnn_bigru (the paper's, Table 1), tdnn_bilstm and "
                                     "cnn1d_gru (Table 2's comparisons)",
                                paper_value="cnn_bigru, tdnn_bilstm, cnn1d_gru")
    gammas: list[Any] = param([None, 2.5], paper=[None, 1.25, 2.5, 3.33],
                              help="annealing parameters of lambda for the 2D CNN biGRU; None = without AL",
                              paper_value="without AL, 1.25, 2.5, 3.33")
    compare_gammas: list[float] = param([2.5], paper=[1.25, 2.5, 3.33],
                                        help="gammas for Table 2's comparison encoders (best on validation kept)",
                                        paper_value="not stated (Table 2 gives each encoder's best)")
    cnn_layers: list[int] = param([1, 2], smoke=[1], paper=[1, 2, 3, 4], low=1, high=4,
                                  help="numbers of 2D CNN blocks (Table 1's rows)", paper_value="1, 2, 3, 4")
    kernel_sizes: list[int] = param([5], paper=[5, 2], choices=(5, 2),
                                    help="convolution sizes k (k x k in 2D, k in 1D)", paper_value="5x5, 2x2")
    filters: list[int] = param([32], smoke=[16], paper=[128, 64], low=1,
                               help="convolution filters (book: half the paper's smallest, for CPU time)",
                               paper_value="128, 64")
    gru_units: list[int] = param([64], smoke=[32], paper=[256, 128], low=1,
                                 help="recurrent units per direction (book: half the paper's smallest)",
                                 paper_value="256, 128")
    fc_units: list[int] = param([64], smoke=[32], paper=[128, 64], low=1,
                                help="hidden units of the emotion and speaker classifiers", paper_value="128, 64")
    max_epochs: int = param(30, smoke=20, paper=60, low=1,
                            help="most training epochs; the epoch kept is the one with the best validation score, "
                                 "and the lambda schedule's p = step / (max_epochs x steps per epoch)",
                            paper_value="not stated")
    patience: int = param(0, smoke=0, paper=10, low=0,
                          help="stop after this many epochs without a validation improvement (0 = train all "
                               "max_epochs)",
                          paper_value="not stated (no early stopping mentioned)")
    min_delta: float = param(0.0, low=0.0, high=1.0,
                             help="smallest rise of the validation score that counts as an improvement (0: any "
                                  "rise, ties broken by a lower validation loss)",
                             paper_value="not stated")
    batch_size: int = param(32, smoke=8, low=2, help="mini-batch size", paper_value="not stated")
    lr: float = param(1e-3, low=1e-6, high=1.0, help="Adam learning rate", paper_value="not stated")
    lr_schedule: str = param("cosine", paper="constant", choices=("constant", "cosine"),
                             help="learning rate over training: constant, or falling to 0 along half a cosine over "
                                  "max_epochs epochs", paper_value="not stated")
    dropout: float = param(0.3, low=0.0, high=0.9, help="dropout in the CNN blocks and classifiers",
                           paper_value="not stated")
    select: str = param("accuracy", choices=("accuracy", "uar"),
                        help="validation score that picks the epoch and the grid point",
                        paper_value="accuracy; the paper keeps the grid point with the best accuracy")
    sample_rate: int = param(16000, low=8000, high=48000, help="audio resampled to this rate (Hz)",
                             paper_value="not stated")
    n_mfcc: int = param(20, low=1, high=128, help="MFCC coefficients kept", paper_value="20")
    trim_top_db: float = param(30.0, low=1.0, high=120.0,
                               help="silence trimming threshold, dB below the peak",
                               paper_value="not stated (silence and background noise removed)")
    input_norm: str = param("speaker", paper="train", choices=("speaker", "train", "none"),
                            help="standardise each input feature: each speaker with their own statistics "
                                 "(speaker, speaker-adaptive: reads the held-out speakers' recordings, never their "
                                 "labels), every speaker with the training speakers' statistics (train), or not "
                                 "at all (none)",
                            paper_value="not stated")
    norm_frames: str = param("speech", paper="all", choices=("all", "speech"),
                             help="frames the standardisation statistics pool: every frame of the padded "
                                  "matrices (all) or only those that hold the recording (speech); with speech, "
                                  "padded frames are set to the training mean",
                             paper_value="not stated")
    mask_padding: bool = param(True, paper=False,
                               help="the encoder skips the padded frames: its convolutions read zeros past an "
                                    "utterance's end, its recurrent layer stops at the last frame and statistics "
                                    "pooling averages over the utterance's frames only; each training batch is "
                                    "cut after its longest utterance",
                               paper_value="no: recordings zero-padded to the longest one, padding read as input")
    n_mels: int = param(40, low=8, high=128, help="log mel filterbanks of the 1D CNN GRU's input",
                        paper_value="not stated (Li et al.'s LogMFB)")
    workers: int | None = workers_param(0, smoke=1, units="(fold, seed, row) trainings")
    threads: int | None = threads_param(None, smoke=1, unit="training")
    probe: bool = param(True, help="train speaker probes on the frozen encoders (beyond the paper)")
    probe_fraction: float = param(0.5, low=0.1, high=0.9,
                                  help="fraction of each speaker's utterances that trains the probe")
    ablation: bool = param(True, help="train the 2D CNN biGRU with each step of the real-speech ablation "
                                      "(beyond the paper)")
    ablation_folds: int | None = param(4, smoke=2, paper=None, low=1,
                                       help="folds of the real-speech ablation: the first k (None: every fold; "
                                            "book: 4, for CPU time)")

    CHAPTER = CHAPTER

    def validate(self) -> None:
        super().validate()
        for g in list(self.gammas) + list(self.compare_gammas):
            if g is not None and (not isinstance(g, (int, float)) or g <= 0):
                raise ParameterError(f"gamma {g!r} must be a positive number (or None for without AL)")
        if any(g is None for g in self.compare_gammas):
            raise ParameterError("compare_gammas are adversarial settings; None is not allowed there")
        if not self.encoders:
            raise ParameterError("encoders must name at least one encoder")
        if not (self.gammas or self.compare_gammas):
            raise ParameterError("give at least one gamma")


def run_meta(cfg: Config) -> dict[str, Any]:
    """The configuration as metadata for :func:`serlib.results.save_table`."""
    return {"profile": cfg.profile, **{k: v for k, v in cfg.as_dict().items() if k != "profile"}}


# ---------------------------------------------------------------------------------------------
# Data, folds and features
# ---------------------------------------------------------------------------------------------
def load(cfg: Config) -> Corpus:
    """The labelled corpus of ``cfg`` (embedded at ``cfg.size``, or a real corpus)."""
    if cfg.corpus == "embedded":
        return load_corpus("embedded", size=cfg.size, part="labelled")
    return cfg.load_corpus().labelled()


def make_folds(corpus: Corpus, seed: int = 0) -> list[Fold]:
    """Leave-two-speakers-out with a validation pair, gender-balanced (the paper's protocol).

    Emo-DB gives 5 folds of 6/2/2 speakers, RAVDESS 12 of 20/2/2, the embedded corpus 5 of
    6/2/2. Every fold is checked to have every class among its training speakers.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Sec. 4.1.
    """
    folds = leave_two_speakers_out(corpus, seed=seed, validation=True)
    for f in folds:
        check_fold(f, corpus.y, corpus.labels)
    return folds


def fold_table(corpus: Corpus, folds: Sequence[Fold]) -> pd.DataFrame:
    """Who trains, validates and tests in each fold, with utterance counts."""
    spk = corpus.speakers
    rows = []
    for f in folds:
        rows.append({"fold": f.name, "train speakers": ", ".join(sorted(set(spk[f.train]))),
                     "validation": ", ".join(f.val_groups), "test": ", ".join(f.test_groups),
                     "n train": len(f.train), "n val": len(f.val), "n test": len(f.test)})
    return pd.DataFrame(rows).set_index("fold")


# ---------------------------------------------------------------------------------------------
# Running the grid
# ---------------------------------------------------------------------------------------------
def grid_points(cfg: Config, encoder: str) -> list[dict[str, int]]:
    """The architecture grid of one encoder (the kernel is unused by the TDNN, which has fixed
    contexts)."""
    kernels = cfg.kernel_sizes if encoder != "tdnn_bilstm" else [cfg.kernel_sizes[0]]
    return [dict(kernel=k, filters=f, gru_units=g, fc_units=h)
            for k, f, g, h in itertools.product(kernels, cfg.filters, cfg.gru_units, cfg.fc_units)]


def _rows_to_run(cfg: Config) -> list[tuple[str, int | None, float | None]]:
    """(encoder, CNN layers, gamma): Table 1's rows for cnn_bigru, then Table 2's comparisons."""
    jobs: list[tuple[str, int | None, float | None]] = []
    if "cnn_bigru" in cfg.encoders:
        jobs += [("cnn_bigru", n, g) for n in cfg.cnn_layers for g in cfg.gammas]
    for enc in cfg.encoders:
        if enc != "cnn_bigru":
            jobs += [(enc, None, g) for g in cfg.compare_gammas]
    return jobs


@dataclass
class Results:
    """Everything :func:`run` produced.

    Attributes
    ----------
    scores
        One row per (encoder, layers, gamma, fold, seed): the grid point kept on validation,
        its best epoch, validation and test accuracy / UAR / macro-F1.
    grid
        One row per trained grid point (before the choice on validation).
    histories
        Per-epoch training records (``J_e``, ``J_s``, ``lambda``, validation scores) of the
        kept runs.
    predictions
        Test predictions of the kept runs (``y_true``, ``y_pred``).
    probe
        Speaker-probe accuracies on the frozen encoders (and on the raw input statistics).
    embeddings
        Pooled encoder outputs of every utterance for the first fold and seed, by run key.
    """

    scores: pd.DataFrame
    grid: pd.DataFrame
    histories: pd.DataFrame
    predictions: pd.DataFrame
    probe: pd.DataFrame
    embeddings: dict[str, np.ndarray]
    labels: tuple[str, ...]
    speakers: np.ndarray
    y: np.ndarray
    folds: list[Fold]
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


def run_key(encoder: str, layers: int | None, gamma: float | None) -> str:
    """A readable key such as ``cnn_bigru/L1/without AL`` or ``tdnn_bilstm/2.50``."""
    mid = f"/L{layers}" if layers is not None else ""
    return f"{encoder}{mid}/{gamma_label(gamma)}"


def speaker_probe(z: np.ndarray, speakers: np.ndarray, rows: np.ndarray, *, fraction: float = 0.5,
                  seed: int = 0) -> tuple[float, float]:
    """Speaker-identification accuracy of a fresh linear probe on frozen features.

    Each speaker's utterances among ``rows`` are split (stratified by speaker): ``fraction``
    trains the probe, the rest tests it. The probe is standardisation + linear discriminant
    analysis with Ledoit-Wolf shrinkage (closed form, so it always converges; the classic
    linear speaker-ID back end).

    Returns
    -------
    (probe accuracy, majority-class accuracy of the same test part)
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    s = speakers[rows]
    tr, te = train_test_split(np.arange(len(rows)), train_size=fraction, random_state=seed, stratify=s)
    clf = make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
    clf.fit(z[rows[tr]], s[tr])
    acc = float(np.mean(clf.predict(z[rows[te]]) == s[te]))
    _, counts = np.unique(s[te], return_counts=True)
    return acc, float(counts.max() / counts.sum())


def model_inputs(cfg: Config, corpus: Corpus, kinds: Sequence[str] = ("mfcc",), *,
                 progress: bool = True) -> dict[str, np.ndarray]:
    """The padded input matrices of ``kinds`` (``mfcc``: the 2D CNN biGRU's and the TDNN biLSTM's;
    ``lmfb``: the 1D CNN GRU's) and, under ``<kind>_frames``, each row's frames before its padding."""
    inputs: dict[str, np.ndarray] = {}
    if "mfcc" in kinds:
        opts = dict(n_mfcc=cfg.n_mfcc, n_fft=N_FFT, hop_length=HOP_LENGTH, sample_rate=cfg.sample_rate,
                    top_db=cfg.trim_top_db, progress=progress)
        inputs["mfcc"] = padded_mfcc(corpus, **opts)
        inputs["mfcc_frames"] = padded_mfcc_frames(corpus, **opts)
    if "lmfb" in kinds:
        inputs["lmfb"], inputs["lmfb_frames"] = lmfb_energy_pitch(
            corpus, n_mels=cfg.n_mels, n_fft=LMFB_N_FFT, hop_length=LMFB_HOP, sample_rate=cfg.sample_rate,
            top_db=cfg.trim_top_db, progress=progress, with_frames=True)
    return inputs


def _fold_inputs(inputs: dict[str, np.ndarray], kind: str, fold: Fold, norm: str,
                 frames: str = "all", speakers: np.ndarray | None = None) -> np.ndarray:
    """Input ``kind`` standardised per feature, for ``fold``.

    ``norm="train"``: with the fold's training speakers' statistics, one set for every row;
    ``"speaker"``: each speaker's rows with that speaker's own statistics (speaker-adaptive
    normalisation: it reads every speaker's recordings, the held-out speakers' too, without
    their labels; needs ``speakers``); ``"none"``: as extracted. The statistics pool every
    frame (``frames="all"``) or the frames before each row's padding (``"speech"``; padded frames
    then become 0, the mean).
    """
    x = inputs[kind]
    if norm == "none":
        return x
    n = inputs[f"{kind}_frames"] if frames == "speech" else None

    def fitted(rows: np.ndarray) -> Standardiser:
        return Standardiser.fit(x[rows] if n is None else [x[i, :, : n[i]] for i in rows])

    if norm == "train":
        out = fitted(fold.train)(x)
    elif norm == "speaker":
        if speakers is None:
            raise ParameterError("input_norm='speaker' needs each row's speaker")
        out = standardise_by_speaker(x, speakers, fitted)
    else:
        raise ParameterError(f"input_norm {norm!r} is not one of train, speaker, none")
    if n is None:
        return out
    return out * (np.arange(out.shape[2])[None, :] < n[:, None])[:, None, :].astype(np.float32)


def _frames(inputs: dict[str, np.ndarray], kind: str, rows: np.ndarray, mask: bool) -> np.ndarray | None:
    """Valid frames of ``rows`` when the encoder masks the padding, else ``None`` (the paper)."""
    return inputs[f"{kind}_frames"][rows] if mask else None


def _train_network(cfg: Config, x: np.ndarray, y: np.ndarray, spk: np.ndarray, fold: Fold,
                   frames: Callable[[np.ndarray], np.ndarray | None], *, encoder: str, layers: int,
                   gamma: float | None, grid_point: dict[str, int], n_classes: int, seed: int, device: Any,
                   reversal: bool = True) -> tuple[Any, np.ndarray]:
    """Train one network of the grid on ``fold`` (epoch chosen on its validation pair) and predict
    its test rows: the one training recipe of :func:`run` and :func:`fit_one`.

    ``x`` is the fold's standardised input (:func:`_fold_inputs`), ``frames(rows)`` the valid
    frames of those rows (``None`` when the padding is not masked). ``gamma=None`` trains without
    the speaker branch; ``reversal=False`` keeps the branch but drops the gradient reversal.
    Returns the :func:`~serlib.models.sier.train_sier` result and the test predictions.
    """
    train_spk = sorted(set(spk[fold.train]))
    s_index = {s: i for i, s in enumerate(train_spk)}
    s_train = np.array([s_index[s] for s in spk[fold.train]])
    gp = grid_point
    seed_everything(seed)
    enc = build_encoder(encoder, x.shape[1], x.shape[2], cnn_layers=layers, filters=gp["filters"],
                        kernel=gp["kernel"], gru_units=gp["gru_units"], dropout=cfg.dropout)
    net = SIERNet(enc, n_classes, len(train_spk) if gamma is not None else None, fc_units=gp["fc_units"],
                  dropout=cfg.dropout)
    if not reversal:
        net.grl = PassGradient()
    fit = train_sier(net, x[fold.train], y[fold.train], s_train if gamma is not None else None, x[fold.val],
                   y[fold.val], max_epochs=cfg.max_epochs, patience=cfg.patience, min_delta=cfg.min_delta,
                   gamma=gamma, lr=cfg.lr, batch_size=cfg.batch_size, device=device, seed=seed, select=cfg.select,
                   lengths_train=frames(fold.train), lengths_val=frames(fold.val), lr_schedule=cfg.lr_schedule)
    return fit, predict_emotions(fit.model, x[fold.test], lengths=frames(fold.test))


def _train_unit(data: dict[str, Any], cfg: Config, fold: Fold, seed: int, job: tuple[str, int | None, float | None],
                n_classes: int, device: str, keep_embedding: bool) -> dict[str, Any]:
    """Train one (encoder, layers, gamma) row on one fold and seed over the architecture grid.

    ``data`` holds the input arrays (``inputs``), labels (``y``) and speakers (``spk``), sent
    once to each worker process by :func:`serlib.parallel.run_units`. Returns the grid rows, the
    row kept on validation, its history, test predictions, speaker-probe results and (if
    asked) the pooled features of every utterance.
    """
    encoder, layers, gamma = job
    inputs, y, spk = data["inputs"], data["y"], data["spk"]
    kind = "lmfb" if encoder == "cnn1d_gru" else "mfcc"
    x = _fold_inputs(inputs, kind, fold, cfg.input_norm, cfg.norm_frames, spk)
    key = run_key(encoder, layers, gamma)
    grid_rows: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    for gp in grid_points(cfg, encoder):
        fit, pred = _train_network(cfg, x, y, spk, fold, lambda rows: _frames(inputs, kind, rows, cfg.mask_padding),
                                   encoder=encoder, layers=layers or 1, gamma=gamma, grid_point=gp,
                                   n_classes=n_classes, seed=seed, device=device)
        hv = fit.history.iloc[fit.best_epoch - 1]
        row = {"encoder": encoder, "layers": layers, "gamma": gamma, "key": key, "fold": fold.name, "seed": seed,
               **gp, "best_epoch": fit.best_epoch, "val_accuracy": float(hv["val_accuracy"]),
               "val_uar": float(hv["val_uar"]), **classification_scores(y[fold.test], pred)}
        grid_rows.append(row)
        score = row["val_accuracy"] if cfg.select == "accuracy" else row["val_uar"]
        if best is None or score > best["score"]:
            best = {"score": score, "row": row, "fit": fit, "pred": pred}
    assert best is not None
    tags = {"encoder": encoder, "layers": layers, "gamma": gamma, "key": key, "fold": fold.name, "seed": seed}
    out: dict[str, Any] = {
        "grid": grid_rows, "score": dict(best["row"]), "history": best["fit"].history.assign(**tags),
        "pred": pd.DataFrame({**tags, "row": fold.test, "y_true": y[fold.test], "y_pred": best["pred"]}),
        "probe": [], "embedding": None, "key": key, "networks": len(grid_rows),
    }
    if cfg.probe or keep_embedding:
        z = embed(best["fit"].model, x, lengths=_frames(inputs, kind, np.arange(len(x)), cfg.mask_padding))
        if keep_embedding:
            out["embedding"] = z
        if cfg.probe:
            heldout = np.concatenate([fold.val, fold.test])
            for part, rows in (("unseen", heldout), ("training", fold.train)):
                acc, chance = speaker_probe(z, spk, rows, fraction=cfg.probe_fraction, seed=seed)
                out["probe"].append({**tags, "speakers": part, "accuracy": acc, "chance": chance})
    return out


def fit_one(cfg: Config, corpus: Corpus, fold: Fold, inputs: dict[str, np.ndarray], *, layers: int = 1,
            gamma: float | None = 2.5, reversal: bool = True, seed: int = 0) -> dict[str, Any]:
    """Train one 2D CNN biGRU on ``fold`` and probe its frozen encoder (a quick study of one change).

    The network is the first point of ``cfg``'s architecture grid with ``layers`` CNN blocks,
    trained like every row of :func:`run` (epoch chosen on the validation pair) on ``inputs``
    (:func:`model_inputs`). ``gamma=None``
    trains without AL. ``reversal=False`` keeps the speaker classifier but removes the gradient
    reversal: the encoder then *helps* the speaker classifier (multi-task learning, the encoder
    minimising ``J_e + J_s``) instead of working against it.

    Returns
    -------
    ``{"scores": test accuracy/UAR/macro-F1, "best_epoch", "epochs_trained", "history": per-epoch frame,
    "probe": {"unseen": .., "training": .., "chance unseen": .., "chance training": ..}}`` with
    the speaker-probe accuracies of :func:`speaker_probe` on the fold's unseen (validation +
    test) and training speakers.
    """
    if not reversal and gamma is None:
        raise ParameterError("fit_one(reversal=False) needs the speaker branch: give a gamma (with no reversal it sets "
                             "no weight, the speaker loss reaches the encoder unreversed)")
    y, spk = corpus.y, corpus.speakers
    x = _fold_inputs(inputs, "mfcc", fold, cfg.input_norm, cfg.norm_frames, spk)
    fit, pred = _train_network(cfg, x, y, spk, fold, lambda rows: _frames(inputs, "mfcc", rows, cfg.mask_padding),
                               encoder="cnn_bigru", layers=layers, gamma=gamma,
                               grid_point=grid_points(cfg, "cnn_bigru")[0], n_classes=len(corpus.labels), seed=seed,
                               device=get_device(cfg.device), reversal=reversal)
    z = embed(fit.model, x, lengths=_frames(inputs, "mfcc", np.arange(len(x)), cfg.mask_padding))
    probe: dict[str, float] = {}
    for part, rows in (("unseen", np.concatenate([fold.val, fold.test])), ("training", fold.train)):
        probe[part], probe[f"chance {part}"] = speaker_probe(z, spk, rows, fraction=cfg.probe_fraction, seed=seed)
    return {"scores": classification_scores(y[fold.test], pred), "best_epoch": fit.best_epoch,
            "epochs_trained": fit.epochs_trained, "history": fit.history, "probe": probe}


def run(cfg: Config, corpus: Corpus, folds: Sequence[Fold] | None = None, *, progress: bool = True) -> Results:
    """Train every row of Tables 1 and 2 on every fold and seed; keep grid points on validation.

    For each (encoder, CNN layers, gamma) row, fold and seed, every architecture grid point
    is trained on the fold's training speakers (the speaker classifier on those speakers
    only), its epoch chosen by validation accuracy on the validation pair; the grid point with
    the best validation score is kept and scored on the test pair. With ``cfg.probe`` a
    linear speaker probe (:func:`speaker_probe`) is then trained on the kept encoder's frozen, pooled
    features: on the unseen validation + test speakers and on the training speakers, half of
    each speaker's utterances training the probe.

    The (fold, seed, row) trainings are the units of :func:`serlib.parallel.run_units`: on a CPU
    they run in ``cfg.workers`` processes (default: one per core) with ``cfg.threads`` torch
    threads each, on a GPU one after the other; inside ``serbook run`` a killed run resumes from
    its finished units.

    References
    ----------
    Leow et al., Speaker-invariant emotion recognition with adversarial learning, Secs. 4.1-4.4.
    """
    t0 = time.time()
    device = get_device(cfg.device)
    folds = list(folds) if folds is not None else make_folds(corpus, cfg.fold_seed)
    y = corpus.y
    spk = corpus.speakers
    needs = {("lmfb" if e == "cnn1d_gru" else "mfcc") for e in cfg.encoders}
    inputs = model_inputs(cfg, corpus, needs, progress=progress)
    kinds = [k for k in inputs if not k.endswith("_frames")]
    jobs = _rows_to_run(cfg)
    units = [(fi, seed, job) for fi in range(len(folds)) for seed in cfg.seeds for job in jobs]
    total = sum(len(grid_points(cfg, job[0])) for _, _, job in units)
    workers = default_workers(cfg.workers, len(units), device)
    log.info("training %d networks (%d rows x %d folds x %d seeds x grid) on %s, %d process(es)", total, len(jobs),
             len(folds), len(cfg.seeds), device, workers)

    probe_rows: list[dict[str, Any]] = []
    if cfg.probe:  # reference: the same probe on time-pooled input features (no encoder)
        for fold in folds:
            heldout = np.concatenate([fold.val, fold.test])
            for kind in kinds:
                x = _fold_inputs(inputs, kind, fold, cfg.input_norm, cfg.norm_frames, spk)
                pooled = np.concatenate([x.mean(axis=2), x.std(axis=2)], axis=1)
                for part, rows in (("unseen", heldout), ("training", fold.train)):
                    acc, chance = speaker_probe(pooled, spk, rows, fraction=cfg.probe_fraction, seed=0)
                    probe_rows.append({"encoder": f"input ({kind} mean+std)", "layers": None, "gamma": None,
                                       "key": f"input/{kind}", "fold": fold.name, "seed": None, "speakers": part,
                                       "accuracy": acc, "chance": chance})

    work = [Unit(f"fold={folds[fi].name}/seed={seed}/{run_key(*job)}",
                 (cfg, folds[fi], seed, job, len(corpus.labels), str(device), fi == 0 and seed == cfg.seeds[0]),
                 weight=len(grid_points(cfg, job[0])))
            for fi, seed, job in units]
    outs = run_chapter_units("leow.run", _train_unit, work, cfg, device=device,
                             context={"inputs": inputs, "y": y, "spk": spk}, progress=progress, desc="networks",
                             data=(folds, inputs, y, spk, list(corpus.labels)))
    probe_rows += [r for o in outs for r in o["probe"]]
    return Results(
        scores=pd.DataFrame([o["score"] for o in outs]), grid=pd.DataFrame([r for o in outs for r in o["grid"]]),
        histories=pd.concat([o["history"] for o in outs], ignore_index=True),
        predictions=pd.concat([o["pred"] for o in outs], ignore_index=True), probe=pd.DataFrame(probe_rows),
        embeddings={o["key"]: o["embedding"] for o in outs if o["embedding"] is not None},
        labels=tuple(corpus.labels), speakers=spk, y=y, folds=list(folds), seconds=time.time() - t0,
        meta={"device": str(device), "networks": total, "processes": workers, "max_epochs": cfg.max_epochs,
              "input_shapes": {k: inputs[k].shape for k in kinds}},
    )


REAL_SPEECH_STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("zero padding read as speech, early stopping",
     {"input_norm": "train", "norm_frames": "all", "mask_padding": False, "patience": 5, "lr_schedule": "constant"}),
    ("+ padding masked, statistics over speech",
     {"input_norm": "train", "norm_frames": "speech", "mask_padding": True, "patience": 5, "lr_schedule": "constant"}),
    ("+ every epoch trained, cosine learning rate",
     {"input_norm": "train", "norm_frames": "speech", "mask_padding": True, "patience": 0, "lr_schedule": "cosine"}),
    ("+ each speaker standardised with their own statistics",
     {"input_norm": "speaker", "norm_frames": "speech", "mask_padding": True, "patience": 0,
      "lr_schedule": "cosine"}),
)
"""The steps of :func:`real_speech_ablation`, each adding one change to the one before: the
settings the chapter's networks are trained with, from the paper's zero-padded input, standardised
with the training speakers' statistics, with early stopping on the validation pair (patience 5),
to the book's recipe."""


def padding_share(inputs: dict[str, np.ndarray], kind: str = "mfcc") -> float:
    """Fraction of all frames of the padded ``kind`` matrices (:func:`model_inputs`) that are padding."""
    return float(1.0 - inputs[f"{kind}_frames"].mean() / inputs[kind].shape[2])


def real_speech_ablation(cfg: Config, corpus: Corpus, folds: Sequence[Fold], res: Results | None = None, *,
                         steps: Sequence[tuple[str, dict[str, Any]]] = REAL_SPEECH_STEPS,
                         progress: bool = True) -> pd.DataFrame:
    """The 2D CNN biGRU at its first depth, without and with AL (the first gamma), trained with
    each step's settings on ``folds``: what each change of :data:`REAL_SPEECH_STEPS` adds.

    A step whose settings are ``cfg``'s reuses the rows ``res`` (:func:`run` with ``cfg``)
    already trained on the same folds; the others are trained here, with everything else as in
    ``cfg``.

    Returns
    -------
    One row per step: mean ± std over folds x seeds of the test accuracy without and with AL, the
    mean epoch kept, and the change of each accuracy from the first step (points).
    """
    layers = int(cfg.cnn_layers[0])
    gammas = [None] + [g for g in cfg.gammas if g is not None][:1]
    keys = {run_key("cnn_bigru", layers, g): g for g in gammas}
    rows = []
    for label, change in steps:
        same = all(getattr(cfg, k) == v for k, v in change.items())
        if same and res is not None and set(keys) <= set(res.scores["key"]) and \
                set(res.scores["fold"]) >= {f.name for f in folds}:
            s = res.scores[res.scores["key"].isin(keys) & res.scores["fold"].isin([f.name for f in folds])]
        else:
            sub = dataclasses.replace(cfg, **change, encoders=["cnn_bigru"], cnn_layers=[layers], gammas=gammas,
                                      probe=False)
            sub.validate()
            s = run(sub, corpus, folds, progress=progress).scores
        row: dict[str, Any] = {"step": label}
        for key, g in keys.items():
            part = s[s["key"] == key]
            name = gamma_label(g)
            row[f"{name}: accuracy (%)"] = 100 * part["accuracy"].mean()
            row[f"{name}: std"] = 100 * part["accuracy"].std(ddof=0)
            row[f"{name}: epoch kept"] = part["best_epoch"].mean()
        rows.append(row)
    out = pd.DataFrame(rows).set_index("step")
    out.index.name = None
    for g in gammas:
        col = f"{gamma_label(g)}: accuracy (%)"
        out[f"{gamma_label(g)}: change (points)"] = out[col] - out[col].iloc[0]
    return out


def yardstick(corpus: Corpus, folds: Sequence[Fold], *,
              progress: bool = True) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The book's yardstick on the same folds: IS10 + RBF-SVM, plain and speaker-adaptive.

    Returns
    -------
    (per-fold scores of both, {method: confusion matrix})
    """
    out, cms = [], {}
    for adaptive in (False, True):
        df, cm = svm_yardstick(corpus, folds, feature_set="is10", speaker_adaptive=adaptive, progress=progress)
        out.append(df)
        cms[str(df["method"].iloc[0])] = cm
    return pd.concat(out, ignore_index=True), cms
