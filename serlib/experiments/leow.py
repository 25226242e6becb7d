"""Chapter 4: speaker-invariant emotion recognition with adversarial learning (Leow et al.).

The experiment functions the notebook calls:

* :func:`load` -- the labelled corpus of a configuration; :func:`make_folds` -- the
  gender-balanced leave-two-speakers-out folds with a validation pair;
* the inputs come from :mod:`serlib.features`: :func:`~serlib.features.padded_mfcc` (the
  paper's: silence trimmed, every recording zero-padded to the longest of the corpus, 20 MFCCs,
  frame :data:`N_FFT`, hop :data:`HOP_LENGTH`, Hann) and
  :func:`~serlib.features.lmfb_energy_pitch` (the 1D CNN GRU encoder's: log mel filterbanks +
  log energy + log F0, frame :data:`LMFB_N_FFT`, hop :data:`LMFB_HOP`);
* :func:`run` -- every (encoder, CNN depth, gamma) row of Tables 1 and 2 on every fold and
  seed, each grid point trained with its epoch chosen on the validation pair, the grid point
  chosen on the validation pair too; plus the speaker probes of the frozen encoders;
* :func:`table1`, :func:`table2`, :func:`yardstick`, :func:`probe_table` -- tidy tables;
* figures: :func:`plot_lambda_schedule`, :func:`plot_training_curves`,
  :func:`plot_confusions`, :func:`plot_projection`, :func:`plot_probe`.

References
----------
B. Leow Xuan Zhen, L. L. C. Kasun, C. S. Ahn, J. C. Rajapakse. Speaker-invariant emotion
recognition with adversarial learning.

M. Tu, Y. Tang, J. Huang, X. He, B. Zhou. Towards adversarial learning of speaker-invariant
representation for speech emotion recognition. arXiv:1903.09606, 2019.

H. Li, M. Tu, J. Huang, S. Narayanan, P. Georgiou. Speaker-invariant affective representation
learning via adversarial training. ICASSP 2020.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..claims import TIE, compare, paired_difference
from ..config import ParameterError, get_device, get_logger, seed_everything
from ..data import Corpus, load_corpus
from ..features import Standardiser, lmfb_energy_pitch, padded_mfcc, padded_mfcc_frames, standardise_by_speaker
from ..metrics import classification_scores, confusion, mean_interval, summarise
from ..models.sier import (
    ENCODERS,
    PassGradient,
    SIERNet,
    build_encoder,
    embed,
    lambda_schedule,
    predict_emotions,
    train_sier,
)
from ..papers import PaperTable, beside
from ..papers.leow import TABLE2_ROWS, TABLES, gamma_label, table1_row
from ..parallel import Unit, default_workers, run_chapter_units, threads_param, workers_param
from ..params import ChapterConfig, param
from ..splits import Fold, check_fold, leave_two_speakers_out
from .common import svm_yardstick

__all__ = [
    "CHAPTER",
    "PROBE_MARGIN",
    "paper_gain",
    "al_gains",
    "ablation_moves",
    "paper_gain_range",
    "probe_summary",
    "run_key",
    "run_meta",
    "run_summary",
    "yardstick_comparison",
    "Config",
    "Results",
    "N_FFT",
    "HOP_LENGTH",
    "beside_paper",
    "chosen_epochs",
    "comparison",
    "fit_one",
    "fold_table",
    "grid_points",
    "load",
    "make_folds",
    "plot_confusions",
    "plot_lambda_schedule",
    "plot_padded_inputs",
    "plot_probe",
    "plot_projection",
    "plot_training_curves",
    "probe_table",
    "run",
    "speaker_probe",
    "table1",
    "table2",
    "yardstick",
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


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def _gamma(g: Any) -> float | None:
    """A gamma cell of a results table: NaN/None (without AL) -> None."""
    return None if g is None or (isinstance(g, float) and np.isnan(g)) else float(g)


def _mean_std(df: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """accuracy and UAR (%) mean ± std over folds x seeds, per group."""
    s = summarise(df, by, metrics=("accuracy", "uar"), decimals=1)
    return s.rename(columns={"accuracy_mean": "ours accuracy (%)", "accuracy_std": "ours accuracy std",
                             "uar_mean": "ours UAR (%)", "uar_std": "ours UAR std",
                             "accuracy": "ours accuracy", "uar": "ours UAR", "n": "runs"})


def _paper_tables(table: str, corpus_name: str) -> list[PaperTable]:
    """The paper's columns to show: the corpus's own if it is Emo-DB or RAVDESS, else both."""
    if corpus_name in ("emodb", "ravdess"):
        return [TABLES[f"{table}_{corpus_name}"]]
    return [TABLES[f"{table}_emodb"], TABLES[f"{table}_ravdess"]]


def beside_paper(ours: pd.DataFrame, table: str, corpus_name: str) -> pd.DataFrame:
    """``ours`` next to the paper's accuracy column(s) of ``table`` (``table1`` or ``table2``)."""
    out = ours
    for t in reversed(_paper_tables(table, corpus_name)):
        out = beside(out, t)
    lead = [c for c in out.columns if str(c).startswith("paper")]
    return out[lead + [c for c in out.columns if c not in lead]]


def table1(res: Results, corpus_name: str = "embedded") -> pd.DataFrame:
    """Table 1: accuracy of the 2D CNN biGRU by CNN depth x gamma (and without AL), beside the
    paper's. Rows the run did not train keep only the paper's number."""
    s = res.scores[res.scores["encoder"] == "cnn_bigru"]
    if s.empty:
        return pd.DataFrame()
    s = s.assign(row=[table1_row(int(layers), _gamma(g)) for layers, g in zip(s["layers"], s["gamma"])])
    ours = _mean_std(s, "row")[["ours accuracy (%)", "ours accuracy std", "ours UAR (%)", "runs"]]
    ours.index.name = None
    low, high = {}, {}
    for row, part in s.groupby("row"):
        low[row], high[row] = mean_interval(100 * part["accuracy"].to_numpy())
    ours = ours.assign(**{"95 % interval, low": pd.Series(low), "95 % interval, high": pd.Series(high)})
    out = beside_paper(ours, "table1", corpus_name)
    if corpus_name in ("emodb", "ravdess"):  # the paper's own corpus: is its number inside our interval?
        paper = out[f"paper accuracy, {'Emo-DB' if corpus_name == 'emodb' else 'RAVDESS'} (%)"]
        inside = (paper >= out["95 % interval, low"]) & (paper <= out["95 % interval, high"])
        out["paper inside the interval"] = np.where(out["95 % interval, low"].isna(), "", np.where(inside, "yes", "no"))
    return out


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


def ablation_moves(table: pd.DataFrame) -> list[dict[str, Any]]:
    """What :func:`real_speech_ablation`'s table shows: per setting (``"without AL"`` or the gamma's
    label) the mean test accuracy at the first step (``first``) and at the last (``last``, %)."""
    out = []
    for col in [c for c in table.columns if c.endswith("accuracy (%)")]:
        out.append({"setting": col.split(":")[0], "first": float(table[col].iloc[0]),
                    "last": float(table[col].iloc[-1])})
    return out


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


def _selected_on_validation(s: pd.DataFrame, select: str) -> pd.DataFrame:
    """Per (fold, seed), the row (of one encoder) with the best validation score."""
    col = "val_accuracy" if select == "accuracy" else "val_uar"
    idx = s.groupby(["fold", "seed"])[col].idxmax()
    return s.loc[idx.to_numpy()]


def table2(res: Results, corpus_name: str = "embedded", select: str = "accuracy") -> pd.DataFrame:
    """Table 2: the three encoders with adversarial learning, beside the paper.

    Two numbers per encoder: ``selected on validation`` (per fold and seed, the AL setting --
    gamma, and CNN depth for the 2D CNN biGRU -- with the best validation score; an honest
    estimate) and ``best row`` (the setting with the best *mean test* accuracy, the way the
    paper's Table 2 repeats the best cell of its Table 1; optimistic).
    """
    rows = []
    for enc in [e for e in ENCODERS if e in set(res.scores["encoder"])]:
        s = res.scores[(res.scores["encoder"] == enc) & res.scores["gamma"].notna()]
        if s.empty:
            continue
        sel = _selected_on_validation(s, select)
        by_key = s.groupby("key")["accuracy"].mean()
        best_key = str(by_key.idxmax())
        best = s[s["key"] == best_key]
        rows.append({"row": TABLE2_ROWS[enc],
                     "ours accuracy (%)": 100 * sel["accuracy"].mean(),
                     "ours accuracy std": 100 * sel["accuracy"].std(ddof=0),
                     "ours UAR (%)": 100 * sel["uar"].mean(),
                     "ours best row accuracy (%)": 100 * best["accuracy"].mean(),
                     "best row": best_key, "runs": len(sel)})
    if not rows:
        return pd.DataFrame()
    ours = pd.DataFrame(rows).set_index("row")
    ours.index.name = None
    return beside_paper(ours, "table2", corpus_name)


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


def comparison(res: Results, svm: pd.DataFrame, select: str = "accuracy") -> pd.DataFrame:
    """Every method on the same folds: the yardstick, the 2D CNN biGRU without and with AL
    (depth and gamma chosen on validation), and the comparison encoders; test accuracy and UAR (%).

    The last column, ``validation accuracy (%)`` (``validation UAR (%)`` with ``select="uar"``),
    is the mean over folds x seeds of the validation score each kept network was chosen on; the
    :func:`yardstick_comparison` chooses between the adversarial models on it, never on the test columns. It
    is empty for the yardstick, which makes no choice on the validation pair.
    """
    parts = [svm.assign(seed=0)]
    s = res.scores
    cnn = s[s["encoder"] == "cnn_bigru"]
    if not cnn.empty and cnn["gamma"].isna().any():
        parts.append(_selected_on_validation(cnn[cnn["gamma"].isna()], select)
                     .assign(method="2D CNN biGRU without AL (MFCC)"))
    for enc in ENCODERS:
        e = s[(s["encoder"] == enc) & s["gamma"].notna()]
        if not e.empty:
            parts.append(_selected_on_validation(e, select).assign(method=f"{TABLE2_ROWS[enc]} + AL"))
    df = pd.concat(parts, ignore_index=True)
    out = _mean_std(df, "method")
    out = out[["ours accuracy (%)", "ours accuracy std", "ours UAR (%)", "ours UAR std", "runs"]].rename(
        columns=lambda c: c.replace("ours ", ""))
    col, name = _validation_column(select)
    val = df.groupby("method", sort=False)[col].mean() * 100 if col in df.columns else pd.Series(dtype=float)
    out[name] = val.reindex(out.index)
    return out


def _validation_column(select: str) -> tuple[str, str]:
    """The validation score the networks were chosen on: its column in the scores and in :func:`comparison`."""
    return ("val_accuracy", "validation accuracy (%)") if select == "accuracy" else ("val_uar", "validation UAR (%)")


def probe_table(res: Results) -> pd.DataFrame:
    """Speaker-probe accuracy (%) by representation and speaker set, with the majority rate."""
    if res.probe.empty:
        return pd.DataFrame()
    p = res.probe.copy()
    g = p.groupby(["key", "speakers"], sort=False)
    t = pd.DataFrame({"probe accuracy (%)": 100 * g["accuracy"].mean(), "std": 100 * g["accuracy"].std(ddof=0),
                      "majority (%)": 100 * g["chance"].mean(), "runs": g.size()})
    t = t.unstack("speakers")
    t.columns = [f"{a}, {b} speakers" for a, b in t.columns]
    order = [c for part in ("unseen", "training") for c in t.columns if c.endswith(f"{part} speakers")]
    return t[order]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot_padded_inputs(corpus: Corpus, mfcc: np.ndarray) -> plt.Figure:
    """The padded MFCC matrices of the shortest and the longest utterance (each coefficient
    standardised over the corpus for display, so that padding and speech are both visible)."""
    z = Standardiser.fit(mfcc, floor=0.0, offset=1e-8)(mfcc)
    dur = corpus.table["duration"].to_numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 2.8), sharey=True)
    for ax, i, what in zip(axes, (int(np.argmin(dur)), int(np.argmax(dur))), ("shortest", "longest")):
        ax.imshow(z[i], aspect="auto", origin="lower", cmap="magma", vmin=-2.5, vmax=2.5, interpolation="nearest")
        ax.grid(False)
        ax.set(title=f"{what}: {corpus.table['utt_id'][i]} ({corpus.table['emotion'][i]}, {dur[i]:.1f} s)",
               xlabel="frame (32 ms hop at 16 kHz)")
    axes[0].set_ylabel("MFCC (standardised)")
    fig.tight_layout()
    return fig


def plot_lambda_schedule(gammas: Sequence[float] = (1.25, 2.5, 3.33)) -> plt.Figure:
    """lambda(p) = 2 / (1 + exp(-gamma p)) - 1 over training, one line per gamma."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    p = np.linspace(0, 1, 201)
    for g in gammas:
        lam = lambda_schedule(p, g)
        ax.plot(p, lam, label=f"γ = {g:g} (λ at end {float(lambda_schedule(1.0, g)):.2f})")
    ax.set_xlabel("fraction of training done p")
    ax.set_ylabel("λ")
    ax.set_ylim(0, 1)
    ax.set_title("adversarial weight λ(p) for each γ")
    ax.legend(fontsize="small")
    return fig


def chosen_epochs(res: Results, wide: bool = False) -> pd.DataFrame:
    """The training length of every kept run: the epoch chosen on the validation pair and the
    number of epochs trained (fewer than ``max_epochs`` when early stopping ended the run).

    Parameters
    ----------
    res
        The results of :func:`run`.
    wide
        ``False``: one row per (encoder, layers, gamma, fold, seed) with ``best_epoch``,
        ``epochs_trained`` and ``stopped_early``; ``True``: one row per run key, one column per
        fold, cells ``"best / trained"`` (seeds joined by commas).
    """
    if res.scores.empty:
        return pd.DataFrame()
    cols = ["encoder", "layers", "gamma", "key", "fold", "seed"]
    trained = res.histories.groupby(["key", "fold", "seed"], sort=False)["epoch"].max().rename("epochs_trained")
    out = res.scores[cols + ["best_epoch"]].join(trained, on=["key", "fold", "seed"])
    max_epochs = int(res.meta.get("max_epochs", out["epochs_trained"].max()))
    out = out.assign(epochs_trained=out["epochs_trained"].astype(int), stopped_early=out["epochs_trained"] < max_epochs)
    if not wide:
        return out.reset_index(drop=True)
    cell = out.assign(cell=[f"{b} / {t}" for b, t in zip(out["best_epoch"], out["epochs_trained"])])
    return cell.groupby(["key", "fold"], sort=False)["cell"].agg(", ".join).unstack("fold")


def plot_training_curves(res: Results, layers: int | None = None) -> plt.Figure:
    """J_e, J_s, lambda and validation accuracy per epoch (mean over folds and seeds) for the
    2D CNN biGRU rows at ``layers`` CNN blocks (default: the first depth that was run).

    With early stopping the runs have different lengths: an epoch's mean is over the runs that
    reached it. Each run's chosen epoch is marked (▼) at its validation accuracy."""
    h = res.histories[res.histories["encoder"] == "cnn_bigru"]
    if h.empty:
        h = res.histories
    else:
        layers = layers if layers is not None else int(h["layers"].dropna().iloc[0])
        h = h[h["layers"] == layers]
    h = h.assign(setting=[gamma_label(_gamma(g)) for g in h["gamma"]])
    m = h.groupby(["setting", "epoch"], sort=False)[["J_e", "J_s", "lambda", "val_accuracy", "speaker_accuracy"]]
    m = m.mean().reset_index()
    sc = res.scores[res.scores["key"].isin(set(h["key"]))]
    chosen = {st: g for st, g in sc.assign(setting=[gamma_label(_gamma(x)) for x in sc["gamma"]]).groupby("setting")}
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for setting, g in m.groupby("setting", sort=False):
        line = axes[0].plot(g["epoch"], g["J_e"], label=f"J_e ({setting})")[0]
        if g["J_s"].notna().any():
            axes[0].plot(g["epoch"], g["J_s"], ls="--", color=line.get_color(), label=f"J_s ({setting})")
            axes[1].plot(g["epoch"], g["speaker_accuracy"], color=line.get_color(), label=f"γ = {setting}")
        axes[2].plot(g["epoch"], 100 * g["val_accuracy"], color=line.get_color(), label=setting)
        kept = chosen.get(setting)
        if kept is not None and not kept.empty:  # each run's chosen epoch, at its validation accuracy
            axes[2].scatter(kept["best_epoch"], 100 * kept["val_accuracy"], color=line.get_color(), marker="v",
                            s=22, alpha=0.7, zorder=3)
    n_spk = len(set(res.speakers[res.folds[0].train])) if res.folds else 0
    if n_spk:
        axes[1].axhline(1 / n_spk, color="grey", ls=":", lw=1, label="chance")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="training losses (J_e solid, J_s dashed)")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="speaker classifier on training batches")
    axes[2].set(xlabel="epoch", ylabel="accuracy (%)", title="emotion accuracy, validation pair (▼ epoch kept)")
    for ax in axes:
        ax.legend(fontsize="x-small")
    fig.suptitle(f"2D CNN biGRU, {layers} CNN layer(s): mean over folds and seeds" if layers else "training curves")
    fig.tight_layout()
    return fig


def plot_confusions(res: Results, keys: Sequence[str], extra: dict[str, pd.DataFrame] | None = None) -> plt.Figure:
    """Row-normalised confusion matrices of the test predictions (all folds and seeds pooled)."""
    from ..plots import confusion_heatmap

    mats: dict[str, pd.DataFrame] = dict(extra or {})
    for k in keys:
        p = res.predictions[res.predictions["key"] == k]
        if not p.empty:
            mats[k] = confusion(p["y_true"].to_numpy(), p["y_pred"].to_numpy(), res.labels)
    fig, axes = plt.subplots(1, len(mats), figsize=(3.9 * len(mats), 3.6), squeeze=False)
    for ax, (name, cm) in zip(axes[0], mats.items()):
        confusion_heatmap(cm, title=name, ax=ax)
    fig.tight_layout()
    return fig


def key_label(key: str) -> str:
    """A run key in words: ``cnn_bigru/L1/2.50`` -> ``2D CNN biGRU, 1 CNN layer, γ = 2.50``."""
    parts = key.split("/")
    name = {"cnn_bigru": "2D CNN biGRU", "tdnn_bilstm": "TDNN biLSTM", "cnn1d_gru": "1D CNN GRU"}.get(parts[0],
                                                                                                 parts[0])
    depth = [f"{p[1:]} CNN layer{'s' if p[1:] != '1' else ''}" for p in parts[1:-1] if p.startswith("L")]
    setting = parts[-1] if parts[-1] == "without AL" else f"γ = {parts[-1]}"
    return ", ".join([name, *depth, setting])


def per_speaker_accuracy(res: Results, keys: Sequence[str]) -> pd.DataFrame:
    """Test accuracy (%) of each speaker (columns: the run keys, in words), all seeds pooled:
    every speaker is tested in exactly one fold."""
    out = {}
    for k in keys:
        p = res.predictions[res.predictions["key"] == k]
        if not p.empty:
            spk = pd.Series(res.speakers[p["row"].to_numpy()], index=p.index)
            out[key_label(k)] = 100 * (p["y_true"] == p["y_pred"]).groupby(spk).mean()
    table = pd.DataFrame(out)
    table.index.name = "test speaker"
    return table


def plot_per_speaker(table: pd.DataFrame, chance: float | None = None) -> plt.Figure:
    """Bars of :func:`per_speaker_accuracy`: one group per test speaker, one bar per model."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(table) * max(1, table.shape[1])), 3.4))
    width = 0.8 / max(1, table.shape[1])
    x = np.arange(len(table))
    for i, col in enumerate(table.columns):
        ax.bar(x + (i - (table.shape[1] - 1) / 2) * width, table[col], width, label=col)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="majority class")
    ax.set_xticks(x, [str(s) for s in table.index], rotation=60 if len(table) > 12 else 0, fontsize="small")
    ax.set(xlabel="test speaker", ylabel="test accuracy (%)", ylim=(0, 100))
    ax.legend(fontsize="small", ncol=min(3, table.shape[1] + 1))
    fig.tight_layout()
    return fig


def plot_projection(res: Results, keys: Sequence[str], rows: np.ndarray | None = None) -> plt.Figure:
    """PCA of the pooled encoder features (first fold, first seed), coloured by speaker and by
    emotion, one row of panels per run key; ``rows`` defaults to the fold's training speakers."""
    from sklearn.decomposition import PCA

    keys = [k for k in keys if k in res.embeddings]
    rows = rows if rows is not None else res.folds[0].train
    fig, axes = plt.subplots(len(keys), 2, figsize=(10, 4 * len(keys)), squeeze=False)
    for r, k in enumerate(keys):
        z = res.embeddings[k][rows]
        pts = PCA(2).fit_transform((z - z.mean(0)) / (z.std(0) + 1e-8))
        for c, (what, lab) in enumerate((("speaker", res.speakers[rows]),
                                         ("emotion", np.array(res.labels)[res.y[rows]]))):
            ax = axes[r, c]
            for val in sorted(set(lab)):
                m = lab == val
                ax.scatter(pts[m, 0], pts[m, 1], s=9, alpha=0.65, label=val)
            ax.set_title(f"{k}: coloured by {what}", fontsize="small")
            ax.legend(fontsize="x-small", markerscale=1.5, ncol=2)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_probe(table: pd.DataFrame) -> plt.Figure:
    """Bars of speaker-probe accuracy (unseen and training speakers) with the majority rates."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    names = list(table.index)
    pos = np.arange(len(names))
    for i, part in enumerate(("unseen", "training")):
        col = f"probe accuracy (%), {part} speakers"
        if col not in table:
            continue
        ax.bar(pos + (i - 0.5) * 0.4, table[col], 0.4, yerr=table[f"std, {part} speakers"], capsize=3,
               label=f"{part} speakers")
        ax.scatter(pos + (i - 0.5) * 0.4, table[f"majority (%), {part} speakers"], color="k", marker="_", s=200,
                   zorder=3, label="majority class" if i == 0 else None)
    ax.set_xticks(pos, names, rotation=25, ha="right", fontsize="small")
    ax.set_ylabel("speaker-ID accuracy (%)")
    ax.set_ylim(0, 102)
    ax.set_title("how much speaker identity the frozen representation still carries")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Text written from the numbers of a run
# ---------------------------------------------------------------------------------------------
def paper_gain(layers: int, gamma: float) -> dict[str, float] | None:
    """The paper's accuracy difference (AL at ``gamma`` minus without AL, points) at ``layers`` CNN
    layers, per corpus (``{"Emo-DB": .., "RAVDESS": ..}``); None when the paper has no such row."""
    out = {}
    for corpus_name, label in (("emodb", "Emo-DB"), ("ravdess", "RAVDESS")):
        vals = TABLES[f"table1_{corpus_name}"].values
        a, b = vals.get(table1_row(layers, gamma)), vals.get(table1_row(layers, None))
        if a is None or b is None:
            return None
        out[label] = a - b
    return out


def al_gains(res: Results) -> list[dict[str, Any]]:
    """Per (depth, gamma) of the 2D CNN biGRU trained with and without AL: ``layers``, ``gamma``,
    the mean test accuracy with AL (``al``) and without (``base``, %), and the paper's
    difference at that depth (:func:`paper_gain`, ``paper``)."""
    s = res.scores[res.scores["encoder"] == "cnn_bigru"]
    out = []
    for layers in sorted(s["layers"].dropna().unique()):
        row = s[s["layers"] == layers]
        base = row[row["gamma"].isna()]["accuracy"].mean()
        if not np.isfinite(base):
            continue
        for g in sorted(row["gamma"].dropna().unique()):
            out.append({"layers": int(layers), "gamma": float(g), "al": 100 * row[row["gamma"] == g]["accuracy"].mean(),
                        "base": 100 * base, "paper": paper_gain(int(layers), float(g))})
    return out


def paper_gain_range(layers: int) -> dict[str, tuple[float, float]]:
    """The paper's smallest and largest gain of AL over no AL (points) at ``layers`` CNN layers,
    over its three settings of gamma, per corpus: ``{"Emo-DB": (low, high), "RAVDESS": ...}``."""
    out = {}
    for corpus_name, label in (("emodb", "Emo-DB"), ("ravdess", "RAVDESS")):
        vals = TABLES[f"table1_{corpus_name}"].values
        base = vals[table1_row(layers, None)]
        d = [vals[table1_row(layers, g)] - base for g in (1.25, 2.5, 3.33)]
        out[label] = (min(d), max(d))
    return out


def _comp_value(comp: pd.DataFrame, contains: str, exclude: str | None = None,
                by: str = "accuracy (%)") -> tuple[str, float] | None:
    """The row of ``comp`` whose name holds ``contains`` (and not ``exclude``) with the highest
    ``by``, and its test accuracy."""
    rows = [r for r in comp.index if contains in r and (exclude is None or exclude not in r)]
    if not rows:
        return None
    best = max(rows, key=lambda r: comp.loc[r, by])
    return best, float(comp.loc[best, "accuracy (%)"])


def yardstick_comparison(comp: pd.DataFrame) -> dict[str, Any] | None:
    """The adversarial models against the yardstick, from ``comp`` (:func:`comparison`), as
    numbers and :func:`serlib.claims.compare` labels for the chapter to write up; None when the
    run has no adversarial model or no plain yardstick to compare.

    The adversarial model it puts forward is the one with the best **validation** score (the
    ``validation ... (%)`` column), as every other choice of the chapter is made; its test
    accuracy is then compared with the yardstick's. Choosing it on test accuracy would report
    the luckiest of the encoders on the very speakers it is scored on.

    Keys: ``validation`` (the column's name without its unit), ``chosen`` (row name),
    ``chosen_validation`` and ``chosen_accuracy`` (%), ``plain`` (the plain yardstick's test
    accuracy), ``chosen_vs_plain`` (``"ahead"``, ``"behind"`` or ``"tie"``), ``adaptive`` and
    ``adaptive_vs_chosen`` (None without the speaker-adaptive yardstick), ``without_al`` (the
    2D CNN biGRU without AL, depth chosen on validation; None when not run).

    Raises
    ------
    ValueError
        ``comp`` has no validation column (a table not made by :func:`comparison`).
    """
    val = [c for c in comp.columns if str(c).startswith("validation ")]
    if len(val) != 1:
        raise ValueError(f"yardstick_comparison needs the comparison table's one validation column (validation "
                         f"accuracy or UAR, made by leow.comparison); this table has columns {list(comp.columns)}")
    al = _comp_value(comp, "+ AL", by=val[0])
    plain = _comp_value(comp, "RBF-SVM", exclude="adaptive")
    adapt = _comp_value(comp, "adaptive")
    noal = _comp_value(comp, "without AL")
    if al is None or plain is None:
        return None
    return {
        "validation": val[0].removesuffix(" (%)"), "chosen": al[0], "chosen_validation": float(comp.loc[al[0], val[0]]),
        "chosen_accuracy": al[1], "plain": plain[1], "chosen_vs_plain": compare(al[1], plain[1]),
        "adaptive": None if adapt is None else adapt[1],
        "adaptive_vs_chosen": None if adapt is None else compare(adapt[1], al[1]),
        "without_al": None if noal is None else noal[1],
    }


def probe_summary(res: Results) -> dict[str, Any]:
    """How the speaker probe's accuracy changes with AL, per depth of the 2D CNN biGRU, as
    numbers for the chapter to write up (accuracies in %).

    Keys: ``pairs`` (one dict per (speakers, layers, gamma) with ``without_al``, ``with_al`` and
    ``difference``), ``adversary`` (the speaker classifier inside the AL networks at its last
    epoch, on its training batches, averaged over the AL runs; None without AL runs) with
    ``chance`` (one over the training speakers of the first fold), and ``inputs`` (the probe on
    the time-averaged inputs, unseen speakers, by input name). Empty lists and None when the run
    has no 2D CNN biGRU probe.
    """
    out: dict[str, Any] = {"pairs": [], "adversary": None, "chance": None, "inputs": {}}
    if res.probe.empty or "encoder" not in res.probe:
        return out
    p = res.probe[(res.probe["encoder"] == "cnn_bigru")]
    if p.empty:
        return out
    for part in ("unseen", "training"):
        q = p[p["speakers"] == part]
        for layers in sorted(q["layers"].dropna().unique()):
            r = q[q["layers"] == layers]
            base = r[r["gamma"].isna()]["accuracy"].mean()
            for g in sorted(r["gamma"].dropna().unique()):
                al = r[r["gamma"] == g]["accuracy"].mean()
                if np.isfinite(base):
                    out["pairs"].append({"speakers": part, "layers": int(layers), "gamma": float(g),
                                         "without_al": 100 * base, "with_al": 100 * al,
                                         "difference": 100 * (al - base)})
    h = res.histories[res.histories["gamma"].notna()]
    if not h.empty:
        out["adversary"] = 100 * float(h[h["epoch"] == h["epoch"].max()]["speaker_accuracy"].mean())
        out["chance"] = 100 / max(len(set(res.speakers[res.folds[0].train])), 1)
    inp = res.probe[res.probe["encoder"].str.startswith("input")]
    if not inp.empty:
        u = inp[inp["speakers"] == "unseen"].groupby("key")["accuracy"].mean()
        out["inputs"] = {k.split("/")[-1]: 100 * float(v) for k, v in u.items()}
    return out


PROBE_MARGIN = 1.0
"""Points of speaker-probe accuracy within which AL is said not to have clearly reduced it."""


def run_summary(res: Results, comp: pd.DataFrame, cfg: Config) -> dict[str, Any]:
    """The run in numbers and verdict labels, for the chapter's summary: AL against no AL,
    depth, the encoders with AL, the yardstick (:func:`yardstick_comparison`), the speaker probe
    and the training length (accuracies in %, differences in points).

    Keys: ``gains`` (per (depth, gamma) of the 2D CNN biGRU, AL minus without AL paired by fold
    and seed: ``mean``, ``std``, ``ahead`` runs, ``n`` runs and ``verdict``, the
    :func:`serlib.claims.compare` label of the mean against zero), ``paper_gains`` (the paper's
    range at one layer, :func:`paper_gain_range`), ``by_depth`` (mean accuracy per depth, with
    and without AL, when more than one depth ran) and ``shallowest_best``, ``encoders`` (the
    encoders with AL, best first, with their accuracy), ``yardstick``, ``probe`` (unseen
    speakers, every depth and gamma pooled: ``without_al``, ``with_al``, ``adversary``,
    ``difference``, the :class:`serlib.claims.Measurement` of AL minus without AL paired on
    depth, fold and seed, and ``verdict``, ``"behind"`` when AL lowered the probe by more than
    :data:`PROBE_MARGIN` and the interval of the difference stays below zero; None without
    both), ``profile`` and ``epochs`` (the epochs kept; None without kept runs).
    """
    s = res.scores
    cnn = s[s["encoder"] == "cnn_bigru"]
    gains = []
    for layers in sorted(cnn["layers"].dropna().unique()):
        r = cnn[cnn["layers"] == layers]
        base = r[r["gamma"].isna()].set_index(["fold", "seed"])["accuracy"]
        for g in sorted(r["gamma"].dropna().unique()):
            if base.empty:
                continue
            d = 100 * (r[r["gamma"] == g].set_index(["fold", "seed"])["accuracy"] - base).dropna()
            gains.append({"layers": int(layers), "gamma": float(g), "mean": float(d.mean()),
                          "std": float(d.std(ddof=0)), "ahead": int((d > 0).sum()), "n": len(d),
                          "verdict": compare(float(d.mean()), 0.0)})
    out: dict[str, Any] = {"gains": gains, "paper_gains": paper_gain_range(1), "by_depth": None,
                           "shallowest_best": None}
    if cnn["layers"].nunique() > 1:
        by_depth = 100 * cnn.groupby("layers")["accuracy"].mean()
        out["by_depth"] = {int(k): float(v) for k, v in by_depth.items()}
        best = by_depth.max()
        out["shallowest_best"] = bool(compare(by_depth.loc[by_depth.index.min()], best) == TIE)
    encs = [r for r in comp.index if r.endswith("+ AL")]
    out["encoders"] = sorted(((r.removesuffix(" + AL"), float(comp.loc[r, "accuracy (%)"])) for r in encs),
                             key=lambda x: -x[1])
    out["yardstick"] = yardstick_comparison(comp)
    out["probe"] = None
    p = res.probe
    if not p.empty:  # empty, without columns, when the probes were switched off (probe=False)
        p = p[(p["encoder"] == "cnn_bigru") & (p["speakers"] == "unseen")]
    if not p.empty and p["gamma"].isna().any() and p["gamma"].notna().any():
        base = 100 * p[p["gamma"].isna()]["accuracy"].mean()
        al = 100 * p[p["gamma"].notna()]["accuracy"].mean()
        h = res.histories[res.histories["gamma"].notna()]
        last = h.groupby(["key", "fold", "seed"], sort=False).tail(1)  # each run's last epoch (runs may stop early)
        adv = 100 * float(last["speaker_accuracy"].mean()) if not h.empty else None
        # each AL probe against the probe without AL of the same depth, fold and seed
        without = p[p["gamma"].isna()].set_index(["layers", "fold", "seed"])["accuracy"]
        with_al = p[p["gamma"].notna()].set_index(["layers", "fold", "seed"])["accuracy"]
        diff = paired_difference(with_al, without.reindex(with_al.index), scale=100, per="fold x seed runs")
        out["probe"] = {"without_al": float(base), "with_al": float(al), "adversary": adv, "difference": diff,
                        "verdict": compare(diff.mean, 0.0, margin=PROBE_MARGIN, ci=diff.interval)}
    out["profile"] = {"name": cfg.profile, "max_epochs": cfg.max_epochs, "patience": cfg.patience,
                      "seeds": list(cfg.seeds)}
    ce = chosen_epochs(res)
    out["epochs"] = None if ce.empty else {
        "first": int(ce["best_epoch"].min()), "last": int(ce["best_epoch"].max()),
        "median": float(ce["best_epoch"].median()), "runs": len(ce),
        "trained_min": int(ce["epochs_trained"].min()), "trained_max": int(ce["epochs_trained"].max()),
        "stopped_early": int(ce["stopped_early"].sum())}
    return out
